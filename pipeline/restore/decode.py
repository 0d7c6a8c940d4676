"""The restorer: candidates per token from the channel, trigram Viterbi over them, text rebuilt in place."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from pipeline.restore import kernels
from pipeline.restore.case import CaseModel
from pipeline.restore.channel import (
    MAX_BETA,
    MAX_EDITS,
    MAX_SYMBOL_TOKEN,
    UNKNOWN_BUCKET,
    EditIndex,
    ReadingIndex,
    SearchSpace,
    SubstitutionChannel,
    confidence_bucket,
    junk_count,
)
from pipeline.restore.lm import ABBR_ID, BITS, BOS_ID, EOS_ID, UNK_ID, NgramModel
from pipeline.restore.regimes import (
    CHANNEL_FREE,
    Evidence,
    Lexicon,
    Regime,
    RegimeModel,
    bare_shares,
    token_evidence,
)
from pipeline.restore.tokens import (
    CODE,
    NUM,
    PUNCT,
    SENTENCE_END,
    SEPARATORS,
    URL,
    Kind,
    apply_case,
    capitals_are_words,
    classify,
    is_caps_line,
    punct_units,
    split_edges,
    split_parts,
    word_case,
)
from pipeline.types import Restoration, RestoredToken
from pipeline.vietnamese import (
    MARKED_LETTERS,
    VIETNAMESE_ONLY,
    could_be_syllable,
    is_valid,
    normalize_text,
    skeleton,
    tone_key,
)

TOKEN_RE = re.compile(r"\S+")
LINE_BREAK_RE = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
MAX_CANDIDATES = 8
CANDIDATE_MARGIN = 10.0  # nats below the best candidate (channel + unigram) that are still searched
PRUNE_MARGIN = 8.0  # nats below a position's best bigram neighbourhood that enter the trigram search
PRUNED_CANDIDATES = 6  # and at most this many per position
# candidates of a position that the second pass (the LM's full context) reconsiders: those the first
# gives a local posterior of at least this, at most this many
RESCORE_POSTERIOR = 0.01
RESCORED_CANDIDATES = 3
LATTICE_CELLS = 20_000  # segments × padded length decoded together
MAX_SEGMENT = 2_000  # positions decoded as one sequence at most
MAX_OBSERVED_WORD = 8  # longest token worth cutting is twice this
_NO_IDS = np.zeros(0, dtype=np.int64)
_VOWEL_RE = re.compile("[aeiouyAEIOUY]")
# mostly Latin script: Latin letters (any accents) and at most a few other characters
_LATIN_RE = re.compile(r"[\x00-\x7f\u00c0-\u024f\u1e00-\u1eff\ufb00-\ufb06]*")
_CLASS_UNITS = {Kind.NUMBER: NUM, Kind.CODE: CODE, Kind.URL: URL}
_TALL_O_RE = re.compile("[B-DG-HK-NP-TVX]{1,2}O")  # a syllable's onset in capitals, then O
_CAPITALS_RE = re.compile("([A-ZĐ]+)")  # cuts a code into runs of capitals (odd pieces) and the rest
MAX_SEARCHED = 8  # longest token searched for beyond the reading index
# readings per channel that enter a token's candidates, best (channel + unigram) first: the other
# readings rank below as many others in their channel, so they could only make the cut by a tie
TOP_READINGS = 2 * MAX_CANDIDATES
HALF_LOGP = math.log(0.5)
EDITED_SKELETONS = 6  # skeletons near a broken token whose spellings are scored
EDITED_SPELLINGS = 4  # spellings per skeleton (the likeliest by unigram)
EDIT_SHARE_LOGP = math.log(0.05)  # ln of the share of letter-level edits in the channel of a broken token
# letter-level edits are tried where no rule reading (ln P(token | word) + ln share of the word) is
# likelier than this: a word read that way less than once in a thousand, among words used a thousandth
EDITS_BELOW = 2 * math.log(1e-3)
# Vietnamese-model OCR of photos and low-resolution scans misreads marks beyond its learnt readings
# (đồi for dõi: hook and tone both; tẻ for tế): a word it was unsure of (confidence below this
# bucket's upper edge) also gets the other spellings of its skeleton, scored by letter-level edits
MARK_EDITS_BUCKET = 2
# sources that never write Đ: English-model OCR (its character set lacks it: HĐND is read HDND, QĐ-TTg
# QD-TTg) and text typed without marks; their capitals D may each be Đ
NO_STROKED_D = frozenset({Regime.ENGLISH, Regime.PLAIN})
MAX_STROKED_D = 3  # D's in one abbreviation whose Đ readings are tried (2**n spellings)
# OCR'd text, whose case the OCR kept, where it weighs a word's readings (a capitalised Vo in
# mid-sentence is Võ, not vào); not text typed without marks, where every spelling of a name's
# skeleton is as likely and the LM, which knows the names in their contexts, must choose among them
CASE_EVIDENT = frozenset({Regime.ENGLISH, Regime.VIETNAMESE})


def _consonants_only(core: str) -> bool:
    """Letters without a vowel (ng, tr): a piece of a word, never a Vietnamese word itself."""
    return core.isalpha() and not _VOWEL_RE.search(skeleton(core))


@dataclass
class DecoderSettings:
    # λ in score = LM + λ·channel, per regime: above 1 where the text is mostly right already, so
    # that the LM must be sure before it changes a word
    channel_weights: dict[Regime, float] = field(
        default_factory=lambda: {Regime.PLAIN: 1.0, Regime.ENGLISH: 1.0, Regime.VIETNAMESE: 4.0}
    )
    # with an OCR confidence the channel already knows how sure the reading is (its confidence
    # buckets), so less extra caution is needed
    channel_weight_with_confidence: float = 1.5
    unk_syllable_logp: float = math.log(1 / 20_000)  # a valid syllable the vocabulary lacks
    # each regime reads tokens through a mixture of channels (weights sum to 1): plain text may hold
    # a few OCR-like garblings, English OCR keeps many words intact
    # candidates kept per token: text typed without marks reads every spelling of a skeleton as
    # likely (doi: đối, đời, đội, đôi, dõi…), so only the LM can choose, among more of them
    candidates: dict[Regime, int] = field(default_factory=lambda: {Regime.PLAIN: 12})
    # a word Vietnamese-model OCR was unsure of keeps more: its respellings (see MARK_EDITS_BUCKET)
    # rank low on the channel alone (theo đồi: dõi is its tenth reading), and only the LM can tell
    unsure_candidates: int = 10
    # weight of what a word's case says (`tokens.word_case`, the case model): below 1, as the corpus
    # (laws, an encyclopedia) capitalises more words than dispatches do and OCR misreads some capitals
    case_weight: float = 0.5
    mixtures: dict[Regime, tuple[tuple[Regime, float], ...]] = field(
        default_factory=lambda: {
            Regime.PLAIN: ((Regime.PLAIN, 0.97), (Regime.ENGLISH, 0.03)),
            Regime.ENGLISH: ((Regime.ENGLISH, 0.85), (Regime.PLAIN, 0.15)),
            Regime.VIETNAMESE: ((Regime.VIETNAMESE, 1.0),),
        }
    )


@dataclass
class Candidates:
    ids: np.ndarray  # int64 LM ids
    emit: np.ndarray  # float32 λ·channel score
    words: tuple[str | None, ...]  # lowercase output per candidate; None keeps the original text
    best: float = -math.inf  # best channel + unigram score (weight 1) of a known word
    best_syllable: float = -math.inf  # the same among syllables only


@dataclass
class _Source:
    """One channel of a token's mixture (see `Restorer._mixture_of`): its readings of the token."""

    channel: SubstitutionChannel | None  # None: text typed without marks (every word of the skeleton)
    log_weight: float  # ln of its weight in the regime's mixture
    ids: list[int]  # LM ids of the words it reads the token as
    logp: list[float]  # ln P(token | word) of each (a channel's)
    identity: float = -math.inf  # ln weight + ln P(the token read exactly) (a channel's)
    distinct: bool = field(init=False)  # whether no word is read twice

    def __post_init__(self) -> None:
        self.distinct = len(set(self.ids)) == len(self.ids)


@dataclass
class _Mixture:
    """What a token's candidates are made of whatever its OCR confidence: the word as written (see
    `Restorer._written_of`), whether it may stay broken and is a foreign name (decided by its case),
    and each channel's readings; `by_bucket`: the candidates made of it per confidence bucket."""

    lower: str
    written_id: int
    spelling: float
    known: bool
    broken: bool
    may_stay: bool
    foreign: bool
    sources: list[_Source]
    by_bucket: dict[int, Candidates] = field(default_factory=dict)


@dataclass
class _Part:
    text: str  # the original part (for case and identity)
    candidates: Candidates
    choice: int = 0
    confidence: float = 1.0


class Merge(StrEnum):
    """A plan entry (see `Restorer._plan_tokens`): the OCR split one word in two."""

    WITH_NEXT = "with next"  # this token and the next are read as one word


Plan = dict[int, "int | Merge"]  # token index → cut position, or a merge with the next token


@dataclass
class _Analysis:
    """What `Restorer._analyse` found in a text: per token its span, raw text, (lead, core, trail),
    confidence bucket, line, line breaks before it, kind and regime; per line whether it is capitals."""

    text: str
    spans: list[tuple[int, int]]
    raw: list[str]
    edges: list[tuple[str, str, str]]
    buckets: list[int]
    line_of: list[int]
    breaks_before: list[int]
    caps_by_line: list[bool]
    kinds: list[Kind]
    regimes: list[Regime]


@dataclass
class _Segment:
    """A run of LM positions decoded together, from <s> <s> to </s>."""

    positions: list[_Part | int] = field(default_factory=list)  # a part to decide, or a fixed unit id


class Restorer:
    """Holds the models and per-process caches; `restore` is the whole stage."""

    def __init__(
        self,
        lm: NgramModel,
        channels: dict[Regime, SubstitutionChannel],
        readings: dict[Regime, ReadingIndex] | None = None,
        regimes: RegimeModel | None = None,
        settings: DecoderSettings | None = None,
        case: CaseModel | None = None,
    ) -> None:
        self.lm = lm
        self.channels = channels
        self.readings = readings or {}
        self.regimes = regimes  # None without channels: every line is plain text
        self.settings = settings or DecoderSettings()
        words = lm.words
        self.syllable_ids = np.flatnonzero(lm.is_syllable)
        self.key_to_id = {tone_key(words[i]): int(i) for i in self.syllable_ids}
        self.search_space = SearchSpace(words[i] for i in self.syllable_ids)
        by_skeleton: dict[str, list[int]] = {}
        for i, word in enumerate(words):
            # syllables, and lowercase non-syllable words such as the list marker "đ"
            if lm.is_syllable[i] or (word.isalpha() and word.islower()):
                by_skeleton.setdefault(skeleton(word), []).append(i)
        uni = lm.freq_logp  # how often each word is used: the candidates are ranked by it
        self.by_skeleton = {
            k: sorted(v, key=lambda i: -uni[i])[: 4 * MAX_CANDIDATES] for k, v in by_skeleton.items()
        }
        self.edit_index = EditIndex(k for k, ids in self.by_skeleton.items() if lm.is_syllable[ids[0]])
        self._skeleton_unigram = {k: float(uni[v[0]]) for k, v in self.by_skeleton.items()}
        self._unigram: list[float] = uni.tolist()
        # per LM id, case_weight · ln P(lowercase | word) and · ln P(capitalised | word) (indexed by
        # `tokens.word_case`), for the words whose place in the sentence does not decide their case
        self._case_logp: tuple[np.ndarray, np.ndarray] | None = None
        if case is not None:
            capitalised, lowercase = case.logp(words)
            weight = np.float32(self.settings.case_weight)
            self._case_logp = (
                np.array(lowercase, dtype=np.float32) * weight,
                np.array(capitalised, dtype=np.float32) * weight,
            )
        self._is_syllable: list[bool] = lm.is_syllable.tolist()
        # reading-index syllables → LM ids, rows ranked for the candidate search
        self._ranked = {
            regime: _RankedReadings(
                index,
                np.array([self.key_to_id.get(tone_key(w), UNK_ID) for w in index.syllables], dtype=np.int64),
                uni,
            )
            for regime, index in self.readings.items()
        }
        english = self._ranked.get(Regime.ENGLISH)
        self.lexicon = Lexicon(bare_shares(words, lm.is_syllable, uni), english if english is not None else frozenset())
        could_be_syllable("xx")  # builds the inventory tables now rather than on the first text
        self._cache: dict[tuple[Regime, str, int, bool], Candidates] = {}
        self._cased_cache: dict[tuple[Regime, str, int, bool, bool], Candidates] = {}
        self._symbol_cache: dict[tuple[Regime, str, int], Candidates] = {}
        self._readings_cache: dict[tuple[Regime, str, int, bool], tuple[list[int], list[float]]] = {}
        self._mixture_cache: dict[tuple[Regime, str, bool, bool, bool], _Mixture] = {}
        self._edited_cache: dict[tuple[int, str], list[tuple[int, float]]] = {}
        self._evidence_cache: dict[str, tuple[Evidence, ...]] = {}
        self._respelled_cache: dict[tuple[int, str], list[tuple[int, float]]] = {}
        self._stroked_cache: dict[tuple[str, bool], str] = {}
        self._written_cache: dict[str, tuple[int, float, bool, bool]] = {}
        self._identity_cache: dict[tuple[int, str], float] = {}
        self.fixed_ids = {NUM: lm.id_of(NUM), CODE: lm.id_of(CODE), URL: lm.id_of(URL)}

    # ------------------------------------------------------------------ candidates

    def _as_written(self, lower: str) -> tuple[int, float, bool]:
        """LM id of a word kept as written, the spelling score the LM lacks for it, and whether the
        vocabulary holds it (a known syllable, whatever its tone placement, or a known other word)."""
        return self._written_of(lower)[:3]

    def _written_of(self, lower: str) -> tuple[int, float, bool, bool]:
        """`_as_written`, and whether the word is broken (neither known nor a valid syllable): memoised
        per word, for the candidates of every regime, confidence bucket and case of it."""
        found = self._written_cache.get(lower)
        if found is None:
            written_id, spelling, known = self._look_up_written(lower)
            found = self._written_cache[lower] = (written_id, spelling, known, not known and not is_valid(lower))
        return found

    def _look_up_written(self, lower: str) -> tuple[int, float, bool]:
        if is_valid(lower):
            unit_id = self.key_to_id.get(tone_key(lower))
            if unit_id is not None:
                return unit_id, 0.0, True
            return UNK_ID, self.settings.unk_syllable_logp, False
        unit_id = self.lm.index.get(lower, UNK_ID)
        if unit_id != UNK_ID and not self.lm.is_syllable[unit_id]:
            return unit_id, 0.0, True
        return UNK_ID, self.lm.spelling.logp(lower), False

    def clear_cache(self) -> None:
        """Forget the memoised candidates (benchmarks time cold passes)."""
        self._cache.clear()
        self._cased_cache.clear()
        self._symbol_cache.clear()
        self._readings_cache.clear()
        self._mixture_cache.clear()
        self._edited_cache.clear()
        self._evidence_cache.clear()
        self._respelled_cache.clear()
        self._stroked_cache.clear()
        self._written_cache.clear()
        self._identity_cache.clear()

    def candidates(
        self, regime: Regime, text: str, bucket: int, search: bool = True, case: bool | None = None
    ) -> Candidates:
        """Candidate words for one token read with OCR confidence `bucket` (see `confidence_bucket`),
        memoised; `search`: may look beyond the reading index; `case`: what the token's case says
        (`tokens.word_case`: True capitalised, False lowercase, None nothing; counted in OCR'd text)."""
        key = (regime, text, bucket, search)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._make_candidates(regime, text, bucket, search)
            if len(self._cache) > 200_000:
                self.clear_cache()
        if case is None or self._case_logp is None or regime not in CASE_EVIDENT:
            return found
        # the same candidates, each also scored by ln P(the token's case | it): one array addition
        cased_key = (regime, text, bucket, search, case)
        cased = self._cased_cache.get(cased_key)
        if cased is None:
            emit = found.emit + self._case_logp[case][found.ids]
            cased = self._cased_cache[cased_key] = Candidates(found.ids, emit, found.words, found.best, found.best_syllable)
        return cased

    def _make_candidates(self, regime: Regime, text: str, bucket: int, search: bool) -> Candidates:
        """Candidates of one token under the regime's mixture of channels: ln Σ weight·P(text | word)
        (the token's mixture is made once for every bucket and case that reads alike)."""
        mixture = self._mixture_of(regime, text, search)
        found = mixture.by_bucket.get(bucket)
        if found is None:
            found = mixture.by_bucket[bucket] = self._mix(regime, mixture, bucket, search)
        return found

    def _mixture_of(self, regime: Regime, text: str, search: bool) -> _Mixture:
        """What the candidates of a token are made of whatever its confidence bucket, memoised per
        regime, word, search and what its case decides (whether it may stay broken, is a foreign name)."""
        lower = normalize_text(text).lower()
        broken = self._written_of(lower)[3]  # hge, thyfc, ngiy
        may_stay = broken and self._may_stay_broken(regime, text, lower)
        # in well-read text, a capitalised word of plain letters that is no syllable is a foreign name
        # (Penh, Mach, Lev), kept as written: Vietnamese OCR does not misread a Vietnamese word into one
        foreign = broken and regime is Regime.VIETNAMESE and _foreign_name(text)
        key = (regime, lower, search, may_stay, foreign)
        found = self._mixture_cache.get(key)
        if found is None:
            found = self._mixture_cache[key] = self._make_mixture(regime, lower, search, may_stay, foreign)
        return found

    def _make_mixture(self, regime: Regime, lower: str, search: bool, may_stay: bool, foreign: bool) -> _Mixture:
        """Each channel of the regime's mixture with its readings of `lower` (none for a foreign name)."""
        written_id, spelling, known, broken = self._written_of(lower)
        marked = any(c in MARKED_LETTERS for c in lower)
        sources: list[_Source] = []
        for source, weight in () if foreign else self.settings.mixtures[regime]:
            log_weight = math.log(weight)
            channel = self.channels.get(source)
            if source is Regime.PLAIN or channel is None:
                # typed without marks: every word with this skeleton is as likely; marked words stay
                ids = [] if marked else _leading(self.by_skeleton.get(skeleton(lower), []), written_id)
                sources.append(_Source(None, log_weight, ids, []))
                continue
            # only the regime's main channel searches beyond its precomputed readings (slow)
            ids, logp = self._readings(source, channel, lower, written_id, search=search and weight >= 0.5)
            sources.append(_Source(channel, log_weight, ids, logp, log_weight + self._identity_of(channel, lower)))
        return _Mixture(lower, written_id, spelling, known, broken, may_stay, foreign, sources)

    def _mix(self, regime: Regime, mixture: _Mixture, bucket: int, search: bool) -> Candidates:
        """The candidates of a token's mixture read with OCR confidence `bucket`."""
        lower, written_id, known, broken = mixture.lower, mixture.written_id, mixture.known, mixture.broken
        # a broken syllable of Vietnamese is read through letter-level edits too; a word that may be
        # foreign (a name, a term, a code such as A62) is not
        edits = broken and search and not mixture.may_stay
        respell = search and known and regime is Regime.VIETNAMESE and bucket <= MARK_EDITS_BUCKET
        combined: dict[int, float] = {}
        freq = self._unigram
        identity = 0.0 if mixture.foreign else -math.inf
        for source in mixture.sources:
            log_weight = source.log_weight
            channel = source.channel
            if channel is None:
                for unit_id in source.ids:
                    held = combined.get(unit_id)
                    combined[unit_id] = log_weight if held is None else _logaddexp(held, log_weight)
                identity = _logaddexp(identity, log_weight)
                continue
            keep, misread = channel.keep_adjust.get(bucket, (0.0, 0.0))
            as_kept, as_misread = log_weight + keep, log_weight + misread
            kept = written_id if known else -1  # (no unit id)
            if not combined and source.distinct:
                # the first readings of distinct words: each its score as it is (as below)
                combined = {
                    unit_id: score + (as_kept if unit_id == kept else as_misread)
                    for unit_id, score in zip(source.ids, source.logp, strict=True)
                }
            else:
                for unit_id, score in zip(source.ids, source.logp, strict=True):
                    score += as_kept if unit_id == kept else as_misread
                    held = combined.get(unit_id)
                    # a first reading of a word is its score as it is (what _logaddexp with −inf gives)
                    combined[unit_id] = score if held is None else _logaddexp(held, score)
            if edits and max((sc + freq[u] for u, sc in combined.items()), default=-math.inf) < EDITS_BELOW:
                # letter-level edits, a small share of the channel, reach the words the rules do not
                # (where the rules read the token as a common word, the edits' share would not count)
                for unit_id, score in self._edited_of(channel, lower):
                    score += as_misread + EDIT_SHARE_LOGP
                    held = combined.get(unit_id)
                    combined[unit_id] = score if held is None else _logaddexp(held, score)
            if respell:
                for unit_id, score in self._respelled_of(channel, lower, written_id):
                    if unit_id not in combined:
                        combined[unit_id] = score + log_weight + misread
            identity = _logaddexp(identity, source.identity + keep)
        # the word as written is a candidate, unless it is a broken syllable of Vietnamese
        stays = not combined or not broken or mixture.may_stay
        if stays and (not known or written_id not in combined):
            combined[written_id] = max(combined.get(written_id, -math.inf), identity)
        lam = self.settings.channel_weights[regime]
        if bucket < UNKNOWN_BUCKET:
            lam = min(lam, self.settings.channel_weight_with_confidence)
        uni = self._unigram
        spelling = mixture.spelling
        # ranked and cut by channel + unigram at weight 1: the weight is for the search, not for
        # deciding which readings deserve one; the spelling of a word outside the vocabulary is part
        # of its LM score, not of the channel (adding 0.0 to the others would change no score)
        ranked = [
            (s + uni[u] + spelling, u, lam * s + spelling) if u == written_id else (s + uni[u], u, lam * s)
            for u, s in combined.items()
        ]
        ranked.sort(reverse=True)
        floor = ranked[0][0] - CANDIDATE_MARGIN
        limit = self.settings.unsure_candidates if respell else self.settings.candidates.get(regime, MAX_CANDIDATES)
        ranked = [e for e in ranked[:limit] if e[0] >= floor]
        words = self.lm.words
        syllable = self._is_syllable
        return Candidates(
            np.array([u for _, u, _ in ranked], dtype=np.int64),
            np.array([s for _, _, s in ranked], dtype=np.float32),
            tuple(None if u == written_id else words[u] for _, u, _ in ranked),
            best=ranked[0][0],
            # (ranked best first: the first syllable's)
            best_syllable=next((t for t, u, _ in ranked if syllable[u]), -math.inf),
        )

    def _identity_of(self, channel: SubstitutionChannel, lower: str) -> float:
        """`SubstitutionChannel.identity_logp`, memoised per channel and word."""
        key = (id(channel), lower)
        found = self._identity_cache.get(key)
        if found is None:
            found = self._identity_cache[key] = channel.identity_logp(lower)
        return found

    def _edited_of(self, channel: SubstitutionChannel, lower: str) -> list[tuple[int, float]]:
        """`_edited`, memoised per channel and token."""
        key = (id(channel), lower)
        found = self._edited_cache.get(key)
        if found is None:
            found = self._edited_cache[key] = self._edited(channel, lower)
        return found

    def _respelled_of(self, channel: SubstitutionChannel, lower: str, written_id: int) -> list[tuple[int, float]]:
        """The other spellings of a word's skeleton (other marks and tones, d for đ) with ln P(lower |
        spelling) by letter-level edits, memoised per channel and word."""
        key = (id(channel), lower)
        found = self._respelled_cache.get(key)
        if found is None:
            words = self.lm.words
            found = self._respelled_cache[key] = [
                (unit_id, channel.edit_logp(lower, words[unit_id]))
                for unit_id in self.by_skeleton.get(skeleton(lower), ())
                if unit_id != written_id
            ]
        return found

    def _edited(self, channel: SubstitutionChannel, lower: str) -> list[tuple[int, float]]:
        """LM ids and ln P(lower | word) by letter-level edits (`SubstitutionChannel.edit_logp`) of the
        words whose skeletons are at most MAX_EDITS edits from the token's (one for two letters or
        fewer): the likeliest skeletons first, then their likeliest spellings."""
        if len(lower) > MAX_SEARCHED + MAX_EDITS:
            return []
        near = self.edit_index.near(skeleton(lower), 1 if len(lower) <= 2 else MAX_EDITS)
        if not near:
            return []
        # the nearest skeletons, the more frequent first among equally near ones
        best = self._skeleton_unigram
        ranked = sorted(near, key=lambda k: (near[k], -best[k]))[:EDITED_SKELETONS]
        words = self.lm.words
        found = [
            (unit_id, channel.edit_logp(lower, words[unit_id]))
            for key in ranked
            for unit_id in self.by_skeleton[key][:EDITED_SPELLINGS]
        ]
        uni = self._unigram
        found.sort(key=lambda e: -(e[1] + uni[e[0]]))
        return found[:TOP_READINGS]

    def _is_broken(self, text: str) -> bool:
        """Neither a syllable nor a word the vocabulary holds (hge, thyfc, hànhbộ)."""
        lower = normalize_text(text).lower()
        return self._written_of(lower)[3]

    @staticmethod
    def _may_stay_broken(regime: Regime, text: str, lower: str) -> bool:
        """Whether a token that is no syllable may be kept as written: a capitalised word in text typed
        without marks (a foreign name), a word of plain or Latin-1 letters in well-read text (a foreign
        word); never in English-model OCR, never with a letter only Vietnamese writes (ư, ạ, đ…)."""
        if regime is Regime.ENGLISH or any(c in VIETNAMESE_ONLY for c in lower):
            return False
        if regime is Regime.PLAIN:
            return text[:1].isupper()
        return True

    def _readings(
        self, regime: Regime, channel: SubstitutionChannel, lower: str, written_id: int, search: bool = True
    ) -> tuple[list[int], list[float]]:
        """LM ids and ln P(lower | syllable) of the likeliest syllables the channel reads as `lower`
        (with `written_id` whenever it is one): from the precomputed reading index, or by searching
        backwards for readings it does not hold."""
        key = (regime, lower, written_id, search)
        found = self._readings_cache.get(key)
        if found is None:
            # the same readings serve every confidence bucket and case of a token (`candidates` is
            # memoised per bucket and text): looked up once
            found = self._readings_cache[key] = self._find_readings(regime, channel, lower, written_id, search)
        return found

    def _find_readings(
        self, regime: Regime, channel: SubstitutionChannel, lower: str, written_id: int, search: bool
    ) -> tuple[list[int], list[float]]:
        ranked = self._ranked.get(regime)
        if ranked is not None:
            found = ranked.top(lower, TOP_READINGS, written_id)
            if found is not None:
                return found
        junk = junk_count(lower)
        if (
            not search
            or written_id != UNK_ID  # a word of the vocabulary as written: its usual readings suffice
            or junk > 2
            or junk == 0
            or regime is Regime.VIETNAMESE
            or len(lower) > MAX_SEARCHED
            or not _LATIN_RE.fullmatch(lower)
        ):
            # the main channel searches for readings its index lacks in short Latin-script tokens
            # with at most two symbols; letters alone are searched only in English-model OCR, which
            # garbles letters (sdéch): in well-read text they are names and foreign words. What a
            # Vietnamese model misreads its index already holds; its stray symbols are noise
            return [], []
        searched = channel.search(lower, self.search_space)
        key_to_id = self.key_to_id
        return [key_to_id[tone_key(w)] for w, _ in searched], [lp for _, lp in searched]

    # ------------------------------------------------------------------ regime

    def line_regimes(
        self, cores: Sequence[str], kinds: Sequence[Kind], line_of: Sequence[int]
    ) -> list[Regime]:
        """The regime of every line (index: line number) from the evidence of its word tokens."""
        lines = line_of[-1] + 1 if line_of else 0
        if self.regimes is None:
            return [Regime.PLAIN] * lines
        classes = len(Evidence)
        flat = [0] * (lines * classes)
        lexicon = self.lexicon
        memo = self._evidence_cache  # a word's evidence is its own: looked up once per word
        for core, kind, line in zip(cores, kinds, line_of, strict=True):
            if kind is Kind.WORD:
                found = memo.get(core)
                if found is None:
                    found = memo[core] = tuple(token_evidence(core, lexicon))
                for evidence in found:
                    flat[line * classes + evidence] += 1
        counts = np.array(flat, dtype=np.float64).reshape(lines, classes)
        return self.regimes.line_regimes(counts, (*CHANNEL_FREE, *self.channels))

    # ------------------------------------------------------------------ decoding

    def restore(self, text: str, confidences: Sequence[float | None] | None = None) -> Restoration:
        """The whole stage: analysis (tokens, lines, kinds, regimes), the plan of split and merged
        tokens, segmentation into LM positions, decoding, and the text rebuilt in place."""
        text = _replace_surrogates(text)
        analysis = self._analyse(text, confidences)
        if analysis is None:
            return Restoration(unicodedata.normalize("NFC", text), ())
        self._absorb_edge_glyphs(analysis)
        self._reclassify(analysis)
        plan = self._plan_tokens(analysis)
        segments, token_parts = self._segment(analysis, plan)
        self._decode(segments)
        return _render(analysis, plan, token_parts)

    def _analyse(self, text: str, confidences: Sequence[float | None] | None) -> _Analysis | None:
        """Tokens with their punctuation, lines, capitals, kinds and regimes; None for blank text."""
        spans = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
        if not spans:
            return None
        count = len(spans)
        buckets = [confidence_bucket(c) for c in list(confidences or ())[:count]]
        buckets += [UNKNOWN_BUCKET] * (count - len(buckets))
        raw = [text[s:e] for s, e in spans]
        # control characters inside a word are dropped; a token made only of them stays as it is
        edges = [split_edges(t if t.isprintable() else (_drop_controls(t) or t)) for t in raw]
        cores = [core for _, core, _ in edges]
        line_of, breaks_before = _line_layout(text, spans)
        caps_words = [False] * count
        caps_by_line = [False] * (line_of[-1] + 1)
        first = 0
        for index in range(1, count + 1):
            if index < count and line_of[index] == line_of[first]:
                continue
            members = cores[first:index]
            if any(c.isupper() for c in members):  # else no capitals at all on the line
                caps_by_line[line_of[first]] = is_caps_line(members)
                caps_words[first:index] = capitals_are_words(members)
            first = index
        kinds = [classify(core, caps_words[i]) for i, core in enumerate(cores)]
        line_regimes = self.line_regimes(cores, kinds, line_of)
        return _Analysis(
            text=text,
            spans=spans,
            raw=raw,
            edges=edges,
            buckets=buckets,
            line_of=line_of,
            breaks_before=breaks_before,
            caps_by_line=caps_by_line,
            kinds=kinds,
            regimes=[line_regimes[line] for line in line_of],
        )

    def _may_be_misread_word(self, analysis: _Analysis, index: int) -> bool:
        """A token of one or two digits or symbols in English-model OCR, which reads them for short
        words (16 for lồ, @ for ở) as its channel learnt."""
        core = analysis.edges[index][1]
        channel = self.channels.get(analysis.regimes[index])
        return (
            channel is not None
            and analysis.regimes[index] is Regime.ENGLISH
            and math.isfinite(channel.symbol_word_logp)
            and 0 < len(core) <= MAX_SYMBOL_TOKEN
            and not any(c.isalpha() or c in SEPARATORS for c in core)
        )

    def _symbol_candidates(self, regime: Regime, core: str, bucket: int, kept: int) -> Candidates:
        """Candidates of a digit or symbol token that may be a misread word: itself (the LM unit `kept`)
        or the words the channel reads that way, each weighed with how often such tokens were words."""
        key = (regime, core, bucket)
        found = self._symbol_cache.get(key)
        if found is not None:
            return found
        channel = self.channels[regime]
        word_share = channel.symbol_word_logp
        keep, misread = channel.keep_adjust.get(bucket, (0.0, 0.0))
        ids, logp = self._readings(regime, channel, core, UNK_ID, search=False)
        scores = {unit_id: lp + word_share + misread for unit_id, lp in zip(ids, logp, strict=True)}
        scores.pop(kept, None)
        lam = self.settings.channel_weights[regime]
        uni = self._unigram
        ranked = sorted(scores.items(), key=lambda e: -(e[1] + uni[e[0]]))[: MAX_CANDIDATES - 1]
        stays = math.log1p(-math.exp(word_share)) + channel.identity_logp(core) + keep
        words = self.lm.words
        found = self._symbol_cache[key] = Candidates(
            np.array([kept] + [u for u, _ in ranked], dtype=np.int64),
            np.array([lam * stays] + [lam * sc for _, sc in ranked], dtype=np.float32),
            (None, *(words[u] for u, _ in ranked)),
        )
        return found

    def _absorb_edge_glyphs(self, analysis: _Analysis) -> None:
        """Edge characters an OCR channel reads for part of a letter (tu’ for tư, ct? for cứ) join the
        word's core when the word then reads better, weighed with how often each such character was
        part of a word rather than punctuation in the channel's training pairs."""
        for index, (lead, core, trail) in enumerate(analysis.edges):
            channel = self.channels.get(analysis.regimes[index])
            if channel is None or not trail or analysis.kinds[index] is not Kind.WORD:
                continue
            glyphs = channel.edge_glyphs
            width = 0
            # only characters the OCR reads more often for part of a letter than as punctuation
            while width < min(len(trail), MAX_BETA - 1) and glyphs.get(trail[width], -math.inf) > HALF_LOGP:
                width += 1
            if not width or any(c in SEPARATORS for c in core):
                continue
            regime, bucket = analysis.regimes[index], analysis.buckets[index]
            part = trail[:width]
            whole = core + part
            as_glyphs = sum(glyphs[c] for c in part)
            # as punctuation, each character is also one more LM unit (its unigram as a guess)
            as_punctuation = sum(
                math.log1p(-math.exp(glyphs[c])) + float(self.lm.uni_logp[self.lm.id_of(unit)])
                for c in part
                for unit in punct_units(c)
            )
            with_glyphs = self.candidates(regime, whole, bucket, search=False).best + as_glyphs
            without = self.candidates(regime, core, bucket, search=False).best + as_punctuation
            if with_glyphs > without:
                analysis.edges[index] = (lead, whole, trail[width:])

    def _reclassify(self, analysis: _Analysis) -> None:
        """Words the token classes take for abbreviations, once the regimes are known: English-model OCR
        reads a lowercase o under a mark (ộ, õ, ồ) as a capital O, the mark making it as tall as one: a
        capitalised word of one syllable (Bộ, Võ, Sở) comes out in capitals (BO, VO, SO), taken for an
        abbreviation. Such a token, where the LM knows no abbreviation spelt so, is read as the
        capitalised word (its capitals on a line of capitals are words already). (Capitals joined by
        `&`, GD&ĐT, are abbreviations by `tokens.classify`.)"""
        index = self.lm.index
        for position, (lead, core, trail) in enumerate(analysis.edges):
            kind = analysis.kinds[position]
            if (
                kind is Kind.ABBR
                and analysis.regimes[position] is Regime.ENGLISH
                and _TALL_O_RE.fullmatch(core)
                and core not in index
                and could_be_syllable(core.lower())
            ):
                analysis.edges[position] = (lead, core[0] + core[1:].lower(), trail)
                analysis.kinds[position] = Kind.WORD

    def _segment(self, analysis: _Analysis, plan: Plan) -> tuple[list[_Segment], list[list[_Part | str]]]:
        """LM positions in segments (a part to decide or a fixed unit id), and per token what its
        output is made of (parts to decide and text kept as it is)."""
        id_of = self.lm.id_of
        edges, kinds, regimes = analysis.edges, analysis.kinds, analysis.regimes
        breaks_before = analysis.breaks_before  # (no boundary without a line break: see `_boundary`)
        segments: list[_Segment] = [_Segment()]
        token_parts: list[list[_Part | str]] = []
        for index, (lead, core, trail) in enumerate(edges):
            if plan.get(index - 1) is Merge.WITH_NEXT:
                token_parts.append([])  # absorbed by the previous token
                continue
            if index and breaks_before[index] and self._boundary(analysis, index):
                segments.append(_Segment())
            positions = segments[-1].positions
            if lead:
                positions.extend(id_of(u) for u in punct_units(lead))
            parts: list[_Part | str] = []
            kind = kinds[index]
            if kind is Kind.WORD and regimes[index] is Regime.FOREIGN:
                # a line in another language: its words are kept, and are context for the LM
                positions.append(self._as_written(normalize_text(core).lower())[0])
                parts.append(core)
            elif kind is Kind.WORD:
                action = plan.get(index)
                if action is Merge.WITH_NEXT:
                    _, core, trail = edges[index + 1]
                    pieces = [edges[index][1] + core]
                elif isinstance(action, int):
                    pieces = [core[:action], " ", core[action:]]
                else:
                    pieces = split_parts(core) if not core.isalpha() else [core]
                # what the case of a whole word says (a piece's or a joined word's case says too little)
                case = _case_of(analysis, index) if pieces == [core] else None
                for piece in pieces:
                    if piece == " " or piece in SEPARATORS:
                        if piece != " ":
                            positions.append(id_of(piece))
                        parts.append(piece)
                        continue
                    part = _Part(piece, self.candidates(regimes[index], piece, analysis.buckets[index], case=case))
                    positions.append(part)
                    parts.append(part)
            elif kind is Kind.ABBR:
                if regimes[index] in NO_STROKED_D:
                    core = self._with_stroked_d(core, keep_known=True)
                positions.append(self.lm.index.get(core, ABBR_ID))
                parts.append(core)
            elif kind is Kind.CODE and regimes[index] in NO_STROKED_D:
                positions.append(self.fixed_ids[CODE])
                parts.append(self._with_stroked_d(core, keep_known=False))
            elif self._may_be_misread_word(analysis, index):
                kept = self.fixed_ids[NUM] if kind is Kind.NUMBER else id_of(PUNCT)
                part = _Part(core, self._symbol_candidates(regimes[index], core, analysis.buckets[index], kept))
                positions.append(part)
                parts.append(part)
            elif kind is not Kind.EMPTY:
                positions.append(self.fixed_ids[_CLASS_UNITS[kind]])
                parts.append(core)
            else:
                parts.append(core)
            if trail:
                positions.extend(id_of(u) for u in punct_units(trail))
            token_parts.append(parts)
        return segments, token_parts

    def _with_stroked_d(self, core: str, *, keep_known: bool) -> str:
        """A code or abbreviation from a source that cannot write Đ, with each run of capitals spelt as
        the LM knows it more often: with some of its D's read for Đ (HDND: HĐND, QD-TTg: QĐ-TTg) where
        that spelling is commoner than the one written (which may be unknown). `keep_known`: a run the LM
        knows as written stays (an abbreviation standing alone: a CD disc is no CĐ); inside a code the
        commoner spelling wins (45/2020/ND-CP: NĐ-CP)."""
        if "D" not in core:
            return core
        pieces = _CAPITALS_RE.split(core)
        for k in range(1, len(pieces), 2):  # the runs of capitals
            pieces[k] = self._commonest_stroking(pieces[k], keep_known)
        return "".join(pieces)

    def _commonest_stroking(self, capitals: str, keep_known: bool) -> str:
        """The spelling of a run of capitals, as written or with D's for Đ, that the LM uses most
        (memoised per run: bounded by the runs a text holds, not by the codes' numbers)."""
        key = (capitals, keep_known)
        found = self._stroked_cache.get(key)
        if found is None:
            found = self._stroked_cache[key] = self._stroke_capitals(capitals, keep_known)
        return found

    def _stroke_capitals(self, capitals: str, keep_known: bool) -> str:
        at = [k for k, c in enumerate(capitals) if c == "D"]
        if not at or len(at) > MAX_STROKED_D or (keep_known and capitals in self.lm.index):
            return capitals
        index, uni = self.lm.index, self._unigram
        best, best_logp = capitals, uni[index[capitals]] if capitals in index else -math.inf
        for mask in range(1, 1 << len(at)):
            letters = list(capitals)
            for bit, k in enumerate(at):
                if mask >> bit & 1:
                    letters[k] = "Đ"
            spelling = "".join(letters)
            if spelling in index and uni[index[spelling]] > best_logp:
                best, best_logp = spelling, uni[index[spelling]]
        return best

    @staticmethod
    def _best(candidates: Candidates) -> tuple[float, bool]:
        """Best channel + unigram score of a token's readings, and whether the best is a known word
        (rather than the token kept as an unknown one)."""
        return candidates.best, int(candidates.ids[0]) != UNK_ID

    @staticmethod
    def _best_syllable(candidates: Candidates) -> tuple[float, bool]:
        """Like `_best`, but only a syllable counts as a reading."""
        return candidates.best_syllable, candidates.best_syllable > -math.inf

    def _plan_tokens(self, analysis: _Analysis) -> Plan:
        """Tokens the OCR split or merged: a token whose best reading is poor is joined with its
        neighbour on the same line (`Merge.WITH_NEXT`) or cut in two (the cut position) when that
        reads better, weighed with how often the line's OCR channel splits and merges words."""
        regimes, edges, kinds = analysis.regimes, analysis.edges, analysis.kinds
        buckets, line_of = analysis.buckets, analysis.line_of
        scores: dict[int, tuple[float, bool]] = {}
        for i, (_, core, _) in enumerate(edges):
            regime = regimes[i]
            if (
                regime is not Regime.PLAIN
                and regime in self.channels
                and kinds[i] is Kind.WORD
                and not any(c in SEPARATORS for c in core)
            ):
                scores[i] = self._best(self.candidates(regime, core, buckets[i]))
        if not scores:
            return {}
        plan: Plan = {}
        # weak readings: no known word, no vowel at all (ng, tr: pieces of a word the OCR split), or
        # in well-read text a broken syllable (hànhbộ: two words run together)
        weak = {
            i
            for i, (_, known) in scores.items()
            if not known
            or _consonants_only(edges[i][1])
            or (regimes[i] is Regime.VIETNAMESE and self._is_broken(edges[i][1]))
        }
        free = 0  # the first token not yet joined to the one before it
        for i in sorted({k for w in weak for k in (w - 1, w)}):
            # pairs left to right, a weak token on either side; a joined token joins nothing else
            j = i + 1
            if i < free or i not in scores or j not in scores:
                continue
            if line_of[i] != line_of[j] or edges[i][2] or edges[j][0]:
                continue
            regime = regimes[i]
            channel = self.channels[regime]
            if not math.isfinite(channel.split_logp):
                continue
            joined = edges[i][1] + edges[j][1]
            if junk_count(joined):
                continue  # symbols call for a slow search: only whole tokens get one
            best, known = self._best(self.candidates(regime, joined, buckets[i], search=False))
            if regime is Regime.VIETNAMESE and (scores[i][1] or scores[j][1]):
                known = False  # a Vietnamese model splits words rarely: only two fragments are joined
            if known and best + channel.split_logp > scores[i][0] + scores[j][0]:
                plan[i] = Merge.WITH_NEXT
                free = i + 2
        merged = {k + step for k, v in plan.items() if v is Merge.WITH_NEXT for step in (0, 1)}
        for i in sorted(weak - merged):
            core = edges[i][1]
            regime = regimes[i]
            channel = self.channels[regime]
            if not 4 <= len(core) <= 2 * MAX_OBSERVED_WORD or not math.isfinite(channel.merge_logp):
                continue
            if junk_count(core):
                continue
            vietnamese_cuts = regime is Regime.VIETNAMESE
            if vietnamese_cuts and not any(c in VIETNAMESE_ONLY for c in core):
                continue  # words without Vietnamese letters in well-read text are names (Modena, Gélin)
            best_cut, best_score = 0, scores[i][0]
            for cut in range(2, len(core) - 1):
                # both halves must read as Vietnamese syllables of two letters or more
                if vietnamese_cuts and not _plausible_vietnamese_cut(core, cut):
                    continue
                left_score, left_ok = self._best_syllable(
                    self.candidates(regime, core[:cut], buckets[i], search=False)
                )
                right_score, right_ok = self._best_syllable(
                    self.candidates(regime, core[cut:], buckets[i], search=False)
                )
                if left_ok and right_ok and left_score + right_score + channel.merge_logp > best_score:
                    best_cut, best_score = cut, left_score + right_score + channel.merge_logp
            if best_cut:
                plan[i] = best_cut
        return plan

    @staticmethod
    def _boundary(analysis: _Analysis, index: int) -> bool:
        """A new LM segment starts before token `index` after a blank line, a sentence end, or around
        a capitals line."""
        breaks = analysis.breaks_before[index]
        if breaks == 0:
            return False
        if breaks >= 2:
            return True
        if analysis.raw[index - 1][-1:] in SENTENCE_END:
            return True
        line_of, caps_by_line = analysis.line_of, analysis.caps_by_line
        return caps_by_line[line_of[index]] or caps_by_line[line_of[index - 1]]

    def _decode(self, segments: list[_Segment]) -> None:
        """Decide every part: bigram pruning, then trigram Viterbi over many segments at once (grouped
        by length, so that the bigram pass of pruning, which pads them to a common length, stays cheap)."""
        # a run without sentence ends (a huge unpunctuated line) is cut into pieces of bounded size
        pieces = [
            _Segment(segment.positions[start : start + MAX_SEGMENT])
            for segment in segments
            for start in range(0, len(segment.positions), MAX_SEGMENT)
        ]
        todo = sorted(
            (s for s in pieces if any(isinstance(p, _Part) for p in s.positions)),
            key=lambda s: len(s.positions),
        )
        group: list[_Segment] = []
        for segment in todo:
            if group and (len(group) + 1) * (len(segment.positions) + 3) > LATTICE_CELLS:
                self._decode_group(group)
                group = []
            group.append(segment)
        if group:
            self._decode_group(group)

    def _decode_group(self, segments: list[_Segment]) -> None:
        """Pruning, a trigram-state Viterbi, and with a longer LM a second Viterbi with its full
        context over the candidates the first left likely. The first pass scores with the LM's
        full n-grams too, the words beyond its state taken from each candidate's greedy history: an
        n-gram model's lower orders are backoff distributions, not a shorter model."""
        order = self.lm.order
        lattice = _Lattice.build(segments, order)
        lattice.prune(self.lm, PRUNE_MARGIN, PRUNED_CANDIDATES)
        lattice.viterbi(self.lm, min(order, 3))
        if order > 3:
            lattice.keep_likely(RESCORE_POSTERIOR, RESCORED_CANDIDATES)
            lattice.history = []
            lattice.viterbi(self.lm, order)
        lattice.assign()


class _Lattice:
    """Candidates of every position of every segment in flat arrays (positions in order, each
    segment framed by <s> <s> … </s>), so that pruning and Viterbi run as whole-array operations."""

    def __init__(
        self,
        parts: list[_Part | None],
        segment: np.ndarray,
        counts: np.ndarray,
        ids: np.ndarray,
        emit: np.ndarray,
        slot: np.ndarray,
    ) -> None:
        self.parts = parts  # the _Part deciding each position, None for fixed units
        self.segment = segment  # segment number per position
        self.counts = counts  # candidates per position
        self.ids = ids  # LM id per candidate (positions' candidates contiguous)
        self.emit = emit  # channel score per candidate
        self.slot = slot  # index of each candidate within the original Candidates of its part
        self.choice = np.zeros(len(parts), dtype=np.int64)
        self.confidence = np.ones(len(parts), dtype=np.float64)
        self.posterior = np.ones(len(ids), dtype=np.float64)  # local posterior of every candidate
        self.history: list[np.ndarray] = []  # see `prune`

    @classmethod
    def build(cls, segments: list[_Segment], order: int) -> _Lattice:
        """The lattice of `segments`, each framed by the `order` − 1 <s> an n-gram of `order` needs."""
        parts: list[_Part | None] = []
        seg: list[int] = []
        id_arrays: list[np.ndarray] = []
        emit_arrays: list[np.ndarray] = []
        bos, eos = np.array([BOS_ID], np.int64), np.array([EOS_ID], np.int64)
        zero = np.zeros(1, np.float32)
        for number, segment in enumerate(segments):
            frame = [*([None] * (order - 1)), *segment.positions, None]
            for k, position in enumerate(frame):
                if isinstance(position, _Part):
                    parts.append(position)
                    id_arrays.append(position.candidates.ids)
                    emit_arrays.append(position.candidates.emit)
                else:
                    parts.append(None)
                    if position is None:
                        id_arrays.append(bos if k < order - 1 else eos)
                    else:
                        id_arrays.append(np.array([position], np.int64))
                    emit_arrays.append(zero)
                seg.append(number)
        counts = np.array([len(a) for a in id_arrays], dtype=np.int64)
        offsets = np.repeat(np.cumsum(counts) - counts, counts)
        slot = np.arange(int(counts.sum()), dtype=np.int64) - offsets
        return cls(
            parts,
            np.array(seg, np.int64),
            counts,
            np.concatenate(id_arrays),
            np.concatenate(emit_arrays),
            slot,
        )

    @property
    def offsets(self) -> np.ndarray:
        return np.cumsum(self.counts) - self.counts

    def _links(self, span: int) -> tuple[np.ndarray, np.ndarray]:
        """All candidate combinations of `span` consecutive positions of one segment, ending at each
        position: (end position per combination, global candidate index per member, a row per
        member, oldest first), built by a compiled loop (`kernels.links`)."""
        return kernels.links(self.counts, self.segment, self.offsets, span)

    def prune(self, lm: NgramModel, margin: float, limit: int) -> None:
        """Keep, per position, the candidates whose neighbourhood scores within `margin` of the
        position's best (at most `limit`): the search then has few combinations.

        A bigram Viterbi pass gives every candidate its likeliest predecessors (its history). A
        candidate's neighbourhood is then its best bigram path from the left, its n-gram of the LM's
        order through that history (nông thôn → mới, where the bigram thôn → mới alone is weak),
        and its best bigram on the right."""
        if int(self.counts.max()) <= 1:
            self.history = [np.full(len(self.ids), BOS_ID, np.int64) for _ in range(lm.order - 1)]
            return
        owner, (left, right) = self._links(2)
        bigram = lm.score((self.ids[left] << BITS) | self.ids[right], 2)
        offsets = self.offsets
        width = int(self.counts.max())
        # pair scores in a padded (position of the right one, left slot, right slot) table
        pair = np.full((len(self.counts), width, width), -np.inf)
        pair[owner, left - offsets[owner - 1], right - offsets[owner]] = bigram + self.emit[right]
        position = np.repeat(np.arange(len(self.counts)), self.counts)
        slot = np.arange(len(self.ids)) - offsets[position]
        forward, predecessor = self._bigram_paths(pair)
        predecessor_index = offsets[np.maximum(position - 1, 0)] + predecessor[position, slot]
        predecessor_index[forward[position, slot] == -np.inf] = -1
        predecessor_index[within_segment(self.segment)[position] == 0] = -1
        # the ids of every candidate's likeliest predecessors, nearest first
        self.history = []
        back = np.arange(len(self.ids))
        for _ in range(lm.order - 1):
            back = np.where(back >= 0, predecessor_index[np.maximum(back, 0)], -1)
            self.history.append(np.where(back >= 0, self.ids[np.maximum(back, 0)], BOS_ID))
        keys = self.ids.copy()
        for depth, ids in enumerate(self.history, start=1):
            keys |= ids << (depth * BITS)
        came = np.maximum(predecessor_index, 0)
        before = np.where(predecessor_index >= 0, forward[position[came], slot[came]], 0.0)
        best_left = before + lm.score(keys, lm.order)
        following = np.minimum(position + 1, len(self.counts) - 1)
        best_right = pair.max(axis=2)[following, slot]
        best_right[position + 1 >= len(self.counts)] = -np.inf
        best_left[~np.isfinite(best_left)] = 0.0
        best_right[np.isneginf(best_right)] = 0.0
        local = self.emit + best_left + best_right
        order = np.lexsort((-local, position))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - self.offsets[position[order]]
        top = np.maximum.reduceat(local, self.offsets)
        self._keep(position, (rank < limit) & (local >= top[position] - margin))

    def _bigram_paths(self, pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best bigram path score to every (position, slot) and the slot of its predecessor, all
        segments at once (`pair`: bigram + emission per (position, previous slot, slot))."""
        starts = np.flatnonzero(np.r_[True, self.segment[1:] != self.segment[:-1]])
        lengths = np.diff(np.r_[starts, len(self.counts)])
        steps, k = int(lengths.max()), pair.shape[1]
        # by (index within the segment, segment): each step reads and writes one slice
        forward = np.full((steps, len(starts), k), -np.inf)
        forward[0, :, 0] = 0.0  # <s>
        predecessor = np.zeros((steps, len(starts), k), dtype=np.intp)
        # at each step the segments from `_settled`'s count on are still going (those before past
        # their end, unless the segments are not in order of length: then every one, beyond its end
        # on pair rows unused)
        kernels.bigram_steps(forward, predecessor, pair, starts, np.array(_settled(lengths, 1), dtype=np.int64))
        within = within_segment(self.segment)
        return forward[within, self.segment], predecessor[within, self.segment]

    def _keep(self, position: np.ndarray, keep: np.ndarray) -> None:
        """Keep the candidates flagged in `keep` (`position`: each candidate's position)."""
        self.counts = np.bincount(position[keep], minlength=len(self.counts))
        # candidates keep their order within a position, so the best stays first when ties break
        self.ids, self.emit, self.slot = self.ids[keep], self.emit[keep], self.slot[keep]
        self.history = [ids[keep] for ids in self.history]

    def keep_likely(self, floor: float, limit: int) -> None:
        """Keep, per position, the chosen candidate and those whose local posterior reaches `floor`
        (at most `limit`), for a second pass with the LM's full context."""
        offsets = self.offsets
        position = np.repeat(np.arange(len(self.counts)), self.counts)
        slot = np.arange(len(self.ids)) - offsets[position]
        chosen = slot == self.choice[position]
        order = np.lexsort((-self.posterior, ~chosen, position))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - offsets[position[order]]
        self._keep(position, chosen | ((self.posterior >= floor) & (rank < limit)))

    def viterbi(self, lm: NgramModel, order: int) -> None:
        """Viterbi with n-grams of `order` over all segments together, step by step (the positions at
        one index within their segments at once), on the live states only: a state is one
        combination of the candidates of n − 1 consecutive positions, numbered in order (oldest
        candidate most significant), so that no table is padded to the widest position. Sets `choice`
        (index among each position's kept candidates) and the chosen one's local posterior
        (`confidence`). Ties break as a table padded to the longest segment and the most candidates
        would break them (the first candidate, then the first state; see `_final_states`)."""
        n = order
        owner, members = self._links(n)
        keys = np.zeros(len(owner), dtype=np.int64)
        for ids in reversed(self.history[: lm.order - n]):
            # a state shorter than the LM's context: the oldest words are the greedy history's
            keys = (keys << BITS) | ids[members[0]]
        for member in members:
            keys = (keys << BITS) | self.ids[member]
        last = members[-1]
        scores = lm.score(keys, lm.order if self.history else n) + self.emit[last]
        scores[self.ids[last] == BOS_ID] = 0.0  # the frame's <s> are given
        # float64, the type of the path scores they are added to
        link_score = scores.astype(np.float64)
        counts = self.counts
        n_pos = len(counts)
        starts = np.flatnonzero(np.r_[True, self.segment[1:] != self.segment[:-1]])
        lengths = np.diff(np.r_[starts, n_pos])
        within = np.arange(n_pos) - starts[self.segment]
        # states per position: the combinations of its n − 1 last positions' candidates, numbered
        # step by step (the positions at one index within their segments together), so that the
        # states one step decides are one slice
        states = np.ones(n_pos, dtype=np.int64)
        for behind in range(n - 1):
            states[behind:] *= counts[: n_pos - behind]
        by_step = np.argsort(within, kind="stable")
        state_start = np.empty(n_pos, dtype=np.int64)
        state_start[by_step] = np.cumsum(states[by_step]) - states[by_step]
        n_states = int(states.sum())
        step_bounds = np.searchsorted(within[by_step], np.arange(int(lengths.max()) + 1))
        step_states = np.r_[state_start[by_step], n_states][step_bounds]
        # per state, per candidate of the oldest position of its n-gram: the state it comes from and
        # the n-gram's score (a missing candidate: the state `n_states`, whose score is −inf)
        link_start = np.searchsorted(owner, np.arange(n_pos))
        local_link = np.arange(len(owner)) - link_start[owner]
        new_local = local_link % states[owner]
        oldest = local_link // states[owner]
        new_state = state_start[owner] + new_local
        k = int(counts.max())
        came = np.full((n_states, k), n_states, dtype=np.int64)
        came[new_state, oldest] = (
            state_start[owner - 1] + oldest * (states[owner] // counts[owner]) + new_local // counts[owner]
        )
        step_score = np.zeros((n_states, k))
        step_score[new_state, oldest] = link_score
        best = np.full(n_states + 1, -np.inf)
        best[state_start[starts + n - 2]] = 0.0  # <s> … <s>
        back = np.zeros(n_states, dtype=np.intp)
        kernels.viterbi_steps(best, came, step_score, back, step_states, n - 1)
        came_from = came[np.arange(n_states), back]
        # back-tracking from each segment's best final state
        ends = starts + lengths - 1
        current = _final_states(best, state_start, states, counts, ends, int(lengths.max()) - lengths, n)
        owner_of = np.repeat(np.arange(n_pos), states)  # (in position order)
        newest = np.empty(n_states, dtype=np.int64)
        in_position = np.arange(n_states) - np.repeat(np.cumsum(states) - states, states)
        newest[state_start[owner_of] + in_position] = in_position % counts[owner_of]
        choice = np.zeros(n_pos, dtype=np.int64)
        kernels.backtrack(current, came_from, newest, starts, lengths, n - 1, choice)
        self.choice = choice
        # local posterior: the n n-grams touching a position, neighbours fixed to the choice (n-grams
        # past the segment's end count 0, the padded table's zeros)
        decided = np.flatnonzero(within >= n - 1)
        local = kernels.local_scores(
            decided, within, lengths[self.segment], counts, choice, link_start, link_score, n, k
        )
        local -= local.max(axis=1, keepdims=True)
        probabilities = np.exp(local)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        self.confidence[decided] = probabilities[np.arange(len(decided)), self.choice[decided]]
        offsets = self.offsets
        position = np.repeat(np.arange(n_pos), counts)
        row = np.full(n_pos, -1)
        row[decided] = np.arange(len(decided))
        slot = np.arange(len(self.ids)) - offsets[position]
        self.posterior = np.where(row[position] >= 0, probabilities[np.maximum(row[position], 0), slot], 1.0)

    def assign(self) -> None:
        offsets = self.offsets
        for position, part in enumerate(self.parts):
            if part is not None:
                part.choice = int(self.slot[offsets[position] + self.choice[position]])
                part.confidence = float(self.confidence[position])


def _final_states(
    best: np.ndarray,
    state_start: np.ndarray,
    states: np.ndarray,
    counts: np.ndarray,
    ends: np.ndarray,
    padding: np.ndarray,
    n: int,
) -> np.ndarray:
    """Each segment's best state at its last position (`ends`), ties broken as a table padded with
    `padding` steps after the segment would break them: each step of padding maximises over the
    state's oldest candidate first (taken back last); the rest of the state is compared as one number
    (oldest candidate most significant), as is the whole state without padding."""
    sizes = states[ends]
    index = np.repeat(state_start[ends] - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
    values = best[index]
    bounds = np.cumsum(sizes) - sizes
    top = np.maximum.reduceat(values, bounds)
    tied = values == np.repeat(top, sizes)
    rank = np.where(tied, np.arange(len(values)), len(values))
    chosen: np.ndarray = index[np.minimum.reduceat(rank, bounds)]
    ties = np.add.reduceat(tied, bounds)
    for number in np.flatnonzero((ties > 1) & (padding > 0)).tolist():
        end, pad = int(ends[number]), min(int(padding[number]), n - 1)
        first = int(state_start[end])
        candidates = np.flatnonzero(best[first : first + int(sizes[number])] == top[number])
        # the state's candidates, oldest first, compared in the order padding compares them
        digits = []
        rest = candidates.copy()
        for back in range(n - 1):
            digits.append(rest % counts[end - back])
            rest //= counts[end - back]
        digits.reverse()
        priority = [*range(pad, n - 1), *range(pad - 1, -1, -1)]
        chosen[number] = first + int(candidates[np.lexsort([digits[j] for j in reversed(priority)])[0]])
    return chosen


def _settled(lengths: np.ndarray, n: int) -> list[int]:
    """Per step of the padded bigram pass (`_bigram_paths`), how many segments, from the first, need
    it no more. A segment's state settles n − 1 steps of padding after its </s> (one state left,
    which padding keeps as it is, its back-pointers 0 as they were made); segments are decoded shortest first (see `Restorer._decode`),
    so those are a prefix. Segments in another order: none is skipped."""
    steps = np.arange(int(lengths.max()))
    if np.any(np.diff(lengths) < 0):
        return [0] * len(steps)
    settled: list[int] = np.searchsorted(lengths + (n - 1), steps, side="right").tolist()
    return settled


def within_segment(segment: np.ndarray) -> np.ndarray:
    """Each position's index within its segment (`segment`: segment number per position, in order)."""
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    return np.arange(len(segment)) - np.repeat(starts, np.diff(np.r_[starts, len(segment)]))


def _case_of(analysis: _Analysis, index: int) -> bool | None:
    """`tokens.word_case` of token `index`, after the token before it (none after a blank line)."""
    lead, core, _ = analysis.edges[index]
    previous = analysis.raw[index - 1] if index and analysis.breaks_before[index] < 2 else None
    return word_case(previous, lead + core)


def _render(analysis: _Analysis, plan: Plan, token_parts: list[list[_Part | str]]) -> Restoration:
    """The restored text: every token's decided parts in its place, with its punctuation, case and
    the text between tokens kept (the gap inside a merged pair is dropped)."""
    text, edges = analysis.text, analysis.edges
    restored_tokens: list[RestoredToken] = []
    pieces_out: list[str] = []
    cursor = 0
    for index, (start, end) in enumerate(analysis.spans):
        merged_away = plan.get(index - 1) is Merge.WITH_NEXT
        lead, _, trail = edges[index]
        if plan.get(index) is Merge.WITH_NEXT:
            trail = edges[index + 1][2]
        out_parts = []
        confidence = 1.0
        for item in token_parts[index]:
            if isinstance(item, str):
                out_parts.append(item)
                continue
            word = item.candidates.words[item.choice]
            out_parts.append(item.text if word is None else apply_case(item.text, word))
            if item.confidence < confidence:  # (the lowest)
                confidence = item.confidence
        restored = "" if merged_away else unicodedata.normalize("NFC", lead + "".join(out_parts) + trail)
        if not merged_away:
            pieces_out.append(text[cursor:start])
        pieces_out.append(restored)
        cursor = end
        restored_tokens.append(RestoredToken(analysis.raw[index], restored, confidence))
    pieces_out.append(text[cursor:])
    return Restoration(unicodedata.normalize("NFC", "".join(pieces_out)), tuple(restored_tokens))


class _RankedReadings:
    """A reading index over LM ids with every row ranked by ln P(observed | syllable) + unigram:
    a token's likeliest readings are the start of its row. Held in arrays, so that loading builds
    no Python object per reading (only one per row, for the lookup)."""

    def __init__(self, index: ReadingIndex, lm_ids: np.ndarray, unigram: np.ndarray) -> None:
        starts = index.starts
        rows = len(starts) - 1
        row = np.repeat(np.arange(rows), np.diff(starts))
        ids = lm_ids[index.ids]
        known = ids != UNK_ID  # syllables the LM does not hold are never candidates
        ids, logp, row = ids[known], index.logp[known], row[known]
        # one float sort key: the row, then the score (ln P ≥ −1000) within it
        order = np.argsort(row * 1000.0 - np.maximum(logp + unigram[ids], -999.0))
        self.ids = ids[order]
        self.logp = logp[order]
        self.starts = np.searchsorted(row[order], np.arange(rows + 1))
        # a dict finds a row ~100× faster than a binary search over the strings
        observed = index.observed.tolist()
        self.row_of = dict(zip(observed, range(len(observed)), strict=True))

    def __contains__(self, observed: object) -> bool:
        return observed in self.row_of

    def _row(self, observed: str) -> int | None:
        return self.row_of.get(observed)

    def top(self, observed: str, limit: int, also: int) -> tuple[list[int], list[float]] | None:
        """The `limit` best readings of `observed` (plus unit `also` if it is one), or None for a
        reading never precomputed."""
        k = self._row(observed)
        if k is None:
            return None
        start, end = int(self.starts[k]), int(self.starts[k + 1])
        cut = min(end, start + limit)
        ids: list[int] = self.ids[start:cut].tolist()
        logp: list[float] = self.logp[start:cut].tolist()
        if cut < end and also != UNK_ID:
            at = np.flatnonzero(self.ids[cut:end] == also)
            if len(at):
                ids.append(also)
                logp.append(float(self.logp[cut + int(at[0])]))
        return ids, logp


def _leading(ids: list[int], also: int) -> list[int]:
    """The first TOP_READINGS of `ids` (ranked best first), plus `also` if it is further down."""
    if len(ids) <= TOP_READINGS:
        return ids
    head = ids[:TOP_READINGS]
    if also in ids and also not in head:
        head.append(also)
    return head


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")  # Cc that str.split() keeps


def _foreign_name(text: str) -> bool:
    """A capitalised word of two or more plain Latin letters (Penh, Lev; not VIET, kB or Việt)."""
    return len(text) >= 2 and text.isascii() and text.isalpha() and text[0].isupper() and text[1:].islower()


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _plausible_vietnamese_cut(core: str, cut: int) -> bool:
    """Where a Vietnamese model ran two words together: a capital starts the second (thuộcTrung), or
    both halves hold letters only Vietnamese has (giớilà is not, Kolář is not: names stay whole)."""
    left, right = core[:cut], core[cut:]
    if right[0].isupper() and left[-1].islower():
        return True
    return any(c in VIETNAMESE_ONLY for c in left) and any(c in VIETNAMESE_ONLY for c in right)


def _replace_surrogates(text: str) -> str:
    """Lone surrogates (undecodable bytes) cannot be written out: U+FFFD instead, one for one."""
    return _SURROGATE_RE.sub("\ufffd", text)


def _drop_controls(token: str) -> str:
    return _CONTROL_RE.sub("", token)


def _line_layout(text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Line number of every token and how many line breaks separate it from the previous token."""
    breaks = [m.start() for m in LINE_BREAK_RE.finditer(text)]  # all between tokens: tokens hold none
    if not breaks:
        return [0] * len(spans), [0] * len(spans)
    line_of: list[int] = []
    breaks_before: list[int] = []
    line = 0
    for start, _ in spans:
        before = line
        while line < len(breaks) and breaks[line] < start:
            line += 1
        line_of.append(line)
        breaks_before.append(line - before)
    return line_of, breaks_before

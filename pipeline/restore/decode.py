"""The restorer: candidates per token from the channel, trigram Viterbi over them, text rebuilt in place."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.restore.channel import (
    UNKNOWN_BUCKET,
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
from pipeline.restore.syllables import (
    MARKED_LETTERS,
    VIETNAMESE_ONLY,
    could_be_syllable,
    is_valid,
    normalize_text,
    skeleton,
    tone_key,
)
from pipeline.restore.tokens import (
    CODE,
    NUM,
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
)
from pipeline.types import Restoration, RestoredToken

TOKEN_RE = re.compile(r"\S+")
LINE_BREAK_RE = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
SENTENCE_END = frozenset(".;:!?")
MAX_CANDIDATES = 8
CANDIDATE_MARGIN = 10.0  # nats below the best candidate (channel + unigram) that are still searched
PRUNE_MARGIN = 8.0  # nats below a position's best bigram neighbourhood that enter the trigram search
PRUNED_CANDIDATES = 4  # and at most this many per position
LATTICE_CELLS = 20_000  # segments × padded length decoded together
MAX_SEGMENT = 2_000  # positions decoded as one sequence at most
MAX_OBSERVED_WORD = 8  # longest token worth cutting is twice this
_MERGE = "merge"  # plan entry: this token and the next are one word
_NO_IDS = np.zeros(0, dtype=np.int64)
_VOWEL_RE = re.compile("[aeiouyAEIOUY]")
# mostly Latin script: Latin letters (any accents) and at most a few other characters
_LATIN_RE = re.compile(r"[\x00-\x7f\u00c0-\u024f\u1e00-\u1eff\ufb00-\ufb06]*")
MAX_SEARCHED = 8  # longest token searched for beyond the reading index
# readings per channel that enter a token's candidates, best (channel + unigram) first: the other
# readings rank below as many others in their channel, so they could only make the cut by a tie
TOP_READINGS = 2 * MAX_CANDIDATES


def _consonants_only(core: str) -> bool:
    """Letters without a vowel (ng, tr): a piece of a word, never a Vietnamese word itself."""
    return core.isalpha() and not _VOWEL_RE.search(skeleton(core))


@dataclass
class DecoderSettings:
    # λ in score = LM + λ·channel, per regime: above 1 where the text is mostly right already, so
    # that the LM must be sure before it changes a word
    channel_weights: dict[Regime, float] = field(
        default_factory=lambda: {Regime.PLAIN: 1.0, Regime.ENGLISH: 1.0, Regime.VIETNAMESE: 2.0}
    )
    # with an OCR confidence the channel already knows how sure the reading is (its confidence
    # buckets), so less extra caution is needed
    channel_weight_with_confidence: float = 1.5
    unk_syllable_logp: float = math.log(1 / 20_000)  # a valid syllable the vocabulary lacks
    # each regime reads tokens through a mixture of channels (weights sum to 1): plain text may hold
    # a few OCR-like garblings, English OCR keeps many words intact
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
class _Part:
    text: str  # the original part (for case and identity)
    candidates: Candidates
    choice: int = 0
    confidence: float = 1.0


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
        uni = lm.uni_logp
        self.by_skeleton = {
            k: sorted(v, key=lambda i: -uni[i])[: 4 * MAX_CANDIDATES] for k, v in by_skeleton.items()
        }
        self._unigram: list[float] = uni.tolist()
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
        self.lexicon = Lexicon(
            bare_shares(words, lm.is_syllable, uni), english.row_of if english is not None else frozenset()
        )
        could_be_syllable("xx")  # builds the inventory tables now rather than on the first text
        self._cache: dict[tuple[Regime, str, int, bool], Candidates] = {}
        self.fixed_ids = {NUM: lm.id_of(NUM), CODE: lm.id_of(CODE), URL: lm.id_of(URL)}

    # ------------------------------------------------------------------ candidates

    def _as_written(self, lower: str) -> tuple[int, float, bool]:
        """LM id of a word kept as written, the spelling score the LM lacks for it, and whether the
        vocabulary holds it (a known syllable, whatever its tone placement, or a known other word)."""
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
        self.search_space.forget()

    def candidates(self, regime: Regime, text: str, bucket: int, search: bool = True) -> Candidates:
        """Candidate words for one token read with OCR confidence `bucket` (see `confidence_bucket`),
        memoised; `search`: may look beyond the reading index."""
        key = (regime, text, bucket, search)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._make_candidates(regime, text, bucket, search)
            if len(self._cache) > 200_000:
                self._cache.clear()
        return found

    def _make_candidates(self, regime: Regime, text: str, bucket: int, search: bool) -> Candidates:
        """Candidates of one token under the regime's mixture of channels: ln Σ weight·P(text | word)."""
        lower = normalize_text(text).lower()
        written_id, spelling, known = self._as_written(lower)
        marked = any(c in MARKED_LETTERS for c in lower)
        combined: dict[int, float] = {}
        identity = -math.inf
        for source, weight in self.settings.mixtures[regime]:
            log_weight = math.log(weight)
            channel = self.channels.get(source)
            if source is Regime.PLAIN or channel is None:
                # typed without marks: every word with this skeleton is as likely; marked words stay
                if not marked:
                    for unit_id in _leading(self.by_skeleton.get(skeleton(lower), []), written_id):
                        combined[unit_id] = _logaddexp(combined.get(unit_id, -math.inf), log_weight)
                identity = _logaddexp(identity, log_weight)
                continue
            keep, misread = channel.keep_adjust.get(bucket, (0.0, 0.0))
            # only the regime's main channel searches beyond its precomputed readings (slow)
            ids, logp = self._readings(source, channel, lower, written_id, search=search and weight >= 0.5)
            for unit_id, score in zip(ids, logp, strict=True):
                score += log_weight + (keep if known and unit_id == written_id else misread)
                combined[unit_id] = _logaddexp(combined.get(unit_id, -math.inf), score)
            identity = _logaddexp(identity, log_weight + channel.identity_logp(lower) + keep)
        if not known or written_id not in combined:
            # the word as written is always a candidate
            combined[written_id] = max(combined.get(written_id, -math.inf), identity)
        lam = self.settings.channel_weights[regime]
        if bucket < UNKNOWN_BUCKET:
            lam = min(lam, self.settings.channel_weight_with_confidence)
        uni = self._unigram
        # the spelling of a word outside the vocabulary is part of its LM score, not of the channel
        extra = {written_id: spelling}
        # ranked and cut by channel + unigram at weight 1: the weight is for the search, not for
        # deciding which readings deserve one
        ranked = sorted(
            ((s + uni[u] + extra.get(u, 0.0), u, lam * s + extra.get(u, 0.0)) for u, s in combined.items()),
            reverse=True,
        )
        floor = ranked[0][0] - CANDIDATE_MARGIN
        ranked = [e for e in ranked[:MAX_CANDIDATES] if e[0] >= floor]
        words = self.lm.words
        syllable = self.lm.is_syllable
        return Candidates(
            np.array([u for _, u, _ in ranked], dtype=np.int64),
            np.array([s for _, _, s in ranked], dtype=np.float32),
            tuple(None if u == written_id else words[u] for _, u, _ in ranked),
            best=ranked[0][0],
            best_syllable=max((t for t, u, _ in ranked if syllable[u]), default=-math.inf),
        )

    def _readings(
        self, regime: Regime, channel: SubstitutionChannel, lower: str, written_id: int, search: bool = True
    ) -> tuple[list[int], list[float]]:
        """LM ids and ln P(lower | syllable) of the likeliest syllables the channel reads as `lower`
        (with `written_id` whenever it is one): from the precomputed reading index, or by searching
        backwards for readings it does not hold."""
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
            or (junk == 0 and regime is not Regime.ENGLISH)
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
        for core, kind, line in zip(cores, kinds, line_of, strict=True):
            if kind is Kind.WORD:
                for evidence in token_evidence(core, lexicon):
                    flat[line * classes + evidence] += 1
        counts = np.array(flat, dtype=np.float64).reshape(lines, classes)
        return self.regimes.line_regimes(counts, (*CHANNEL_FREE, *self.channels))

    # ------------------------------------------------------------------ decoding

    def restore(self, text: str, confidences: Sequence[float | None] | None = None) -> Restoration:
        text = _replace_surrogates(text)
        spans = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
        if not spans:
            return Restoration(unicodedata.normalize("NFC", text), ())
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
        regimes = [line_regimes[line] for line in line_of]

        plan = self._plan_tokens(regimes, edges, kinds, buckets, line_of)

        id_of = self.lm.id_of
        segments: list[_Segment] = [_Segment()]
        token_parts: list[list[_Part | str]] = []
        for index, (lead, core, trail) in enumerate(edges):
            if plan and plan.get(index - 1) == _MERGE:
                token_parts.append([])  # absorbed by the previous token
                continue
            if index and self._boundary(breaks_before[index], raw[index - 1], caps_by_line, line_of, index):
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
                action = plan.get(index) if plan else None
                if action == _MERGE:
                    _, core, trail = edges[index + 1]
                    pieces = [edges[index][1] + core]
                elif isinstance(action, int):
                    pieces = [core[:action], " ", core[action:]]
                else:
                    pieces = split_parts(core) if not core.isalpha() else [core]
                for piece in pieces:
                    if piece == " " or piece in SEPARATORS:
                        if piece != " ":
                            positions.append(id_of(piece))
                        parts.append(piece)
                        continue
                    part = _Part(piece, self.candidates(regimes[index], piece, buckets[index]))
                    positions.append(part)
                    parts.append(part)
            elif kind is Kind.ABBR:
                positions.append(self.lm.index.get(core, ABBR_ID))
                parts.append(core)
            elif kind is not Kind.EMPTY:
                positions.append(self.fixed_ids[{Kind.NUMBER: NUM, Kind.CODE: CODE, Kind.URL: URL}[kind]])
                parts.append(core)
            else:
                parts.append(core)
            if trail:
                positions.extend(id_of(u) for u in punct_units(trail))
            token_parts.append(parts)
        self._decode(segments)

        restored_tokens: list[RestoredToken] = []
        pieces_out: list[str] = []
        cursor = 0
        for index, (start, end) in enumerate(spans):
            merged_away = plan.get(index - 1) == _MERGE if plan else False
            lead, _, trail = edges[index]
            if plan and plan.get(index) == _MERGE:
                trail = edges[index + 1][2]
            out_parts = []
            confidence = 1.0
            for item in token_parts[index]:
                if isinstance(item, str):
                    out_parts.append(item)
                    continue
                word = item.candidates.words[item.choice]
                out_parts.append(item.text if word is None else apply_case(item.text, word))
                confidence = min(confidence, item.confidence)
            restored = "" if merged_away else unicodedata.normalize("NFC", lead + "".join(out_parts) + trail)
            if not merged_away:
                pieces_out.append(text[cursor:start])  # the gap inside a merged pair is dropped
            pieces_out.append(restored)
            cursor = end
            restored_tokens.append(RestoredToken(raw[index], restored, confidence))
        pieces_out.append(text[cursor:])
        return Restoration(unicodedata.normalize("NFC", "".join(pieces_out)), tuple(restored_tokens))

    @staticmethod
    def _best(candidates: Candidates) -> tuple[float, bool]:
        """Best channel + unigram score of a token's readings, and whether the best is a known word
        (rather than the token kept as an unknown one)."""
        return candidates.best, int(candidates.ids[0]) != UNK_ID

    @staticmethod
    def _best_syllable(candidates: Candidates) -> tuple[float, bool]:
        """Like `_best`, but only a syllable counts as a reading."""
        return candidates.best_syllable, candidates.best_syllable > -math.inf

    def _plan_tokens(
        self,
        regimes: list[Regime],
        edges: list[tuple[str, str, str]],
        kinds: list[Kind],
        buckets: list[int],
        line_of: list[int],
    ) -> dict[int, int | str]:
        """Tokens the OCR split or merged: a token whose best reading is poor is joined with its
        neighbour on the same line (`_MERGE`) or cut in two (the cut position) when that reads
        better, weighed with how often the line's OCR channel splits and merges words."""
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
        plan: dict[int, int | str] = {}
        # weak readings: no known word, or no vowel at all (ng, tr: pieces of a word the OCR split)
        weak = {i for i, (_, known) in scores.items() if not known or _consonants_only(edges[i][1])}
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
                plan[i] = _MERGE
                free = i + 2
        merged = {k for k, v in plan.items() if v == _MERGE} | {k + 1 for k, v in plan.items() if v == _MERGE}
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

    def _boundary(
        self, breaks: int, previous: str, caps_by_line: list[bool], line_of: list[int], index: int
    ) -> bool:
        """A new LM segment starts after a blank line, a sentence end, or around a capitals line."""
        if breaks == 0:
            return False
        if breaks >= 2:
            return True
        if previous[-1:] in SENTENCE_END:
            return True
        return caps_by_line[line_of[index]] or caps_by_line[line_of[index - 1]]

    def _decode(self, segments: list[_Segment]) -> None:
        """Decide every part: bigram pruning, then trigram Viterbi over many segments at once (grouped
        by length, so that padding them to a common length stays cheap)."""
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
        lattice = _Lattice.build(segments)
        lattice.prune(self.lm, PRUNE_MARGIN, PRUNED_CANDIDATES)
        lattice.viterbi(self.lm)
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

    @classmethod
    def build(cls, segments: list[_Segment]) -> _Lattice:
        parts: list[_Part | None] = []
        seg: list[int] = []
        id_arrays: list[np.ndarray] = []
        emit_arrays: list[np.ndarray] = []
        bos, eos = np.array([BOS_ID], np.int64), np.array([EOS_ID], np.int64)
        zero = np.zeros(1, np.float32)
        for number, segment in enumerate(segments):
            frame = [None, None, *segment.positions, None]
            for k, position in enumerate(frame):
                if isinstance(position, _Part):
                    parts.append(position)
                    id_arrays.append(position.candidates.ids)
                    emit_arrays.append(position.candidates.emit)
                else:
                    parts.append(None)
                    if position is None:
                        id_arrays.append(bos if k < 2 else eos)
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

    def _links(self, span: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """All candidate combinations of `span` consecutive positions of one segment, ending at each
        position: (end position per combination, [global candidate index per member, oldest first])."""
        n = len(self.counts)
        ends = np.arange(span - 1, n)
        same = self.segment[ends] == self.segment[ends - span + 1]
        ends = ends[same]
        sizes = np.ones(len(ends), dtype=np.int64)
        for back in range(span):
            sizes *= self.counts[ends - back]
        total = int(sizes.sum())
        owner = np.repeat(ends, sizes)
        local = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        offsets = self.offsets
        members: list[np.ndarray] = []
        for back in range(span):
            position = owner - back
            k = self.counts[position]
            members.append(offsets[position] + local % k)
            local = local // k
        members.reverse()
        return owner, members

    def prune(self, lm: NgramModel, margin: float, limit: int) -> None:
        """Keep, per position, the candidates whose best bigram neighbourhood scores within `margin`
        of the position's best (at most `limit`): the trigram search then has few combinations."""
        if int(self.counts.max()) <= 1:
            return
        owner, (left, right) = self._links(2)
        scores = lm.score((self.ids[left] << BITS) | self.ids[right], 2)
        # pair scores in a padded (position, left slot, right slot) table: maxima along either
        # axis give each candidate's best neighbour on the other side
        offsets = self.offsets
        width = int(self.counts.max())
        table = np.full((len(self.counts), width, width), -np.inf)
        table[owner, left - offsets[owner - 1], right - offsets[owner]] = scores
        position = np.repeat(np.arange(len(self.counts)), self.counts)
        slot = np.arange(len(self.ids)) - offsets[position]
        best_left = table.max(axis=1)[position, slot]
        table[owner, left - offsets[owner - 1], right - offsets[owner]] += self.emit[right]
        following = np.minimum(position + 1, len(self.counts) - 1)
        best_right = table.max(axis=2)[following, slot]
        best_right[position + 1 >= len(self.counts)] = -np.inf
        best_left[np.isneginf(best_left)] = 0.0
        best_right[np.isneginf(best_right)] = 0.0
        local = self.emit + best_left + best_right
        order = np.lexsort((-local, position))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - self.offsets[position[order]]
        top = np.maximum.reduceat(local, self.offsets)
        keep = (rank < limit) & (local >= top[position] - margin)
        self.counts = np.bincount(position[keep], minlength=len(self.counts))
        # candidates keep their order within a position, so the best stays first when ties break
        self.ids, self.emit, self.slot = self.ids[keep], self.emit[keep], self.slot[keep]

    def viterbi(self, lm: NgramModel) -> None:
        """Trigram Viterbi over all segments together, padded to the longest; sets `choice` (index
        among each position's kept candidates) and the local posterior `confidence`."""
        owner, (a, b, c) = self._links(3)
        scores = lm.score((self.ids[a] << (2 * BITS)) | (self.ids[b] << BITS) | self.ids[c], 3) + self.emit[c]
        offsets = self.offsets
        starts = np.flatnonzero(np.r_[True, self.segment[1:] != self.segment[:-1]])
        lengths = np.diff(np.r_[starts, len(self.counts)])
        n_seg, width = len(starts), int(lengths.max()) + 2
        k = int(self.counts.max())
        within = np.arange(len(self.counts)) - starts[self.segment]
        # table[i, s, a, b, c]: score of candidate c at position i of segment s after a, b; padding
        # after </s> moves any state on for free through candidate 0
        table = np.full((width, n_seg, k, k, k), -np.inf, dtype=np.float32)
        seg_of = self.segment[owner]
        table[within[owner], seg_of, a - offsets[owner - 2], b - offsets[owner - 1], c - offsets[owner]] = (
            scores
        )
        pad = np.arange(width)[:, None] >= lengths[None, :]
        table[pad, :, :, 0] = 0.0
        best = np.full((n_seg, k, k), -np.inf)
        best[:, 0, 0] = 0.0  # <s> <s>
        back = np.zeros((width, n_seg, k, k), dtype=np.intp)
        total = np.empty((n_seg, k, k, k))
        for i in range(2, width):
            np.add(best[:, :, :, None], table[i], out=total)
            total.argmax(axis=1, out=back[i])
            total.max(axis=1, out=best)
        rows = np.arange(n_seg)
        final = np.argmax(best.reshape(n_seg, -1), axis=1)
        choice = np.zeros((width + 2, n_seg), dtype=np.intp)
        choice[width - 2], choice[width - 1] = final // k, final % k
        for i in range(width - 1, 1, -1):
            choice[i - 2] = back[i, rows, choice[i - 1], choice[i]]
        self.choice = choice[within, self.segment]
        # local posterior: the three trigrams touching a position, neighbours fixed to the choice
        padded = np.concatenate([table, np.zeros((2, n_seg, k, k, k), np.float32)], axis=0)
        decided = np.flatnonzero(within >= 2)
        s, i = self.segment[decided], within[decided]
        local = padded[i, s, choice[i - 2, s], choice[i - 1, s], :].astype(np.float64)
        local += padded[i + 1, s, choice[i - 1, s], :, choice[i + 1, s]]
        local += padded[i + 2, s, :, choice[i + 1, s], choice[i + 2, s]]
        local -= local.max(axis=1, keepdims=True)
        probabilities = np.exp(local)
        self.confidence[decided] = probabilities[np.arange(len(i)), self.choice[decided]] / probabilities.sum(
            axis=1
        )

    def assign(self) -> None:
        offsets = self.offsets
        for position, part in enumerate(self.parts):
            if part is not None:
                part.choice = int(self.slot[offsets[position] + self.choice[position]])
                part.confidence = float(self.confidence[position])


class _RankedReadings:
    """A reading index over LM ids with every row ranked by ln P(observed | syllable) + unigram,
    held as Python lists: a token's likeliest readings are a list slice, no array work per token."""

    def __init__(self, index: ReadingIndex, lm_ids: np.ndarray, unigram: np.ndarray) -> None:
        starts = index.starts
        rows = len(starts) - 1
        row = np.repeat(np.arange(rows), np.diff(starts))
        ids = lm_ids[index.ids]
        known = ids != UNK_ID  # syllables the LM does not hold are never candidates
        ids, logp, row = ids[known], index.logp[known], row[known]
        # one float sort key: the row, then the score (ln P ≥ −1000) within it
        order = np.argsort(row * 1000.0 - np.maximum(logp + unigram[ids], -999.0))
        self.ids: list[int] = ids[order].tolist()
        self.logp: list[float] = logp[order].tolist()
        self.starts: list[int] = np.searchsorted(row[order], np.arange(rows + 1)).tolist()
        self.row_of = {reading: k for k, reading in enumerate(index.observed.tolist())}

    def top(self, observed: str, limit: int, also: int) -> tuple[list[int], list[float]] | None:
        """The `limit` best readings of `observed` (plus unit `also` if it is one), or None for a
        reading never precomputed."""
        k = self.row_of.get(observed)
        if k is None:
            return None
        start, end = self.starts[k], self.starts[k + 1]
        cut = min(end, start + limit)
        ids, logp = self.ids[start:cut], self.logp[start:cut]
        if cut < end and also != UNK_ID:
            try:
                at = self.ids.index(also, cut, end)
            except ValueError:
                return ids, logp
            ids.append(also)
            logp.append(self.logp[at])
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

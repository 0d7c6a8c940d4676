"""OCR error model: P(observed token | intended syllable) from learned substring substitutions.

Brill–Moore style: an intended syllable is cut into pieces of one or two letters, each piece is read as
zero to three observed characters with a learned probability, and the best cut counts. Candidates for
an observed token come from a reading index (the likeliest readings of every syllable, precomputed by
running the rules forwards); tokens it lacks are searched for by running the rules backwards, guided
by the prefixes of known syllables. Symbols never seen in training may stand for any vowel, with the
Good–Turing mass of unseen readings."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
from rapidfuzz.distance import Levenshtein

from pipeline.vietnamese import MARKED_LETTERS, VOWEL_LETTERS, skeleton

MAX_ALPHA = 2  # longest intended piece
MAX_BETA = 3  # longest observed piece
MAX_DELETIONS = 2  # intended letters the OCR may drop from one syllable
DELETION_BEAM = 8  # best hypotheses of a position that may have lost a letter there
MIN_RULE_LOGP = math.log(1e-4)  # rarer rules are not worth trying
BEAM = 48  # hypotheses kept per observed position in the backward search
JUNK_BEAM = 100  # more when a symbol may hide any vowel (many equal hypotheses)
BEAM_MARGIN = 14.0  # nats below the best hypothesis at a position that survive
MAX_OBSERVED = 12  # longer tokens are not one syllable
# OCR word confidences are grouped into buckets; the channel learns P(word read right | bucket).
CONFIDENCE_EDGES = (50.0, 75.0, 90.0, 96.0)
UNKNOWN_IDENTITY_LOGP = math.log(0.9)  # a symbol training never saw, read as itself
JUNK_ALPHABET = 64  # symbols an OCR engine may emit for a letter it cannot read
LETTER_ALPHABET = 26
UNSEEN_FALLBACK_LOGP = math.log(1e-3)  # unseen mass for a channel trained without singletons
MAX_SYMBOL_TOKEN = 2  # longest token of digits or symbols that may be a misread word
MAX_EDITS = 2  # letter-level edits a garbled token may be from its word


def is_junk(char: str) -> bool:
    """Not a letter of written Vietnamese: digits, symbols, ligatures, other scripts."""
    return not (char.isascii() and char.isalpha()) and char.lower() not in MARKED_LETTERS


_JUNK_RE = re.compile("[^A-Za-z" + "".join(sorted(MARKED_LETTERS)) + "]")


def junk_count(text: str) -> int:
    """How many characters of `text` are junk (see `is_junk`)."""
    return len(_JUNK_RE.findall(text))


def _junk_logp(unseen_logp: float, piece: str) -> float:
    """ln P of a vowel read as `piece`, a string with a symbol training never showed for a vowel."""
    return unseen_logp - sum(_CHAR_LOGS[is_junk(c)] for c in piece)


_CHAR_LOGS = (math.log(LETTER_ALPHABET), math.log(JUNK_ALPHABET))  # indexed by is_junk


def _read_as(rules: dict[str, dict[str, float]], intended: str, observed: str, floor: float) -> float:
    """ln P(letter `intended` read as `observed`): its rule, else the unseen mass `floor` spread over
    what an OCR engine may emit (worked out only where no rule holds)."""
    found = rules.get(intended)
    if found is not None:
        logp = found.get(observed)
        if logp is not None:
            return logp
    return _junk_logp(floor, observed)


UNKNOWN_BUCKET = len(CONFIDENCE_EDGES) + 1


def confidence_bucket(confidence: float | None) -> int:
    """0..4 for known confidences (low → high), 5 for unknown."""
    if confidence is None or math.isnan(confidence):
        return UNKNOWN_BUCKET
    return bisect.bisect_right(CONFIDENCE_EDGES, confidence)


@dataclass
class SubstitutionChannel:
    """Learned rules alpha (intended piece) → beta (observed piece) with ln P(beta | alpha)."""

    rules: dict[str, dict[str, float]]
    # per confidence bucket: ln-ratio adjustments for (word read exactly, word misread)
    keep_adjust: dict[int, tuple[float, float]] = field(default_factory=dict)
    split_logp: float = -math.inf  # ln P(one intended word read as two tokens)
    merge_logp: float = -math.inf  # ln P(two intended words read as one token)
    # ln of the probability mass of vowel readings never seen in training (Good–Turing)
    unseen_logp: float = -math.inf
    # per character seen at a token's edge: ln P(it is part of the misread word, not punctuation)
    # (tu’ for tư, ct? for cứ)
    edge_glyphs: dict[str, float] = field(default_factory=dict)
    # ln P(a short token of digits or symbols is a misread word: 16 for lồ, @ for ở)
    symbol_word_logp: float = -math.inf
    reverse: dict[str, list[tuple[str, float]]] = field(init=False, repr=False)
    deletions: list[tuple[str, float]] = field(init=False, repr=False)
    _pieces: dict[str, list[tuple[str | None, float]] | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        reverse: dict[str, list[tuple[str, float]]] = {}
        deletions: list[tuple[str, float]] = []
        for alpha, betas in self.rules.items():
            for beta, logp in betas.items():
                if logp < MIN_RULE_LOGP:
                    continue
                if beta == "":
                    deletions.append((alpha, logp))
                else:
                    reverse.setdefault(beta, []).append((alpha, logp))
        for entries in reverse.values():
            entries.sort(key=lambda e: -e[1])
        deletions.sort(key=lambda e: -e[1])
        self.reverse = reverse
        self.deletions = deletions
        self._pieces = {}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SubstitutionChannel:
        rules: dict[str, dict[str, float]] = {}
        for alpha, beta, logp in data["rules"]:  # type: ignore[attr-defined]
            rules.setdefault(alpha, {})[beta] = float(logp)
        keep = {int(k): (float(v[0]), float(v[1])) for k, v in data.get("keep_adjust", {}).items()}  # type: ignore[attr-defined]

        def number(name: str) -> float:
            value = data.get(name)
            return float(value) if value is not None else -math.inf  # type: ignore[arg-type]

        edges = {str(c): float(v) for c, v in data.get("edge_glyphs", {}).items()}  # type: ignore[attr-defined]
        return cls(
            rules,
            keep,
            number("split_logp"),
            number("merge_logp"),
            number("unseen_logp"),
            edges,
            number("symbol_word_logp"),
        )

    def search(self, observed: str, space: SearchSpace) -> list[tuple[str, float]]:
        """Words of `space` that may have produced `observed`, with ln P(observed | word).

        Beam search over observed positions; rules are tried best first and dropped as soon as they
        fall below the best hypothesis at their target position minus the beam margin."""
        children, vowels_after, words = space.children, space.vowels_after, space.words
        n = len(observed)
        if n == 0 or n > MAX_OBSERVED:
            return []
        beams: list[dict[str, float]] = [{} for _ in range(n + 1)]
        floors = [-math.inf] * (n + 1)
        beams[0][""] = 0.0
        deletions = self.deletions
        nothing: dict[str, str] = {}
        unreached = -math.inf
        # an unseen symbol says nothing about which vowel it hides: keep many hypotheses then
        beam = JUNK_BEAM if junk_count(observed) else BEAM
        for j in range(n + 1):
            states = beams[j]
            if not states:
                continue
            # letters the OCR dropped: grown from the best few hypotheses only (dropped letters are
            # rare, and every grown hypothesis is searched on), and only while they could enter the
            # beam (a state below the beam has descendants below it too)
            ranked = _beam(states, beam)
            frontier = ranked[:DELETION_BEAM]
            for _ in range(MAX_DELETIONS):
                floor = ranked[-1][1] if len(ranked) >= beam else ranked[0][1] - BEAM_MARGIN
                grown = []
                for prefix, score in frontier:
                    kids = children.get(prefix, nothing)
                    for alpha, logp in deletions:
                        total = score + logp
                        if total < floor:
                            break
                        candidate = kids.get(alpha)
                        if candidate is not None and total > states.get(candidate, unreached):
                            states[candidate] = total
                            grown.append((candidate, total))
                if not grown:
                    break
                ranked = _beam(states, beam)
                kept = dict(ranked)
                frontier = [(p, s) for p, s in grown if kept.get(p) == s]
            beams[j] = dict(ranked)
            if j == n:
                break
            for b in range(1, MAX_BETA + 1):
                if j + b > n:
                    break
                entries = self._intended_pieces(observed[j : j + b])
                if not entries:
                    continue
                target = beams[j + b]
                floor = floors[j + b]
                for prefix, score in ranked:
                    if score + entries[0][1] < floor:
                        break
                    kids = children.get(prefix, nothing)
                    for intended, logp in entries:
                        total = score + logp
                        if total < floor:
                            break
                        # a symbol for any vowel: only the vowels that may follow this prefix
                        if intended is None:
                            reached = vowels_after.get(prefix, ())
                        else:
                            candidate = kids.get(intended)
                            if candidate is None:
                                continue
                            reached = (candidate,)
                        for candidate in reached:
                            if total > target.get(candidate, unreached):
                                target[candidate] = total
                                if total - BEAM_MARGIN > floor:
                                    floor = total - BEAM_MARGIN
                floors[j + b] = floor
        return sorted(((p, s) for p, s in beams[n].items() if p in words), key=lambda e: -e[1])

    def _intended_pieces(self, piece: str) -> list[tuple[str | None, float]] | None:
        """What an observed piece may stand for, best first; None stands for any vowel (memoised)."""
        found = self._pieces.get(piece, False)
        if found is not False:
            return found  # type: ignore[return-value]
        entries: list[tuple[str | None, float]] | None = list(self.reverse.get(piece, ())) or None
        if len(piece) <= 2 and math.isfinite(self.unseen_logp) and any(is_junk(c) for c in piece):
            # symbols the training OCR never produced may stand for any vowel (ma&i, tﬁng)
            entries = sorted(
                [*(entries or []), (None, _junk_logp(self.unseen_logp, piece))], key=lambda e: -e[1]
            )
        self._pieces[piece] = entries
        return entries

    def edit_logp(self, observed: str, intended: str) -> float:
        """ln P(observed | intended) by letter-level edits, for readings the substitution rules do
        not reach (tokens the OCR garbled beyond its usual confusions: thyfc, hge): the two strings
        are aligned on their skeletons, each letter read as itself, as another character or lost
        costs what the one-letter rules say, or the unseen mass where they say nothing."""
        floor = self.unseen_logp if math.isfinite(self.unseen_logp) else UNSEEN_FALLBACK_LOGP
        total = 0.0
        rules = self.rules
        i = j = 0
        for op in Levenshtein.editops(skeleton(intended), skeleton(observed)):
            tag, src, dest = op.tag, op.src_pos, op.dest_pos
            for k in range(src - i):  # letters read right up to the edit
                total += _read_as(rules, intended[i + k], observed[j + k], floor)
            i, j = src, dest
            if tag == "replace":
                total += _read_as(rules, intended[i], observed[j], floor)
                i, j = i + 1, j + 1
            elif tag == "delete":
                total += rules.get(intended[i], {}).get("", floor - math.log(LETTER_ALPHABET))
                i += 1
            else:
                total += _junk_logp(floor, observed[j])
                j += 1
        for k in range(len(intended) - i):
            total += _read_as(rules, intended[i + k], observed[j + k], floor)
        return total

    def identity_logp(self, text: str) -> float:
        """ln P of reading `text` exactly, letter by letter."""
        total = 0.0
        for char in text:
            # a symbol the training OCR never produced is, when read, most likely what is printed
            total += self.rules.get(char, {}).get(char, UNKNOWN_IDENTITY_LOGP)
        return total


class ReadingIndex:
    """Observed token → intended syllables that the channel reads that way, precomputed from
    `SubstitutionChannel.forward` for every syllable of the vocabulary (built by `make models`).
    Held as sorted arrays, so loading it costs no Python objects per entry."""

    def __init__(
        self,
        syllables: list[str],
        observed: np.ndarray,
        starts: np.ndarray,
        ids: np.ndarray,
        logp: np.ndarray,
    ) -> None:
        self.syllables = syllables
        self.observed = observed  # sorted unicode array
        self.starts = starts  # entries of observed[k] are ids/logp[starts[k]:starts[k + 1]]
        self.ids = ids
        self.logp = logp

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> ReadingIndex:
        counts = arrays[f"{prefix}_counts"].astype(np.int64)
        return cls(
            [str(s) for s in arrays[f"{prefix}_syllables"]],
            arrays[f"{prefix}_observed"],
            np.concatenate([[0], np.cumsum(counts)]),
            arrays[f"{prefix}_ids"].astype(np.int64),
            arrays[f"{prefix}_logp"].astype(np.float32),
        )


class EditIndex:
    """Words near an observed token by edit distance on skeletons (deletion neighbourhoods, as
    SymSpell): `near("thyfc")` finds the skeleton `thuc` two edits away without scanning them all."""

    def __init__(self, skeletons: Iterable[str], distance: int = MAX_EDITS) -> None:
        self.distance = distance
        index: dict[str, list[str]] = {}
        for key in sorted(set(skeletons)):
            for variant in _deletions(key, distance):
                index.setdefault(variant, []).append(key)
        self.index = index

    def near(self, observed: str, distance: int) -> dict[str, int]:
        """Skeletons within `distance` (≤ the index's) edits of `observed` (a skeleton), with their
        edit distances."""
        found: dict[str, int] = {}
        for variant in _deletions(observed, distance):
            for key in self.index.get(variant, ()):
                if key not in found:
                    gap = Levenshtein.distance(key, observed, score_cutoff=distance)
                    if gap <= distance:
                        found[key] = gap
        return found


def _deletions(word: str, distance: int) -> set[str]:
    """`word` and every string made from it by deleting up to `distance` characters."""
    level = {word}
    found = {word}
    for _ in range(distance):
        level = {w[:k] + w[k + 1 :] for w in level for k in range(len(w))}
        found |= level
    return found


def _beam(states: dict[str, float], size: int) -> list[tuple[str, float]]:
    """The best `size` states, best first, within BEAM_MARGIN of the best."""
    ranked = sorted(states.items(), key=itemgetter(1), reverse=True)  # stable: equal ones keep their order
    top = ranked[0][1]
    return [e for e in ranked[:size] if e[1] >= top - BEAM_MARGIN]


class SearchSpace:
    """What a backward search may reach: the words, and per prefix of a word (and the empty one) the
    longer prefixes one intended piece away (`children`: piece → prefix), the vowel letters among
    them in VOWEL_LETTERS order (`vowels_after`). Built once at load: every step of the search then
    finds an extended prefix as an existing string, without building and hashing a new one."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self.children: dict[str, dict[str, str]] = {}
        for prefix in prefix_set(self.words):
            for size in range(1, min(MAX_ALPHA, len(prefix)) + 1):
                self.children.setdefault(prefix[:-size], {})[prefix[-size:]] = prefix
        rank = {v: k for k, v in enumerate(VOWEL_LETTERS)}
        self.vowels_after: dict[str, tuple[str, ...]] = {}
        for parent, kids in self.children.items():
            vowels = sorted((rank[piece], prefix) for piece, prefix in kids.items() if piece in rank)
            if vowels:
                self.vowels_after[parent] = tuple(prefix for _, prefix in vowels)


def prefix_set(words: Iterable[str]) -> frozenset[str]:
    """Every prefix (including the whole word) of every word."""
    prefixes: set[str] = set()
    for word in words:
        for end in range(1, len(word) + 1):
            prefixes.add(word[:end])
    return frozenset(prefixes)

"""Training of the OCR channel from (intended line, OCR'd line) pairs: word and letter alignment, rules."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Levenshtein

from pipeline.restore.channel import (
    BEAM_MARGIN,
    MAX_ALPHA,
    MAX_BETA,
    MAX_SYMBOL_TOKEN,
    MIN_RULE_LOGP,
    ReadingIndex,
    SubstitutionChannel,
    confidence_bucket,
    is_junk,
    junk_count,
)
from pipeline.restore.tokens import SEPARATORS, Kind, classify, split_edges
from pipeline.vietnamese import is_valid, normalize_text, skeleton

PRIOR_WEIGHT = 5.0  # pseudo-counts pulling a letter's rules towards those of letters with its skeleton
MIN_PAIR_RULE_COUNT = 3  # two-letter rules must be seen this often and beat their one-letter product
MIN_RULE_PROBABILITY = 1e-4
MIN_EDGE_GLYPHS = 5  # an edge character must be seen in a misread word this often to be learnt as one


@dataclass(frozen=True)
class WordPair:
    intended: str  # lowercase syllable as written in the corpus
    observed: str  # lowercase OCR token core
    confidence: float | None


@dataclass
class PairStats:
    """What the alignment of many lines found, beyond one-to-one word pairs."""

    words: int = 0  # intended words aligned
    splits: int = 0  # one intended word read as two tokens
    merges: int = 0  # two intended words read as one token
    dropped: int = 0  # intended words with nothing read
    inserted: int = 0  # observed tokens matching no intended word
    # characters at observed token edges: part of a misread word (tu’ for tư) or real punctuation
    edge_glyph: Counter[str] = field(default_factory=Counter)
    edge_punct: Counter[str] = field(default_factory=Counter)
    # short tokens of digits or symbols (16, @): read for a word, or for a number
    symbol_words: int = 0
    symbol_numbers: int = 0


def _distance(a: str, b: str) -> float:
    """Edits between two tokens' lowercase skeletons; a digit or symbol read for a letter costs half
    an edit (16 for lồ is a plausible reading, xy for lồ is not)."""
    a, b = skeleton(a).lower(), skeleton(b).lower()
    if not (junk_count(a) or junk_count(b)):
        return float(Levenshtein.distance(a, b))
    return sum(
        0.5 if op.tag == "replace" and (is_junk(a[op.src_pos]) or is_junk(b[op.dest_pos])) else 1.0
        for op in Levenshtein.editops(a, b)
    )


def _cheapest_path(
    n: int, m: int, moves: Callable[[int, int], Iterable[tuple[int, int, float]]]
) -> tuple[float, list[tuple[int, int, int, int]]]:
    """Dynamic programming from (0, 0) to (n, m) over the steps `moves(i, j)` offers as (di, dj, cost):
    the total cost of the cheapest path and its steps (i, j, di, dj) in order (the first of equal ones)."""
    inf = math.inf
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int]]] = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i][j]
            if here == inf:
                continue
            for di, dj, step in moves(i, j):
                if here + step < cost[i + di][j + dj]:
                    cost[i + di][j + dj] = here + step
                    back[i + di][j + dj] = (di, dj)
    path = []
    i, j = n, m
    while i or j:
        di, dj = back[i][j]
        i, j = i - di, j - dj
        path.append((i, j, di, dj))
    path.reverse()
    return cost[n][m], path


def align_words(
    intended: Sequence[str], observed: Sequence[str]
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Word alignment of two token lists: 1-1, 1-0, 0-1, 1-2 (split) and 2-1 (merge) links."""
    n, m = len(intended), len(observed)

    # costs in edits: a word lost or inserted costs its length, a split or merge half an edit more
    # than the edits between the joined pieces and the word
    def moves(i: int, j: int) -> Iterator[tuple[int, int, float]]:
        if i < n and j < m:
            yield 1, 1, _distance(intended[i], observed[j])
        if i < n:
            yield 1, 0, float(len(intended[i]))
        if j < m:
            yield 0, 1, float(len(observed[j]))
        if i < n and j + 1 < m:
            yield 1, 2, _distance(intended[i], observed[j] + observed[j + 1]) + 0.5
        if i + 1 < n and j < m:
            yield 2, 1, _distance(intended[i] + intended[i + 1], observed[j]) + 0.5

    _, path = _cheapest_path(n, m, moves)
    return [(tuple(range(i, i + di)), tuple(range(j, j + dj))) for i, j, di, dj in path]


def word_pairs(
    lines: Iterable[tuple[str, str, Sequence[float]]], stats: PairStats | None = None
) -> list[WordPair]:
    """One-to-one (intended syllable, observed token) pairs from (intended line, observed line, confidences)."""
    pairs: list[WordPair] = []
    stats = stats if stats is not None else PairStats()
    for intended_line, observed_line, confidences in lines:
        intended = intended_line.split()
        observed = observed_line.split()
        conf = list(confidences) + [None] * (len(observed) - len(confidences))
        for left, right in align_words(intended, observed):
            stats.words += len(left)
            if len(left) == 1 and len(right) == 1:
                _, core, _ = split_edges(intended[left[0]])
                seen = observed_core(intended[left[0]], normalize_text(observed[right[0]]), stats)
                lower = core.lower()
                if is_symbol_token(seen):
                    if classify(core, True) is Kind.NUMBER:
                        stats.symbol_numbers += 1
                    elif is_valid(lower):
                        stats.symbol_words += 1
                if classify(core, True) is not Kind.WORD or not is_valid(lower):
                    continue
                if seen:
                    pairs.append(WordPair(lower, seen.lower(), conf[right[0]]))
            elif len(left) == 1 and len(right) == 2:
                stats.splits += 1
            elif len(left) == 2 and len(right) == 1:
                stats.merges += 1
            elif len(left) == 1:
                stats.dropped += 1
            else:
                stats.inserted += 1
    return pairs


def observed_core(intended: str, observed: str, stats: PairStats) -> str:
    """What an observed token read for the intended word: without the punctuation the intended token
    carries, but with edge characters it does not carry (tu’ for tư: the ’ is the horn). Counts, per
    edge character, how often it was glyph or punctuation."""
    lead, _, trail = split_edges(intended)
    seen_lead, seen, seen_trail = split_edges(observed)
    if seen_trail.endswith(trail):
        extra = seen_trail[: len(seen_trail) - len(trail)]
        stats.edge_glyph.update(extra)
        stats.edge_punct.update(seen_trail[len(extra) :])
        seen += extra
    if seen_lead.startswith(lead):
        extra = seen_lead[len(lead) :]
        stats.edge_glyph.update(extra)
        stats.edge_punct.update(seen_lead[: len(lead)])
        seen = extra + seen
    return seen


def is_symbol_token(core: str) -> bool:
    """One or two digits or symbols, no letter: what English-model OCR may read for a short word
    (16 for lồ, @ for ở), or a real number."""
    return 0 < len(core) <= MAX_SYMBOL_TOKEN and not any(c.isalpha() for c in core)


_VOWELS = frozenset("aeiouy")


def _substitution_cost(intended: str, observed: str) -> float:
    """Same letter 0, same letter but marks 0.4, a vowel read as another vowel 0.6 or as a digit or
    symbol 0.7, else 1 (so that `mới`/`ma&i` aligns ớ with a and & with nothing)."""
    if intended == observed:
        return 0.0
    base = skeleton(intended)
    if base == skeleton(observed):
        return 0.4
    if base in _VOWELS and skeleton(observed) in _VOWELS:
        return 0.6
    if base in _VOWELS and not observed.isalpha():
        return 0.7
    return 1.0


def align_letters(intended: str, observed: str) -> list[tuple[str, str]] | None:
    """Letter alignment as (intended letter, observed string) units; extra observed letters join the
    intended letter before them (or the first one). None when the pair is too different to learn from."""
    n, m = len(intended), len(observed)

    def moves(i: int, j: int) -> Iterator[tuple[int, int, float]]:
        if i < n and j < m:
            yield 1, 1, _substitution_cost(intended[i], observed[j])
        if i < n:
            yield 1, 0, 1.0
        if j < m:
            yield 0, 1, 1.0

    total, path = _cheapest_path(n, m, moves)
    if total > max(2.5, 0.75 * n):
        return None
    ops = [(intended[i] if di else "", observed[j] if dj else "") for i, j, di, dj in path]
    units: list[list[str]] = []
    pending = ""
    for a, b in ops:
        if a == "":
            if units:
                units[-1][1] += b
            else:
                pending += b
        else:
            units.append([a, pending + b])
            pending = ""
    if not units or any(len(b) > MAX_BETA for _, b in units):
        return None
    return [(a, b) for a, b in units]


def train_channel(pairs: Sequence[WordPair], stats: PairStats | None = None) -> SubstitutionChannel:
    """Rules P(observed piece | intended piece) with skeleton-class smoothing, and confidence effects."""
    single: dict[str, Counter[str]] = defaultdict(Counter)
    double: dict[str, Counter[str]] = defaultdict(Counter)
    double_total: Counter[str] = Counter()
    kept_by_bucket: Counter[int] = Counter()
    total_by_bucket: Counter[int] = Counter()
    for pair in pairs:
        bucket = confidence_bucket(pair.confidence)
        total_by_bucket[bucket] += 1
        kept_by_bucket[bucket] += pair.observed == pair.intended
        units = align_letters(pair.intended, pair.observed)
        if units is None:
            continue
        for k, (a, b) in enumerate(units):
            single[a][b] += 1
            if k + 1 < len(units):
                a2, b2 = units[k + 1]
                double_total[a + a2] += 1
                if (a, b) != (a, a) or (a2, b2) != (a2, a2):
                    double[a + a2][b + b2] += 1
    # a letter's rules are smoothed towards the pooled rules of all letters with the same skeleton
    pooled: dict[str, Counter[str]] = defaultdict(Counter)
    for a, betas in single.items():
        pooled[skeleton(a)].update(betas)
    rules: dict[str, dict[str, float]] = {}
    for a, betas in single.items():
        total = sum(betas.values())
        prior = pooled[skeleton(a)]
        prior_total = sum(prior.values())
        row: dict[str, float] = {}
        for b in set(betas) | set(prior):
            p = (betas[b] + PRIOR_WEIGHT * prior[b] / prior_total) / (total + PRIOR_WEIGHT)
            if p >= MIN_RULE_PROBABILITY:
                row[b] = math.log(p)
        rules[a] = row
    for a2, betas in double.items():
        total = double_total[a2]
        for b2, count in betas.items():
            if count < MIN_PAIR_RULE_COUNT or len(b2) > MAX_BETA:
                continue
            logp = math.log(count / total)
            alone = _best_single_cut(rules, a2, b2)
            if logp > alone + 0.1:
                rules.setdefault(a2, {})[b2] = logp
    assert all(1 <= len(a) <= MAX_ALPHA for a in rules)
    # Good–Turing: readings of vowels seen once estimate the mass of readings never seen
    vowel_rows = [betas for a, betas in single.items() if skeleton(a) in _VOWELS]
    seen_once = sum(1 for betas in vowel_rows for count in betas.values() if count == 1)
    vowel_total = sum(sum(betas.values()) for betas in vowel_rows)
    unseen = math.log(max(seen_once, 1) / vowel_total) if vowel_total else -math.inf
    split = merge = symbol_word = -math.inf
    edges: dict[str, float] = {}
    if stats is not None and stats.words:
        split = math.log((stats.splits + 1) / (stats.words + 2))
        merge = math.log((stats.merges + 1) / (stats.words + 2))
        symbols = stats.symbol_words + stats.symbol_numbers
        if stats.symbol_words >= MIN_EDGE_GLYPHS:
            symbol_word = math.log((stats.symbol_words + 0.5) / (symbols + 1))
        edges = {
            c: math.log((n + 0.5) / (n + stats.edge_punct[c] + 1))
            for c, n in stats.edge_glyph.items()
            if n >= MIN_EDGE_GLYPHS
        }
    return SubstitutionChannel(
        rules, _keep_adjust(kept_by_bucket, total_by_bucket), split, merge, unseen, edges, symbol_word
    )


def _best_single_cut(rules: dict[str, dict[str, float]], alpha: str, beta: str) -> float:
    """Best ln P of reading two intended letters as `beta` with one-letter rules."""
    best = -math.inf
    first, second = rules.get(alpha[0], {}), rules.get(alpha[1], {})
    for cut in range(len(beta) + 1):
        left, right = first.get(beta[:cut]), second.get(beta[cut:])
        if left is not None and right is not None:
            best = max(best, left + right)
    return best


def _keep_adjust(kept: Counter[int], total: Counter[int]) -> dict[int, tuple[float, float]]:
    """ln-ratios P(read right | bucket)/P(read right) and the same for misreadings, per known bucket."""
    all_total = sum(v for k, v in total.items() if k < 5)
    all_kept = sum(v for k, v in kept.items() if k < 5)
    if all_total == 0 or all_kept in (0, all_total):
        return {}
    base = all_kept / all_total
    adjust: dict[int, tuple[float, float]] = {}
    for bucket in range(5):
        if total[bucket] < 20:
            continue
        p = (kept[bucket] + 1) / (total[bucket] + 2)
        adjust[bucket] = (math.log(p / base), math.log((1 - p) / (1 - base)))
    return adjust


# --------------------------------------------------------------------------- storing and indexing

# the reading index keeps, per syllable, the readings within this many nats of its likeliest one:
# on the training pairs that covers 99.9 % of what English-model OCR actually produced
FORWARD_MARGIN = 10.0
FORWARD_BEAM = 400


def channel_to_json(channel: SubstitutionChannel) -> dict[str, object]:
    """What `SubstitutionChannel.from_json` reads back."""
    return {
        "rules": [
            [a, b, round(lp, 4)]
            for a, betas in sorted(channel.rules.items())
            for b, lp in sorted(betas.items())
        ],
        "keep_adjust": {
            str(k): [round(v[0], 4), round(v[1], 4)] for k, v in sorted(channel.keep_adjust.items())
        },
        "edge_glyphs": {c: round(v, 4) for c, v in sorted(channel.edge_glyphs.items())},
        **{
            name: round(value, 4) if math.isfinite(value) else None
            for name, value in (
                ("split_logp", channel.split_logp),
                ("merge_logp", channel.merge_logp),
                ("unseen_logp", channel.unseen_logp),
                ("symbol_word_logp", channel.symbol_word_logp),
            )
        },
    }


def channel_logp(channel: SubstitutionChannel, observed: str, intended: str) -> float:
    """ln P(observed | intended): best cut of `intended` into rule pieces (−inf when impossible)."""
    n, m = len(intended), len(observed)
    best = [[-math.inf] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            score = best[i][j]
            if score == -math.inf:
                continue
            for a in range(1, MAX_ALPHA + 1):
                if i + a > n:
                    break
                betas = channel.rules.get(intended[i : i + a])
                if not betas:
                    continue
                for b in range(0, MAX_BETA + 1):
                    if j + b > m:
                        break
                    logp = betas.get(observed[j : j + b])
                    if logp is not None and score + logp > best[i + a][j + b]:
                        best[i + a][j + b] = score + logp
    return best[n][m]


def forward(
    channel: SubstitutionChannel, intended: str, beam: int = FORWARD_BEAM, margin: float = FORWARD_MARGIN
) -> dict[str, float]:
    """The likeliest readings of `intended`: observed string → ln P(observed | intended), all within
    `margin` nats of the likeliest (at most `beam` of them)."""
    rules = {
        alpha: sorted(((b, lp) for b, lp in betas.items() if lp >= MIN_RULE_LOGP), key=lambda e: -e[1])
        for alpha, betas in channel.rules.items()
    }
    n = len(intended)
    beams: list[dict[str, float]] = [{} for _ in range(n + 1)]
    beams[0][""] = 0.0
    for i in range(n):
        if not beams[i]:
            continue
        ranked = sorted(beams[i].items(), key=lambda e: -e[1])
        top = ranked[0][1]
        ranked = [e for e in ranked[:beam] if e[1] >= top - margin]
        for width in range(1, MAX_ALPHA + 1):
            betas = rules.get(intended[i : i + width]) if i + width <= n else None
            if not betas:
                continue
            target = beams[i + width]
            for seen, score in ranked:
                for beta, logp in betas:
                    total = score + logp
                    if total < top - margin:
                        break
                    reading = seen + beta
                    if total > target.get(reading, -math.inf):
                        target[reading] = total
    if not beams[n]:
        return {}
    final = sorted(beams[n].items(), key=lambda e: -e[1])
    best = final[0][1]
    return {reading: score for reading, score in final[:beam] if score >= best - margin}


SymbolRules = dict[str, list[tuple[str, float]]]


def symbol_rules(channel: SubstitutionChannel) -> SymbolRules:
    """The channel's rules that read a piece as digits and symbols (no letter, no separator) or as
    nothing: what makes a token the restorer takes for a misread short word (`is_symbol_token`)."""
    return {
        alpha: [
            (beta, logp)
            for beta, logp in betas.items()
            if logp >= MIN_RULE_LOGP and not any(c.isalpha() or c in SEPARATORS for c in beta)
        ]
        for alpha, betas in channel.rules.items()
    }


def symbol_readings(rules: SymbolRules, intended: str, floor: float) -> dict[str, float]:
    """Readings of `intended` made of one or two digits or symbols (13 for là, 10 for lộ) by `rules`
    (`symbol_rules`), with ln P(reading | intended) ≥ `floor`: the best cut into rule pieces."""
    n = len(intended)
    states: list[dict[str, float]] = [{} for _ in range(n + 1)]
    states[0][""] = 0.0
    for i in range(n):
        for width in range(1, MAX_ALPHA + 1):
            betas = rules.get(intended[i : i + width]) if i + width <= n else None
            if not betas:
                continue
            target = states[i + width]
            for seen, score in states[i].items():
                for beta, logp in betas:
                    total, reading = score + logp, seen + beta
                    if total >= floor and len(reading) <= MAX_SYMBOL_TOKEN and total > target.get(reading, -math.inf):
                        target[reading] = total
    return {reading: logp for reading, logp in states[n].items() if reading}


def build_reading_index(channel: SubstitutionChannel, syllables: Iterable[str]) -> ReadingIndex:
    """The likeliest readings of every syllable (`forward`), indexed by what was read. A token of digits
    or symbols is never searched for backwards (`Restorer._symbol_candidates`): its readings of a word
    are kept down to the backward search's margin (BEAM_MARGIN below the word's likeliest reading)."""
    words = sorted(set(syllables))
    rules = symbol_rules(channel)
    readings: dict[str, list[tuple[int, float]]] = {}
    for index, word in enumerate(words):
        found = forward(channel, word)
        if found:
            floor = max(found.values()) - BEAM_MARGIN
            for reading, logp in symbol_readings(rules, word, floor).items():
                found[reading] = max(logp, found.get(reading, -math.inf))
        for reading, logp in found.items():
            readings.setdefault(reading, []).append((index, logp))
    observed = sorted(readings)
    counts = [len(readings[o]) for o in observed]
    flat = [entry for o in observed for entry in readings[o]]
    return ReadingIndex(
        words,
        np.array(observed),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.array([i for i, _ in flat], dtype=np.uint16),
        np.array([lp for _, lp in flat], dtype=np.float32),
    )


def reading_arrays(index: ReadingIndex, prefix: str) -> dict[str, np.ndarray]:
    """What `ReadingIndex.from_arrays` reads back."""
    return {
        f"{prefix}_syllables": np.array(index.syllables),
        f"{prefix}_observed": index.observed,
        f"{prefix}_counts": np.diff(index.starts).astype(np.uint16),
        f"{prefix}_ids": index.ids.astype(np.uint16),
        f"{prefix}_logp": index.logp.astype(np.float16),
    }


def reading_lookup(index: ReadingIndex, observed: str) -> list[tuple[str, float]] | None:
    """(syllable, ln P(observed | syllable)) pairs of one reading, or None for one never precomputed."""
    rows = {reading: k for k, reading in enumerate(index.observed.tolist())}
    k = rows.get(observed)
    if k is None:
        return None
    start, end = int(index.starts[k]), int(index.starts[k + 1])
    return [
        (index.syllables[int(i)], float(lp))
        for i, lp in zip(index.ids[start:end], index.logp[start:end], strict=True)
    ]

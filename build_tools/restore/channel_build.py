"""Training of the OCR channel from (intended line, OCR'd line) pairs: word and letter alignment, rules."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from pipeline.restore.channel import MAX_ALPHA, MAX_BETA, SubstitutionChannel, confidence_bucket
from pipeline.restore.syllables import is_valid, normalize_text, skeleton
from pipeline.restore.tokens import Kind, classify, split_edges

PRIOR_WEIGHT = 5.0  # pseudo-counts pulling a letter's rules towards those of letters with its skeleton
MIN_PAIR_RULE_COUNT = 3  # two-letter rules must be seen this often and beat their one-letter product
MIN_RULE_PROBABILITY = 1e-4


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
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))


def _distance(a: str, b: str) -> float:
    return Levenshtein.normalized_distance(skeleton(a).lower(), skeleton(b).lower())


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

    def moves(i: int, j: int) -> Iterator[tuple[int, int, float]]:
        if i < n and j < m:
            yield 1, 1, _distance(intended[i], observed[j])
        if i < n:
            yield 1, 0, 1.0
        if j < m:
            yield 0, 1, 1.0
        if i < n and j + 1 < m:
            yield 1, 2, _distance(intended[i], observed[j] + observed[j + 1]) + 0.15
        if i + 1 < n and j < m:
            yield 2, 1, _distance(intended[i] + intended[i + 1], observed[j]) + 0.15

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
                lower = core.lower()
                if classify(core, True) is not Kind.WORD or not is_valid(lower):
                    continue
                _, seen, _ = split_edges(normalize_text(observed[right[0]]))
                if seen:
                    pairs.append(WordPair(lower, seen.lower(), conf[right[0]]))
            elif len(left) == 1 and len(right) == 2:
                stats.splits += 1
                _add_example(stats, "split", intended[left[0]], " ".join(observed[k] for k in right))
            elif len(left) == 2 and len(right) == 1:
                stats.merges += 1
                _add_example(stats, "merge", " ".join(intended[k] for k in left), observed[right[0]])
            elif len(left) == 1:
                stats.dropped += 1
            else:
                stats.inserted += 1
    return pairs


def _add_example(stats: PairStats, kind: str, intended: str, observed: str) -> None:
    if len(stats.examples[kind]) < 20:
        stats.examples[kind].append((intended, observed))


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
    split = merge = -math.inf
    if stats is not None and stats.words:
        split = math.log((stats.splits + 1) / (stats.words + 2))
        merge = math.log((stats.merges + 1) / (stats.words + 2))
    return SubstitutionChannel(rules, _keep_adjust(kept_by_bucket, total_by_bucket), split, merge, unseen)


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

"""OCR error model: P(observed token | intended syllable) from learned substring substitutions.

Brill–Moore style: an intended syllable is cut into pieces of one or two letters, each piece is read as
zero to three observed characters with a learned probability, and the best cut counts. Candidates for
an observed token come from running the rules backwards, guided by the prefixes of known syllables."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_ALPHA = 2  # longest intended piece
MAX_BETA = 3  # longest observed piece
MAX_DELETIONS = 2  # intended letters the OCR may drop from one syllable
MIN_RULE_LOGP = math.log(1e-4)  # rarer substitutions are not worth searching
BEAM = 48  # partial hypotheses kept per observed position
BEAM_MARGIN = 14.0  # and only those within this many nats of the best
MAX_OBSERVED = 12  # longer tokens are not one syllable
# OCR word confidences are grouped into buckets; the channel learns P(word read right | bucket).
CONFIDENCE_EDGES = (50.0, 75.0, 90.0, 96.0)


def confidence_bucket(confidence: float | None) -> int:
    """0..4 for known confidences (low → high), 5 for unknown."""
    if confidence is None or math.isnan(confidence):
        return len(CONFIDENCE_EDGES) + 1
    return sum(confidence >= edge for edge in CONFIDENCE_EDGES)


@dataclass
class SubstitutionChannel:
    """Learned rules alpha (intended piece) → beta (observed piece) with ln P(beta | alpha)."""

    rules: dict[str, dict[str, float]]
    # per confidence bucket: ln-ratio adjustments for (word read exactly, word misread)
    keep_adjust: dict[int, tuple[float, float]] = field(default_factory=dict)
    reverse: dict[str, list[tuple[str, float]]] = field(init=False, repr=False)
    deletions: list[tuple[str, float]] = field(init=False, repr=False)

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

    def to_json(self) -> dict[str, object]:
        return {
            "rules": [
                [a, b, round(lp, 4)]
                for a, betas in sorted(self.rules.items())
                for b, lp in sorted(betas.items())
            ],
            "keep_adjust": {
                str(k): [round(v[0], 4), round(v[1], 4)] for k, v in sorted(self.keep_adjust.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SubstitutionChannel:
        rules: dict[str, dict[str, float]] = {}
        for alpha, beta, logp in data["rules"]:  # type: ignore[attr-defined]
            rules.setdefault(alpha, {})[beta] = float(logp)
        keep = {int(k): (float(v[0]), float(v[1])) for k, v in data.get("keep_adjust", {}).items()}  # type: ignore[attr-defined]
        return cls(rules, keep)

    def logp(self, observed: str, intended: str) -> float:
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
                    betas = self.rules.get(intended[i : i + a])
                    if not betas:
                        continue
                    for b in range(0, MAX_BETA + 1):
                        if j + b > m:
                            break
                        logp = betas.get(observed[j : j + b])
                        if logp is not None and score + logp > best[i + a][j + b]:
                            best[i + a][j + b] = score + logp
        return best[n][m]

    def search(
        self, observed: str, prefixes: frozenset[str] | set[str], words: frozenset[str] | set[str]
    ) -> list[tuple[str, float]]:
        """Intended words (members of `words`) that may have produced `observed`, with ln P(observed | word)."""
        n = len(observed)
        if n == 0 or n > MAX_OBSERVED:
            return []
        beams: list[dict[str, float]] = [{} for _ in range(n + 1)]
        beams[0][""] = 0.0
        reverse, deletions = self.reverse, self.deletions
        for j in range(n + 1):
            states = beams[j]
            if not states:
                continue
            frontier = list(states.items())
            for _ in range(MAX_DELETIONS):
                grown = []
                for prefix, score in frontier:
                    for alpha, logp in deletions:
                        candidate = prefix + alpha
                        total = score + logp
                        if candidate in prefixes and total > states.get(candidate, -math.inf):
                            states[candidate] = total
                            grown.append((candidate, total))
                if not grown:
                    break
                frontier = grown
            if len(states) > 1:
                top = max(states.values())
                kept = sorted(((s, p) for p, s in states.items() if s >= top - BEAM_MARGIN), reverse=True)[
                    :BEAM
                ]
                states = beams[j] = {p: s for s, p in kept}
            if j == n:
                break
            for b in range(1, MAX_BETA + 1):
                if j + b > n:
                    break
                entries = reverse.get(observed[j : j + b])
                if not entries:
                    continue
                target = beams[j + b]
                for prefix, score in states.items():
                    for alpha, logp in entries:
                        candidate = prefix + alpha
                        if candidate in prefixes:
                            total = score + logp
                            if total > target.get(candidate, -math.inf):
                                target[candidate] = total
        return sorted(((p, s) for p, s in beams[n].items() if p in words), key=lambda e: -e[1])


def prefix_set(words: Iterable[str]) -> frozenset[str]:
    """Every prefix (including the whole word) of every word."""
    prefixes: set[str] = set()
    for word in words:
        for end in range(1, len(word) + 1):
            prefixes.add(word[:end])
    return frozenset(prefixes)

"""Where each line of a text comes from: word evidence, its rates per source, and line regimes.

A page may mix sources: legacy archives hold English-model OCR with typed inserts, pasted texts mix
correct lines with lines typed without marks. Every word gives one piece of evidence (a letter only
Vietnamese writing has, a symbol among letters, a Latin-1 accent, bare letters...); how often each
source shows each piece is learnt from the channel's training pairs (`make models`). A page's lines
are then labelled by a sticky mixture: the page's own mix of sources is the prior of every line
(estimated from the page by EM), and a line keeps the source of the line before unless its words
say otherwise, so that short lines follow their neighbours."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np

from pipeline.restore.syllables import MARKED_LETTERS, VIETNAMESE_ONLY, skeleton
from pipeline.restore.tokens import SEPARATORS, Kind, capitals_are_words, classify, split_edges, split_parts


class Regime(Enum):
    """Where a line comes from; each has its own channel."""

    PLAIN = "plain"  # typed without diacritics: only the marks are missing
    ENGLISH = "eng"  # OCR'd with an English model: marks lost, letters garbled, digits for vowels
    VIETNAMESE = "vie"  # correct text, or OCR'd with a Vietnamese model: tone/hat confusions


REGIMES = (Regime.PLAIN, Regime.ENGLISH, Regime.VIETNAMESE)


class Evidence(IntEnum):
    """What one word token says about its source (the first that applies)."""

    VIETNAMESE_LETTER = 0  # ư, ơ, ạ, ả, ấ...: never output by an English (Latin-1) OCR model
    SYMBOL = 1  # a digit, symbol or non-Vietnamese letter among letters (d6, ma&i, ç)
    LATIN1_ACCENT = 2  # an accent Latin-1 shares with Vietnamese (é, ô, à): marks, or OCR misreadings
    BARE_WORD = 3  # plain letters spelling a word mostly written so (cho, ban, theo)
    BARE_STRIPPED = 4  # plain letters of a word mostly written with marks (nguoi, thuc, hien)
    FOREIGN = 5  # lowercase plain letters that no Vietnamese syllable has (English, garbled: ctia)
    FOREIGN_NAME = 6  # the same capitalised: mostly names (Bunin, Maradona), which any source has


EVIDENCE_CLASSES = len(Evidence)
LATIN1_ACCENTED = "àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ"
_VIETNAMESE_RE = re.compile("[" + "".join(sorted(VIETNAMESE_ONLY)) + "]")
_LATIN1_RE = re.compile("[" + LATIN1_ACCENTED + "]")
# not an ASCII letter, a Vietnamese letter or a compound separator (V/v, kinh-tế)
_SYMBOL_RE = re.compile(
    "[^A-Za-z" + "".join(sorted(MARKED_LETTERS)) + "".join(re.escape(s) for s in sorted(SEPARATORS)) + "]"
)
_SEPARATOR_RE = re.compile("[" + "".join(re.escape(s) for s in sorted(SEPARATORS)) + "]")
BARE_WORD_SHARE = 0.5  # share of a skeleton's uses written without marks that makes a bare word
STAY = 0.9  # P(a line has the source of the line before), else a source drawn from the page's mix
PRIOR_PSEUDO_LINES = 1.0  # per source, added to the page's line counts when estimating its mix
PRIOR_ITERATIONS = 3  # EM steps for the page's mix
MIN_RATE = 1e-4  # floor of any evidence rate: no piece of evidence rules a source out entirely


def bare_shares(words: Sequence[str], is_syllable: np.ndarray, unigram_logp: np.ndarray) -> dict[str, float]:
    """Per lowercase skeleton of the LM's syllables: the share of its unigram mass that the word
    written without marks holds (`cho` high, `nguoi` 0)."""
    total: dict[str, float] = {}
    bare: dict[str, float] = {}
    for index in np.flatnonzero(is_syllable).tolist():
        word = words[index]
        key = skeleton(word)
        mass = math.exp(float(unigram_logp[index]))
        total[key] = total.get(key, 0.0) + mass
        if key == word:
            bare[key] = bare.get(key, 0.0) + mass
    return {key: bare.get(key, 0.0) / mass for key, mass in total.items()}


def word_evidence(core: str, shares: dict[str, float]) -> Evidence | None:
    """The evidence of one word (no separators inside); None for what is not a word of letters."""
    if core.isascii() and core.isalpha():  # the usual case, quickly: bare letters
        share = shares.get(core.lower())
        if share is None:
            return Evidence.FOREIGN_NAME if core[0].isupper() else Evidence.FOREIGN
        return Evidence.BARE_WORD if share >= BARE_WORD_SHARE else Evidence.BARE_STRIPPED
    if _VIETNAMESE_RE.search(core):
        return Evidence.VIETNAMESE_LETTER
    if _SYMBOL_RE.search(core):
        return Evidence.SYMBOL
    if _LATIN1_RE.search(core):
        return Evidence.LATIN1_ACCENT
    if not core.isalpha():
        return None
    share = shares.get(core.lower())
    if share is None:
        return Evidence.FOREIGN_NAME if core[0].isupper() else Evidence.FOREIGN
    return Evidence.BARE_WORD if share >= BARE_WORD_SHARE else Evidence.BARE_STRIPPED


def token_evidence(core: str, shares: dict[str, float]) -> list[Evidence]:
    """The evidence of a word token's core: one piece, or one per part of two letters or more of a
    compound (kinh-te, tài:sản; the V and v of V/v say nothing)."""
    if core.isalpha() or not _SEPARATOR_RE.search(core):
        evidence = word_evidence(core, shares)
        return [] if evidence is None else [evidence]
    found = []
    for part in split_parts(core):
        if len(part) >= 2 and part not in SEPARATORS:
            evidence = word_evidence(part, shares)
            if evidence is not None:
                found.append(evidence)
    return found


def line_evidence(line: str, shares: dict[str, float]) -> list[Evidence]:
    """The evidence of the word tokens of one line (training lines: the decoder has its own tokens)."""
    cores = [split_edges(token)[1] for token in line.split()]
    found: list[Evidence] = []
    for core, caps in zip(cores, capitals_are_words(cores), strict=True):
        if classify(core, caps) is Kind.WORD:
            found.extend(token_evidence(core, shares))
    return found


@dataclass
class RegimeModel:
    """ln P(evidence | regime) per regime, and the labelling of a page's lines."""

    logp: dict[Regime, tuple[float, ...]]

    @classmethod
    def estimate(cls, lines: dict[Regime, Iterable[Sequence[Evidence]]]) -> RegimeModel:
        """Rates from the evidence of sample lines of each regime (add-one smoothing, floored)."""
        logp: dict[Regime, tuple[float, ...]] = {}
        for regime, samples in lines.items():
            counts = np.ones(EVIDENCE_CLASSES)
            for evidence in samples:
                for item in evidence:
                    counts[int(item)] += 1
            rates = np.maximum(counts / counts.sum(), MIN_RATE)
            logp[regime] = tuple(float(v) for v in np.log(rates / rates.sum()))
        return cls(logp)

    def to_json(self) -> dict[str, dict[str, float]]:
        return {
            regime.value: {item.name: round(self.logp[regime][item], 4) for item in Evidence}
            for regime in REGIMES
            if regime in self.logp
        }

    @classmethod
    def from_json(cls, data: dict[str, dict[str, float]]) -> RegimeModel:
        return cls(
            {
                Regime(name): tuple(float(rates[item.name]) for item in Evidence)
                for name, rates in data.items()
            }
        )

    def line_regimes(self, counts: np.ndarray, allowed: Iterable[Regime]) -> list[Regime]:
        """The regime of every line, from its evidence counts (lines × `Evidence` classes). Lines
        without evidence take the regime of the line before (the first ones, of the line after)."""
        regimes = [r for r in REGIMES if r in allowed and r in self.logp]
        lines = len(counts)
        if len(regimes) == 1 or lines == 0:
            return [regimes[0] if regimes else Regime.PLAIN] * lines
        rates = np.array([self.logp[r] for r in regimes])
        informative = np.flatnonzero(counts.sum(axis=1) > 0)
        if len(informative) == 0:
            return [_default(regimes)] * lines
        scores = counts[informative] @ rates.T  # ln P(line's evidence | regime)
        prior = _page_mix(scores)
        # Viterbi over the informative lines: stay, or switch to a regime drawn from the page's mix
        transition = np.log(STAY * np.eye(len(regimes)) + (1 - STAY) * prior[None, :])
        best = np.log(prior) + scores[0]
        back = np.zeros((len(informative), len(regimes)), dtype=np.int64)
        for k in range(1, len(informative)):
            total = best[:, None] + transition
            back[k] = np.argmax(total, axis=0)
            best = total[back[k], np.arange(len(regimes))] + scores[k]
        path = np.zeros(len(informative), dtype=np.int64)
        path[-1] = int(np.argmax(best))
        for k in range(len(informative) - 1, 0, -1):
            path[k - 1] = back[k, path[k]]
        labels: list[Regime] = []
        cursor = 0
        for line in range(lines):
            while cursor + 1 < len(informative) and informative[cursor + 1] <= line:
                cursor += 1
            labels.append(regimes[path[cursor]])
        return labels


def _default(regimes: list[Regime]) -> Regime:
    """Without any evidence, text is left to the most conservative regime available."""
    for regime in (Regime.VIETNAMESE, Regime.PLAIN, Regime.ENGLISH):
        if regime in regimes:
            return regime
    return regimes[0]


def _page_mix(scores: np.ndarray) -> np.ndarray:
    """The page's mix of regimes: EM on the mixture weights, from an even start, with pseudo-lines."""
    count = scores.shape[1]
    prior = np.full(count, 1.0 / count)
    for _ in range(PRIOR_ITERATIONS):
        joint = scores + np.log(prior)
        joint -= joint.max(axis=1, keepdims=True)
        posterior = np.exp(joint)
        posterior /= posterior.sum(axis=1, keepdims=True)
        prior = (posterior.sum(axis=0) + PRIOR_PSEUDO_LINES) / (len(scores) + count * PRIOR_PSEUDO_LINES)
    return prior

"""How often each source of text shows each piece of word evidence (`make models`): the regime model's
rates, counted on the channel's training lines and on English word frequencies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from pipeline.restore.regimes import (
    EVIDENCE_CLASSES,
    REGIMES,
    Evidence,
    Lexicon,
    Regime,
    RegimeModel,
    token_evidence,
)
from pipeline.restore.tokens import Kind, capitals_are_words, classify, split_edges

MIN_RATE = 1e-4  # floor of any evidence rate: no piece of evidence rules a source out entirely


def line_evidence(line: str, lexicon: Lexicon) -> list[Evidence]:
    """The evidence of the word tokens of one line (training lines: the decoder has its own tokens)."""
    cores = [split_edges(token)[1] for token in line.split()]
    found: list[Evidence] = []
    for core, caps in zip(cores, capitals_are_words(cores), strict=True):
        if classify(core, caps) is Kind.WORD:
            found.extend(token_evidence(core, lexicon))
    return found


def evidence_counts(lines: Iterable[Sequence[Evidence]]) -> np.ndarray:
    """How often each piece of evidence occurs in the evidence of sample lines."""
    counts = np.zeros(EVIDENCE_CLASSES)
    for evidence in lines:
        for item in evidence:
            counts[int(item)] += 1
    return counts


def word_list_counts(
    frequencies: dict[str, float], lexicon: Lexicon, capitalised: float, words: float
) -> np.ndarray:
    """The evidence of `words` words of running text in another language, from its word
    frequencies: each word in lowercase, and a share `capitalised` of its uses with a capital."""
    counts = np.zeros(EVIDENCE_CLASSES)
    for word, frequency in frequencies.items():
        for form, weight in ((word, 1.0 - capitalised), (word[:1].upper() + word[1:], capitalised)):
            for item in token_evidence(form, lexicon):
                counts[int(item)] += frequency * weight
    return counts * (words / max(counts.sum(), 1e-12))


def estimate_regimes(counts: dict[Regime, np.ndarray]) -> RegimeModel:
    """Rates from the evidence counts of each regime's samples (normalised, smoothed with one
    observation spread over the classes, floored)."""
    logp: dict[Regime, tuple[float, ...]] = {}
    for regime, seen in counts.items():
        rates = (seen + 1.0 / EVIDENCE_CLASSES) / (seen.sum() + 1.0)
        rates = np.maximum(rates, MIN_RATE)
        logp[regime] = tuple(float(v) for v in np.log(rates / rates.sum()))
    return RegimeModel(logp)


def regimes_to_json(model: RegimeModel) -> dict[str, dict[str, float]]:
    """What `RegimeModel.from_json` reads back."""
    return {
        regime.value: {item.name: round(model.logp[regime][item], 4) for item in Evidence}
        for regime in REGIMES
        if regime in model.logp
    }

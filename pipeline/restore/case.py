"""The case model: how likely each word is written capitalised where its place does not call for it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from pipeline.vietnamese import tone_key

# pseudo-counts of the corpus-wide share given to every word: a word seen a few times keeps close to it
PRIOR_COUNT = 10.0


class CaseModel:
    """Weighted corpus counts of each syllable's capitalised and lowercase uses where
    `tokens.word_case` says something (built by `build_tools.restore.case_build`)."""

    def __init__(self, counts: Mapping[str, tuple[float, float]]) -> None:
        self.counts = dict(counts)
        capitalised = sum(c for c, _ in self.counts.values())
        total = capitalised + sum(lower for _, lower in self.counts.values())
        # add-one smoothed, so that neither reading is impossible where the corpus writes a word only one way
        self.prior = (capitalised + 1.0) / (total + 2.0)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> CaseModel:
        words, capitalised, lowercase = arrays["words"], arrays["capitalised"], arrays["lowercase"]
        return cls({str(w): (float(c), float(n)) for w, c, n in zip(words, capitalised, lowercase, strict=True)})

    def logp(self, words: Sequence[str]) -> tuple[list[float], list[float]]:
        """Per word of `words` (an LM vocabulary), ln P(written capitalised | word) and ln P(written in
        lowercase | word), smoothed towards the corpus-wide share; a word the model lacks (a
        non-syllable unit, the unknown word) gets that share."""
        capitalised, lowercase = [], []
        for word in words:
            seen, lower = self.counts.get(tone_key(word), (0.0, 0.0))
            share = (seen + PRIOR_COUNT * self.prior) / (seen + lower + PRIOR_COUNT)
            capitalised.append(math.log(share))
            lowercase.append(math.log1p(-share))
        return capitalised, lowercase

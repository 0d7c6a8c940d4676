"""The corpus as LM units: every line of text turned into unit ids, the first step of `make models`
(cached under build/ by the hash of this code and of the token and syllable rules it uses)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.restore.lm import BOS_ID, EOS_ID, SPECIALS
from pipeline.restore.tokens import line_units
from pipeline.vietnamese import MARKED_LETTERS, could_be_syllable


@dataclass
class EncodedCorpus:
    """Lines of one corpus file as unit ids: each line is <s> <s> <s> units… </s>."""

    name: str
    weight: int
    ids: np.ndarray  # int32, provisional ids (index into `units`)


def is_unmarked_line(line: str) -> bool:
    """A line of several syllable-like words almost none of which carries a mark: Vietnamese typed
    without diacritics (file names, slugs) or English. Training on it would teach the LM that
    unmarked spellings are normal, so such lines are left out."""
    words = [w.lower() for w in line.split() if w.isalpha()]
    syllables = [w for w in words if any(c in MARKED_LETTERS for c in w) or could_be_syllable(w)]
    if len(syllables) < 4:
        return False
    marked = sum(any(c in MARKED_LETTERS for c in w) for w in syllables)
    return marked < 0.2 * len(syllables)


PAD = 3  # <s> tokens before every line: enough context padding for models up to 4-grams
_PADDING = [BOS_ID] * PAD


class UnitEncoder:
    """Gives every distinct unit string a provisional id while the corpus is read."""

    def __init__(self, units: Sequence[str] = SPECIALS) -> None:
        """`units`: ids given already (a cached encoding to continue), starting with the specials."""
        self.units: list[str] = list(units)
        self.index: dict[str, int] = {unit: i for i, unit in enumerate(self.units)}
        self._token_cache: dict[tuple[str, bool], tuple[str, ...]] = {}

    def encode_lines(self, lines: Iterable[str]) -> np.ndarray:
        out: list[int] = []
        index = self.index
        for line in lines:
            if is_unmarked_line(line):
                continue
            out.extend(_PADDING)
            for unit in line_units(line, self._token_cache):
                unit_id = index.get(unit)
                if unit_id is None:
                    unit_id = index[unit] = len(self.units)
                    self.units.append(unit)
                out.append(unit_id)
            out.append(EOS_ID)
        return np.asarray(out, dtype=np.int32)



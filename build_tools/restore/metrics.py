"""Quality measures of restored text against references (bench-restore): character error rate,
syllable accuracy, bag-of-words F1, words changed."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from pipeline.restore.tokens import Kind, classify, split_edges
from pipeline.vietnamese import is_valid, tone_key


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


def cer(references: Sequence[str], outputs: Sequence[str]) -> float:
    """Character error rate, case-insensitive (pyvi lowercases everything), whitespace collapsed."""
    errors = sum(
        Levenshtein.distance(" ".join(fold(r).split()), " ".join(fold(o).split()))
        for r, o in zip(references, outputs, strict=True)
    )
    return errors / max(1, sum(len(" ".join(r.split())) for r in references))


def _token_key(token: str) -> str:
    _, core, _ = split_edges(token)
    return tone_key(core.lower())


def syllable_accuracy(references: Sequence[str], outputs: Sequence[str]) -> tuple[int, int]:
    """Correct and total syllables of the references; tone placement (hoà/hòa) and case do not count.

    Each output is aligned with its reference by edit distance over tokens, so that a word split,
    joined or lost costs that word, not every word after it."""
    correct = total = 0
    for reference, output in zip(references, outputs, strict=True):
        tokens = reference.split()
        positions = [
            k
            for k, token in enumerate(tokens)
            if classify(split_edges(token)[1], True) is Kind.WORD and is_valid(split_edges(token)[1].lower())
        ]
        total += len(positions)
        if not positions:
            continue
        matched: set[int] = set()
        for block in Levenshtein.opcodes(
            [_token_key(t) for t in tokens], [_token_key(t) for t in output.split()]
        ):
            if block.tag == "equal":
                matched.update(range(block.src_start, block.src_end))
        correct += sum(k in matched for k in positions)
    return correct, total


def bag_of_words_f1(reference: str, output: str) -> float:
    """F1 of the multisets of words (case-folded, punctuation stripped): blind to reading order."""
    want = Counter(w for w in (split_edges(t)[1].lower() for t in fold(reference).split()) if w)
    got = Counter(w for w in (split_edges(t)[1].lower() for t in fold(output).split()) if w)
    overlap = sum((want & got).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def words_changed(inputs: Sequence[str], outputs: Sequence[str]) -> tuple[int, int]:
    """Word-level edits from the inputs to the outputs, and the number of input words."""
    edits = sum(Levenshtein.distance(i.split(), o.split()) for i, o in zip(inputs, outputs, strict=True))
    return edits, sum(len(i.split()) for i in inputs)

"""Text metrics: character and word error rates, syllable accuracy, bag-of-words F1, and the counts behind them.

Every function takes the reference (the truth) first and the hypothesis (what a system produced) second and
returns counts, not ratios, so that figures are summed over pages and documents before they are divided.
The metrics depend on nothing in the pipeline: a change to a stage never changes how it is measured.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

# Vietnamese tone marks as combining characters (grave, acute, tilde, hook above, dot below). The other marks
# (circumflex, breve, horn) make a different letter and stay.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Punctuation around a word that is not part of it (quotes, brackets, sentence marks).
EDGE_PUNCTUATION = "\"'“”‘’«»()[]{}<>.,;:!?…"


@dataclass
class ErrorRate:
    """Edit operations against the reference's length: CER over characters, WER over words."""

    errors: int = 0
    total: int = 0

    def __add__(self, other: ErrorRate) -> ErrorRate:
        return ErrorRate(self.errors + other.errors, self.total + other.total)

    @property
    def rate(self) -> float:
        """Errors per reference unit (0 for an empty reference read as empty; can exceed 1)."""
        return self.errors / max(1, self.total)


@dataclass
class Accuracy:
    correct: int = 0
    total: int = 0

    def __add__(self, other: Accuracy) -> Accuracy:
        return Accuracy(self.correct + other.correct, self.total + other.total)

    @property
    def rate(self) -> float:
        """Share correct (1 when there was nothing to get right)."""
        return self.correct / self.total if self.total else 1.0


@dataclass
class Counts:
    """True positives, false positives and false negatives of a set of predicted items."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """Share of predicted items that are right (1 when nothing was predicted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of true items found (1 when there was nothing to find)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def normalise(text: str) -> str:
    """NFC, every run of whitespace (line breaks, form feeds) one space, no space at either end."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def cer(reference: str, hypothesis: str, *, ignore_case: bool = False) -> ErrorRate:
    """Character edit distance between the normalised texts, over the normalised reference's length."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if ignore_case:
        ref, hyp = ref.lower(), hyp.lower()
    return ErrorRate(Levenshtein.distance(ref, hyp), len(ref))


def wer(reference: str, hypothesis: str, *, ignore_case: bool = False) -> ErrorRate:
    """Word edit distance (whitespace-separated words, punctuation included) over the reference's words."""
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    if ignore_case:
        ref, hyp = [w.lower() for w in ref], [w.lower() for w in hyp]
    return ErrorRate(Levenshtein.distance(ref, hyp), len(ref))


def word_core(token: str) -> str:
    """A token without the punctuation around it ("(b/c);" → "b/c")."""
    return token.strip(EDGE_PUNCTUATION)


def tone_key(word: str) -> str:
    """A word compared letter by letter whatever the case and wherever its tone mark sits: "Hoà" and "hòa"
    give the same key, "hoa" and "hỏa" do not."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    letters = "".join(ch for ch in decomposed if ch not in TONE_MARKS)
    tones = "".join(sorted(ch for ch in decomposed if ch in TONE_MARKS))
    return unicodedata.normalize("NFC", letters) + tones


def is_syllable(token: str) -> bool:
    """A word made of letters only: what a Vietnamese syllable is on the page (codes and numbers are not)."""
    core = word_core(token)
    return bool(core) and core.isalpha()


def syllable_accuracy(reference: str, hypothesis: str) -> Accuracy:
    """Reference syllables the hypothesis has right, ignoring case, tone-mark placement and the punctuation
    around them. The two token sequences are aligned by edit distance first, so a word split, joined, lost or
    added costs that word only, not every word after it."""
    ref_tokens, hyp_tokens = normalise(reference).split(), normalise(hypothesis).split()
    wanted = [tone_key(word_core(token)) for token in ref_tokens]
    produced = [tone_key(word_core(token)) for token in hyp_tokens]
    matched: set[int] = set()
    for block in Levenshtein.opcodes(wanted, produced):
        if block.tag == "equal":
            matched.update(range(block.src_start, block.src_end))
    syllables = [index for index, token in enumerate(ref_tokens) if is_syllable(token)]
    return Accuracy(sum(index in matched for index in syllables), len(syllables))


def bag_of_words(reference: str, hypothesis: str, *, ignore_case: bool = False) -> Counts:
    """Words (without surrounding punctuation) counted as multisets, whatever their order: a reading order
    that differs from the reference's costs nothing here, unlike CER and WER."""

    def bag(text: str) -> Counter[str]:
        words = (word_core(token) for token in normalise(text).split())
        return Counter(word.lower() if ignore_case else word for word in words if word)

    ref, hyp = bag(reference), bag(hypothesis)
    tp = sum((ref & hyp).values())
    return Counts(tp, sum(hyp.values()) - tp, sum(ref.values()) - tp)

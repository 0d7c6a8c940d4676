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
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np

from pipeline.restore.tokens import SEPARATORS, split_parts
from pipeline.vietnamese import MARKED_LETTERS, VIETNAMESE_ONLY, skeleton


class Regime(Enum):
    """Where a line comes from; each has its own channel."""

    PLAIN = "plain"  # typed without diacritics: only the marks are missing
    ENGLISH = "eng"  # OCR'd with an English model: marks lost, letters garbled, digits for vowels
    VIETNAMESE = "vie"  # correct text, or OCR'd with a Vietnamese model: tone/hat confusions
    FOREIGN = "foreign"  # another language (English titles, references): kept as written

    # members are singletons, equal only to themselves: hashed by identity, in C (Enum's own hash
    # of the name runs in Python, and regimes key the per-token memos, ~7 lookups per token)
    __hash__ = object.__hash__


REGIMES = (Regime.PLAIN, Regime.ENGLISH, Regime.VIETNAMESE, Regime.FOREIGN)
# regimes that need no channel of their own
CHANNEL_FREE = (Regime.PLAIN, Regime.FOREIGN)


class Evidence(IntEnum):
    """What one word token says about its source (the first that applies)."""

    VIETNAMESE_LETTER = 0  # ư, ơ, ạ, ả, ấ...: never output by an English (Latin-1) OCR model
    SYMBOL = 1  # a digit, symbol or non-Vietnamese letter among letters (d6, ma&i, ç)
    LATIN1_ACCENT = 2  # an accent Latin-1 shares with Vietnamese (é, ô, à): marks, or OCR misreadings
    BARE_WORD = 3  # plain letters spelling a word mostly written so (cho, ban, theo)
    BARE_STRIPPED = 4  # plain letters of a word mostly written with marks (nguoi, thuc, hien)
    FOREIGN = 5  # lowercase plain letters that no Vietnamese syllable has (English, garbled: ctia)
    FOREIGN_NAME = 6  # the same capitalised: mostly names (Bunin, Maradona), which any source has
    MISREAD = 7  # plain letters, no syllable, but what the English-model channel reads one as (ngudi)
    MISREAD_SHORT = 8  # the same in three letters or fewer, as many English words are (is, at)


EVIDENCE_CLASSES = len(Evidence)
LATIN1_ACCENTED = "àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ"
_VIETNAMESE_RE = re.compile("[" + "".join(sorted(VIETNAMESE_ONLY)) + "]")
_LATIN1_RE = re.compile("[" + LATIN1_ACCENTED + "]")
# not an ASCII letter, a Vietnamese letter or a compound separator (V/v, kinh-tế)
_SYMBOL_RE = re.compile(
    "[^A-Za-z" + "".join(sorted(MARKED_LETTERS)) + "".join(re.escape(s) for s in sorted(SEPARATORS)) + "]"
)
_SEPARATOR_RE = re.compile("[" + "".join(re.escape(s) for s in sorted(SEPARATORS)) + "]")
SHORT_WORD = 3  # letters
BARE_WORD_SHARE = 0.5  # share of a skeleton's uses written without marks that makes a bare word
FOREIGN_WORDS = 0.1  # share of the words of a Vietnamese line that belong to another language
STAY = 0.9  # P(a line has the source of the line before), else a source drawn from the page's mix
PRIOR_PSEUDO_LINES = 1.0  # per source, added to the page's line counts when estimating its mix
PRIOR_ITERATIONS = 3  # EM steps for the page's mix


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


@dataclass(frozen=True)
class Lexicon:
    """What a word's evidence is judged against: the bare shares of the LM's syllable skeletons
    (`bare_shares`), and the strings the English-model channel reads syllables as."""

    shares: dict[str, float]
    misreadings: Container[str]


def word_evidence(core: str, lexicon: Lexicon) -> Evidence | None:
    """The evidence of one word (no separators inside); None for what is not a word of letters."""
    if core.isascii() and core.isalpha():  # the usual case, quickly: bare letters
        return _bare_evidence(core, lexicon)
    if _VIETNAMESE_RE.search(core):
        return Evidence.VIETNAMESE_LETTER
    if _SYMBOL_RE.search(core):
        return Evidence.SYMBOL
    if _LATIN1_RE.search(core):
        return Evidence.LATIN1_ACCENT
    if not core.isalpha():
        return None
    return _bare_evidence(core, lexicon)


def _bare_evidence(core: str, lexicon: Lexicon) -> Evidence:
    lower = core.lower()
    share = lexicon.shares.get(lower)
    if share is not None:
        return Evidence.BARE_WORD if share >= BARE_WORD_SHARE else Evidence.BARE_STRIPPED
    if lower in lexicon.misreadings:
        return Evidence.MISREAD if len(lower) > SHORT_WORD else Evidence.MISREAD_SHORT
    return Evidence.FOREIGN_NAME if core[0].isupper() else Evidence.FOREIGN


def token_evidence(core: str, lexicon: Lexicon) -> list[Evidence]:
    """The evidence of a word token's core: one piece, or one per part of two letters or more of a
    compound (kinh-te, tài:sản; the V and v of V/v say nothing)."""
    if core.isalpha() or not _SEPARATOR_RE.search(core):
        evidence = word_evidence(core, lexicon)
        return [] if evidence is None else [evidence]
    found = []
    for part in split_parts(core):
        if len(part) >= 2 and part not in SEPARATORS:
            evidence = word_evidence(part, lexicon)
            if evidence is not None:
                found.append(evidence)
    return found


@dataclass
class RegimeModel:
    """ln P(evidence | regime) per regime, and the labelling of a page's lines."""

    logp: dict[Regime, tuple[float, ...]]

    @classmethod
    def from_json(cls, data: dict[str, dict[str, float]]) -> RegimeModel:
        return cls(
            {
                Regime(name): tuple(float(rates[item.name]) for item in Evidence)
                for name, rates in data.items()
            }
        )

    def word_logp(self, regime: Regime) -> tuple[float, ...]:
        """ln P(evidence | regime) of one word of a line of `regime`: Vietnamese lines hold words of
        other languages too (terms, names: a share FOREIGN_WORDS), whose evidence is the foreign
        rates; so a few English words do not make a line English OCR or English text."""
        if regime is Regime.FOREIGN or Regime.FOREIGN not in self.logp:
            return self.logp[regime]
        own, foreign = np.exp(self.logp[regime]), np.exp(self.logp[Regime.FOREIGN])
        return tuple(float(v) for v in np.log((1 - FOREIGN_WORDS) * own + FOREIGN_WORDS * foreign))

    def line_regimes(self, counts: np.ndarray, allowed: Iterable[Regime]) -> list[Regime]:
        """The regime of every line, from its evidence counts (lines × `Evidence` classes). Lines
        without evidence take the regime of the line before (the first ones, of the line after)."""
        regimes = [r for r in REGIMES if r in allowed and r in self.logp]
        lines = len(counts)
        if len(regimes) == 1 or lines == 0:
            return [regimes[0] if regimes else Regime.PLAIN] * lines
        rates = np.array([self.word_logp(r) for r in regimes])
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
        return _foreign_among_plain(labels)


def _foreign_among_plain(labels: list[Regime]) -> list[Regime]:
    """A line in another language whose nearest Vietnamese line (before it, else after it) was typed
    without marks is most likely typed the same way, a Vietnamese line full of foreign words
    (Cutter: fast ball co do cat): it is restored as plain text. Among correct or OCR'd lines it is
    kept as written."""
    nearest: list[Regime | None] = [None] * len(labels)
    last: Regime | None = None
    for index in range(len(labels) - 1, -1, -1):  # the next Vietnamese line, for lines with none before
        if labels[index] is not Regime.FOREIGN:
            last = labels[index]
        nearest[index] = last
    last = None
    for index, label in enumerate(labels):
        if label is not Regime.FOREIGN:
            last = label
        elif last is not None:
            nearest[index] = last
    return [
        Regime.PLAIN if r is Regime.FOREIGN and n is Regime.PLAIN else r
        for r, n in zip(labels, nearest, strict=True)
    ]


def _default(regimes: list[Regime]) -> Regime:
    """Without any evidence, text is left to the most conservative regime available."""
    for regime in (Regime.VIETNAMESE, Regime.FOREIGN, Regime.PLAIN, Regime.ENGLISH):
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

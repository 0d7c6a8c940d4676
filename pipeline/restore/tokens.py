"""Token rules: punctuation around words, protected tokens (numbers, codes, abbreviations, URLs) and LM units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pipeline.vietnamese import could_be_syllable, digit_letters, normalize_text

TOKEN_RE = re.compile(r"\S+")  # matches exactly what str.split() yields (checked by tests)
EDGE_PUNCT = frozenset(".,;:!?()[]{}<>\"'“”‘’«»…–—-−/\\|*•·+=~_#%")
# Punctuation the LM models as its own unit; any other edge punctuation is "<p>".
PUNCT_UNITS = frozenset('.,;:!?()"“”-–/')
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w-]+(?:\.[\w-]+)*\.(?:vn|com|org|net|gov|edu|info|int)(?:/\S*)?)$", re.IGNORECASE)  # fmt: skip
_NUMBER_RE = re.compile(r"^[+-]?\d+(?:[.,:/\-–]\d+)*%?$")
# A number OCR read partly as the capitals and strokes that look like digits ("I8" for 18, "O1" for 01, "2O17"):
# digits with I, O, | or ! among them. No Vietnamese word mixes those capitals with digits (a digit for a vowel,
# "16n" for lớn, comes with lower-case letters), and restoring one as a word loses the number ("I8" → "Ia").
_MISREAD_NUMBER_RE = re.compile(rf"^(?=.*\d)[0-9{re.escape(''.join(digit_letters(without='lo§')))}]{{2,4}}$")
# characters that separate the parts of a compound token (kinh-tế, V/v, tài:sản): parts are restored
# one by one and the separators kept
SEPARATORS = frozenset("/-–.,:;")
_PART_SPLIT_RE = re.compile(r"([/\-–.,:;])")

# LM units for classes of tokens the restorer never changes
NUM, CODE, ABBR, URL, UNK, PUNCT = "<num>", "<code>", "<abbr>", "<url>", "<unk>", "<p>"
BOS, EOS = "<s>", "</s>"


class Kind(Enum):
    WORD = "word"  # letters, maybe garbled by OCR (digits/symbols standing for vowels): restorable
    NUMBER = "number"  # numbers, dates, times, percentages
    CODE = "code"  # reference codes (18/KH-UBND, 29-NQ/TW, COVID-19), mixed-case abbreviations (TTg)
    ABBR = "abbr"  # all-caps abbreviations (UBND, MTQG)
    URL = "url"  # URLs and e-mail addresses
    EMPTY = "empty"  # nothing but punctuation


@dataclass(frozen=True)
class Piece:
    """A token cut into leading punctuation, a core, and trailing punctuation; parts of the core for
    compound words (`kinh-tế` → `kinh`, `-`, `tế`) are restored one by one."""

    lead: str
    core: str
    trail: str
    kind: Kind


def split_edges(token: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation)."""
    start, end = 0, len(token)
    while start < end and token[start] in EDGE_PUNCT:
        start += 1
    while end > start and token[end - 1] in EDGE_PUNCT:
        end -= 1
    return token[:start], token[start:end], token[end:]


def is_caps_word(core: str) -> bool:
    """Two or more letters, all capitals."""
    return _is_caps(core)


def _is_caps(core: str) -> bool:
    if not core.isupper():  # fast exit for the usual lowercase word
        return False
    letters = [c for c in core if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _is_abbreviation(core: str) -> bool:
    """All letters, all capitals, and not a Vietnamese syllable: UBND, HĐND, MTQG, TW."""
    return core.isalpha() and _is_caps(core) and not could_be_syllable(core.lower())


def _is_joined_abbreviation(core: str) -> bool:
    """Runs of capitals joined by `&` (GD&ĐT, KH&CN, NN&PTNT): an abbreviation of two names, never
    a word, on any line (`ma&i`, a symbol read for a vowel, is lowercase)."""
    runs = core.split("&")
    return len(runs) > 1 and all(run.isalpha() for run in runs) and _is_caps(core)


def _is_code_part(part: str) -> bool:
    """A part of a slash/hyphen compound that makes it a code: digits, or capitals after the first letter."""
    return any(c.isdigit() for c in part) or any(c.isupper() for c in part[1:])


def classify(core: str, caps_words: bool = False) -> Kind:
    """What a token core is. Where capitals are words (`caps_words`: see `capitals_are_words`), an
    all-caps syllable is a word; elsewhere it is an abbreviation even when it spells one (CA, SỞ)."""
    if core.isalpha():  # the usual case, quickly: no URL, number, code or separator
        if _is_abbreviation(core) or (_is_caps(core) and not caps_words):
            return Kind.ABBR
        return Kind.WORD
    if not core:
        return Kind.EMPTY
    if not any(c.isalnum() for c in core):
        return Kind.EMPTY
    if _URL_RE.match(core):
        return Kind.URL
    if _NUMBER_RE.match(core) or _MISREAD_NUMBER_RE.match(core):
        return Kind.NUMBER
    if any(c in SEPARATORS for c in core):
        parts = [p for p in _PART_SPLIT_RE.split(core) if p and p not in SEPARATORS]
        if not parts or any(_is_code_part(p) for p in parts):
            return Kind.CODE
        return Kind.WORD
    if (
        _is_abbreviation(core)
        or (_is_caps(core) and core.isalpha() and not caps_words)
        or _is_joined_abbreviation(core)
    ):
        return Kind.ABBR
    return Kind.WORD


def is_caps_line(cores: list[str]) -> bool:
    """Whether most word-like tokens of a line are written in capitals (headings, letterheads)."""
    wordy = [c for c in cores if (c.isalpha() and len(c) >= 2) or sum(ch.isalpha() for ch in c) >= 2]
    if not wordy:
        return False
    return sum(_is_caps(c) for c in wordy) * 2 > len(wordy)


def _caps_syllable(core: str) -> bool:
    return _is_caps(core) and core.isalpha() and could_be_syllable(core.lower())


def capitals_are_words(cores: list[str]) -> list[bool]:
    """Per token of a line: whether capitals there spell words, i.e. the line is mostly capitals or
    the token is in a run of two or more capitalised syllables (“ĐƠN VỊ DẪN ĐẦU” inside a sentence)."""
    if not any(c[:2].isupper() for c in cores):
        return [False] * len(cores)
    if is_caps_line(cores):
        return [True] * len(cores)
    syllables = [_caps_syllable(c) for c in cores]
    last = len(cores) - 1
    return [
        flag and ((k > 0 and syllables[k - 1]) or (k < last and syllables[k + 1]))
        for k, flag in enumerate(syllables)
    ]


# what ends a sentence or a list item (`Căn cứ …;` lines), or opens one for the word after it (a list, a
# quotation, a bracket): a capital after it says nothing about the word; a new LM segment starts there
SENTENCE_END = frozenset(".;:!?…")
_OPENS_BEFORE = frozenset("([{\"“‘'«")
# what may close a sentence after its end (`đó."`, `(đó.)`)
_CLOSES = ")]}\"”’'»"


def word_case(previous: str | None, token: str) -> bool | None:
    """What a word's case says of it, where its place in the sentence does not decide the case: True
    for a capitalised word (Võ, Phiên: a name or a title's word), False for a lowercase one; None at a
    sentence's or a list item's start (`previous` None: a text's or paragraph's first word; after a
    sentence end, a colon or a semicolon (`SENTENCE_END`, closing quotes and brackets after it too), a
    list marker, a number, a heading's capitals), inside an opening bracket or quote, and for a word in
    capitals or of mixed case. `previous` is the whitespace token before `token`. The restorer weighs
    its readings with it (a capitalised Vo is Võ, not vào) by how often the corpus writes each word so
    in the same places (`build_tools.restore.case_build`)."""
    lead, core, _ = split_edges(token)
    if not previous or not core.isalpha() or any(c in _OPENS_BEFORE for c in lead):
        return None
    _, before, trail = split_edges(previous)
    if trail.rstrip(_CLOSES)[-1:] in SENTENCE_END or (previous[-1] == ")" and "(" not in previous):
        return None  # a sentence end (`đó."` too), a colon, a semicolon, a list marker (a), 1))
    if not before.isalpha() or _is_caps(before):
        return None
    if core.islower():
        return False
    if core[0].isupper() and (len(core) == 1 or core[1:].islower()):
        return True
    return None


def split_parts(core: str) -> list[str]:
    """`kinh-tế` → [`kinh`, `-`, `tế`]; a core without separators is one part."""
    return [p for p in _PART_SPLIT_RE.split(core) if p]


def apply_case(pattern: str, word: str) -> str:
    """Give `word` (lowercase) the case pattern of `pattern`: UPPER, Title or lower."""
    if pattern.islower():  # the usual word, quickly: no capital letter at all
        return word
    if _is_caps(pattern):
        return word.upper()
    for char in pattern:
        if char.isalpha():
            return word[:1].upper() + word[1:] if char.isupper() else word
    return word


def punct_units(punct: str) -> list[str]:
    return [c if c in PUNCT_UNITS else PUNCT for c in punct]


def token_units(token: str, caps_words: bool) -> tuple[str, ...]:
    """LM units of one whitespace token of correct text: lowercase syllables, punctuation, classes."""
    if token.isalpha() and token.islower():
        return (token,)
    units: list[str] = []
    lead, core, trail = split_edges(token)
    units.extend(punct_units(lead))
    kind = classify(core, caps_words)
    if kind is Kind.WORD:
        units.extend(part if part in SEPARATORS else part.lower() for part in split_parts(core))
    elif kind is Kind.ABBR:
        units.append(core)
    elif kind is not Kind.EMPTY:
        units.append(_CLASS_UNITS[kind])
    units.extend(punct_units(trail))
    return tuple(units)


_CLASS_UNITS = {Kind.NUMBER: NUM, Kind.CODE: CODE, Kind.URL: URL}


def line_units(line: str, cache: dict[tuple[str, bool], tuple[str, ...]] | None = None) -> list[str]:
    """LM units of one line of correct text (training); `cache` memoises tokens across lines."""
    units: list[str] = []
    tokens = line.split()
    flags = (
        capitals_are_words([split_edges(t)[1] for t in tokens])
        if any(t[:2].isupper() for t in tokens)
        else None
    )
    for index, token in enumerate(tokens):
        caps_words = flags[index] if flags else False
        if cache is None:
            units.extend(token_units(token, caps_words))
            continue
        key = (token, caps_words)
        found = cache.get(key)
        if found is None:
            found = cache[key] = token_units(token, caps_words)
        units.extend(found)
    return units


def clean_line(line: str) -> str:
    """Corpus line → NFC text with the eth artefact fixed."""
    return normalize_text(line)

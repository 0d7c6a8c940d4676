"""Search keys: diacritic folding of Vietnamese text and the spelling-independent key of a reference code."""

from __future__ import annotations

import re
import unicodedata

_CODE_PART = re.compile(r"[0-9]+|[a-z]+")
_WORD = re.compile(r"\w+")
# The tokens of SQLite FTS5's unicode61 tokenizer: a letter (L*), number (N*) or private-use character (Co)
# starts a token, which goes on over those and the combining marks FTS5 counts as diacritics (those of
# Vietnamese among them, for text that is not NFC). `[^\W_]` is exactly L* and N* in Python's `re`.
_TOKEN_START = r"[^\W_]|[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]"
_FTS5_DIACRITICS = "\u0300-\u0304\u0306-\u030c\u030f\u0311\u031b\u0323-\u0328\u032d\u032e\u0330\u0331"
_INDEX_TOKEN = re.compile(rf"(?:{_TOKEN_START})(?:{_TOKEN_START}|[{_FTS5_DIACRITICS}])*")


class _FoldTable(dict[int, str]):
    """str.translate table built lazily: each character maps to exactly one character, so that offsets
    in folded text are offsets in the original text."""

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        folded = _fold_char(char)
        self[codepoint] = folded
        return folded


def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d"
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    if len(base) != 1:
        base = char
    lower = base.lower()
    return lower if len(lower) == 1 else base


_FOLD = _FoldTable()


def fold_text(text: str) -> str:
    """Lower-case `text` and strip its diacritics (đ → d), one output character per input character.

    >>> fold_text("Nông thôn mới, QĐ-UBND")
    'nong thon moi, qd-ubnd'
    """
    return unicodedata.normalize("NFC", text).translate(_FOLD)


def has_diacritics(text: str) -> bool:
    """True when folding changes more than the case (the user typed Vietnamese marks)."""
    normalized = unicodedata.normalize("NFC", text)
    return fold_text(normalized) != normalized.lower()


def code_parts(code: str) -> list[str]:
    """The digit and letter runs of a reference code, folded: every spelling gives the same parts.

    >>> code_parts("539/QĐ-UBND"), code_parts("539 qđ ubnd"), code_parts("539/QD-UBND")
    (['539', 'qd', 'ubnd'], ['539', 'qd', 'ubnd'], ['539', 'qd', 'ubnd'])
    """
    return _CODE_PART.findall(fold_text(code))


def code_key(code: str) -> str:
    """Canonical key of a reference code: its folded parts joined by single spaces."""
    return " ".join(code_parts(code))


def looks_like_code(query: str) -> bool:
    """A query that starts with a number followed by letters ("539/QĐ", "29-NQ/TW", "539 qđ ubnd")."""
    parts = code_parts(query)
    if len(parts) < 2 or not parts[0].isdigit():
        return False
    rest = [part for part in parts[1:] if not part.isdigit()]
    return bool(rest) and len(_WORD.findall(query)) <= 8


def matches_code(query_parts: list[str], code_parts_: list[str]) -> bool:
    """The query's number equals the code's number and its other parts appear in the code in order, so
    that "539/QĐ" finds "539/QĐ-UBND" and "539/2019/QĐ-UBND" but not "539/KH-UBND"."""
    if not query_parts or not code_parts_ or query_parts[0] != code_parts_[0]:
        return False
    remaining = iter(code_parts_[1:])
    return all(any(part == candidate for candidate in remaining) for part in query_parts[1:])


def index_tokens(text: str) -> list[str]:
    """The tokens a full-text index holds for `text`, in order: SQLite FTS5's unicode61 tokenizer without
    diacritic removal (runs of letters and numbers, each character case-folded on its own). The PostgreSQL
    store indexes these very tokens, so that both backends match the same pages.

    >>> index_tokens("Số: 539/QĐ-UBND, x_y ΟΔΟΣ İ")
    ['số', '539', 'qđ', 'ubnd', 'x', 'y', 'οδοσ', 'İ']
    """
    tokens = _INDEX_TOKEN.findall(text)
    for index, token in enumerate(tokens):
        folded = token.casefold()
        tokens[index] = folded if len(folded) == len(token) else "".join(_fold_case(c) for c in token)
    return tokens


def _fold_case(char: str) -> str:
    """Simple (one-character) case folding, as FTS5 does it: ẞ → ß, while full folding would give "ss"; a
    character without a one-character folding (İ) stays as it is."""
    for folded in (char.casefold(), char.lower()):
        if len(folded) == 1:
            return folded
    return char


def words(text: str) -> list[str]:
    """Word tokens of `text` as the full-text index sees them (letters and digits)."""
    return _WORD.findall(text)

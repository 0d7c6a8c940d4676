"""Search queries as users type them — words, "phrases", prefix*, OR, NOT / -word — parsed into terms that each
store turns into its own full-text syntax with every word quoted (user text is never query syntax)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipeline.archive.normalize import fold_text
from pipeline.errors import UsageError

# Bounds that keep every accepted query fast (issue 11: a 22,000-character query took 4.9 s).
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 16
MIN_PREFIX_CHARS = 2  # "a*" would expand to most of the index

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class QueryTerm:
    """One word, or the words of a phrase in order; `prefix`: the last word is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class TextQuery:
    """Pages that hold, for every group, at least one of its terms, and none of the excluded terms."""

    groups: tuple[tuple[QueryTerm, ...], ...]
    excluded: tuple[QueryTerm, ...] = ()
    plain: bool = False  # typed as plain words (no OR, NOT, quotes or *): one group per word, tried as a phrase first

    def words(self) -> list[str]:
        return [word for group in self.groups for term in group for word in term.words]

    def folded(self) -> TextQuery:
        """The same query on text without diacritics."""
        def fold(term: QueryTerm) -> QueryTerm:
            return QueryTerm(tuple(fold_text(word) for word in term.words), term.prefix)

        return TextQuery(tuple(tuple(fold(t) for t in group) for group in self.groups),
                         tuple(fold(t) for t in self.excluded), self.plain)

    def as_phrase(self) -> TextQuery:
        """A plain query's words as one phrase."""
        return TextQuery(((QueryTerm(tuple(self.words())),),))


def normalize_query(query: str) -> str:
    """NFC (a query typed or pasted in decomposed form finds what the NFC archive holds), one line."""
    return " ".join(unicodedata.normalize("NFC", query).split())


class QueryError(UsageError):
    """A query that cannot be searched; `reason` names why, for interfaces that say it in their own words:
    "too_long", "too_many_words", "only_excluded" or "short_prefix"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_query(query: str) -> str:
    """The normalised query; UsageError when it is longer than the bounds."""
    text = normalize_query(query)
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(text)} characters long: at most {MAX_QUERY_CHARS} are searched",
                         "too_long")
    return text


def parse_query(query: str) -> TextQuery | None:
    """Parse a (checked) query: terms side by side must all match; `A OR B` matches either; `NOT A` or `-A`
    excludes; `"…"` is a phrase; `word*` a prefix. None when it holds no word to search for.

    >>> q = parse_query('"nông thôn" mới OR moi -huyện tiêu*')
    >>> [[t.words for t in g] for g in q.groups], [t.words for t in q.excluded], q.groups[-1][0].prefix
    ([[('nông', 'thôn')], [('mới',), ('moi',)], [('tiêu',)]], [('huyện',)], True)
    """
    groups: list[list[QueryTerm]] = []
    excluded: list[QueryTerm] = []
    join_next = negate_next = False
    tokens = _TOKEN.findall(query)
    plain = not any(token in ("OR", "NOT") or token.startswith(('"', "-")) or token.endswith("*") for token in tokens)
    if plain:
        tokens = [word for token in tokens for word in _WORD.findall(token)]
    for token in tokens:
        if token == "OR" and groups and not negate_next:
            join_next = True
            continue
        if token == "NOT":
            negate_next = True
            continue
        negate = negate_next or (token.startswith("-") and len(token) > 1)
        body = token[1:] if token.startswith("-") and len(token) > 1 else token
        term = _term(body)
        negate_next = False
        if term is None:
            continue
        if negate:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    words = sum(len(term.words) for group in groups for term in group) + sum(len(t.words) for t in excluded)
    if words > MAX_QUERY_WORDS:
        raise QueryError(f"the query has {words} words: at most {MAX_QUERY_WORDS} are searched", "too_many_words")
    if not groups:
        if excluded:
            raise QueryError("a query needs at least one word that is not excluded with NOT or -", "only_excluded")
        return None
    return TextQuery(tuple(tuple(group) for group in groups), tuple(excluded), plain)


def _term(token: str) -> QueryTerm | None:
    phrase = token.startswith('"')
    prefix = not phrase and token.endswith("*")
    words = tuple(word.lower() for word in _WORD.findall(token))
    if not words:
        return None
    if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
        raise QueryError(f"a prefix needs at least {MIN_PREFIX_CHARS} letters before the *: {token!r}",
                         "short_prefix")
    if prefix and len(words) > 1:  # "a-b*": the words as a phrase, the last one a prefix
        return QueryTerm(words, True)
    return QueryTerm(words, prefix)


def term_pattern(term: QueryTerm) -> str:
    """A regular expression finding `term` in (lower-cased) text, for snippets."""
    body = r"\W+".join(re.escape(word) for word in term.words)
    return r"(?<!\w)" + body + (r"\w*" if term.prefix else r"(?!\w)")

"""Search: references in any spelling, issuing before citing, text with/without diacritics, filters, safety
(on both backends), and the two backends' full-text matching compared on random pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import BACKENDS
from fakes_run import make_result, record_from_case, store_case_documents
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.archive import open_archive
from pipeline.archive.normalize import code_key, fold_text, index_tokens, looks_like_code, matches_code
from pipeline.archive.query import TextQuery, parse_query
from pipeline.archive.search import SearchFilters, make_snippet, search
from pipeline.errors import UsageError

CASES = json.loads((Path(__file__).parent / "cases" / "archive_search.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=BACKENDS)
def archive(request, new_archive):
    store = open_archive(new_archive(request.param))
    ids = store_case_documents(store, CASES["documents"])
    store.names = {doc_id: name for name, doc_id in ids.items()}  # type: ignore[attr-defined]
    yield store
    store.close()


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["comment"] for c in CASES["cases"]])
def test_archive_search_cases(archive, case):
    query = case["input"]["query"]
    filters = SearchFilters(**{k: v for k, v in case["input"].items() if k != "query"})
    names = [archive.names[hit.id] for hit in search(archive, query, filters)]
    if case.get("unordered"):
        assert sorted(names) == sorted(case["expected"]), case["comment"]
    else:
        assert names == case["expected"], case["comment"]


def test_archive_search_reference_hits_say_why_and_where(archive):
    hits = search(archive, "539/QĐ-UBND")
    assert [hit.match for hit in hits] == ["issued", "issued", "cited", "cited"]
    cv112 = next(hit for hit in hits if archive.names[hit.id] == "cv112")
    assert cv112.page == 2 and "539/QĐ-UBND" in cv112.snippet and cv112.matched == "539/QĐ-UBND"
    assert cv112.code == "112/VPĐP-NTM" and cv112.source == "/archive/cv112.pdf"
    assert hits[0].page == 1 and "Số: 539/QĐ-UBND" in hits[0].snippet


def test_archive_search_text_snippet_and_page(archive):
    hits = search(archive, "nông thôn mới")
    cv112 = next(hit for hit in hits if archive.names[hit.id] == "cv112")
    assert cv112.page == 2 and "nông thôn mới" in cv112.snippet
    # accented text ranks above text that only matches once diacritics are ignored
    assert archive.names[hits[-1].id] == "tb496" and "nong thon moi" in hits[-1].snippet


def test_archive_search_limit(archive):
    assert len(search(archive, "539/QĐ-UBND", limit=2)) == 2


def _names(archive, hits) -> list[str]:
    return [archive.names[hit.id] for hit in hits]


ISSUED_AND_CITED_539 = ["qd539", "qd539_2019", "kh18", "cv112"]  # issuing documents, then those citing it
NONG_THON_MOI = ["qd539", "cv112", "tb496"]


@pytest.mark.parametrize(
    "query",
    ['"', "nông AND (thôn OR", "NEAR(a b)", "*", "a:b", "'; DROP TABLE documents; --", "^x", "-", "539/", "\x00",
     '"539/QĐ-UBND" OR 1=1', "{text folded}: x", "%", "_"],
)
def test_archive_search_syntax_characters_are_harmless(archive, query):
    """FTS5 and SQL syntax typed by a user is text: it matches no document that does not contain it (a LIKE
    wildcard in a filter matches no issuer), raises nothing, changes nothing; the archive answers as before."""
    found = search(archive, query, SearchFilters(issuer=query, place=query, type=query))
    assert found == ([] if query.strip("\x00") else search(archive, ""))  # NULs alone: no query, no filter
    narrowed = _names(archive, search(archive, "nông thôn mới", SearchFilters(issuer=query)))
    assert narrowed == ([] if query.strip("\x00") else NONG_THON_MOI)  # a filter of nothing but NULs is no filter
    assert archive.count_documents() == len(CASES["documents"])
    assert _names(archive, search(archive, "539/QĐ-UBND")) == ISSUED_AND_CITED_539
    assert sorted(_names(archive, search(archive, "nông thôn mới"))) == sorted(NONG_THON_MOI)


# Every run of three words of a stored page (letters only, within a line), with the document it comes from.
PHRASES = [(document["name"], " ".join(words[k:k + 3]))
           for document in CASES["documents"] for page in document["pages"] for line in page.split("\n")
           for words in [re.findall(r"[^\W\d_]+", line)] for k in range(len(words) - 2)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=40), phrase=st.sampled_from(PHRASES))
def test_archive_search_never_fails_on_any_text(archive, query, phrase):
    """Any text gives hits that point at stored pages or a UsageError (a query the syntax refuses, said in one
    line), nothing else; any phrase of a stored page finds that page's document."""
    try:
        hits = search(archive, query, limit=5)
    except UsageError as error:
        assert "\n" not in str(error)
    else:
        assert all(hit.id in archive.names and hit.page >= 1 for hit in hits)
    name, words = phrase
    assert name in _names(archive, search(archive, words, limit=50)), words


@pytest.mark.parametrize(
    ("query", "code", "expected"),
    [("539/QĐ", "539/QĐ-UBND", True), ("539/QĐ", "539/2019/QĐ-UBND", True), ("539/QĐ-UBND", "539/KH-UBND", False),
     ("53/QĐ", "539/QĐ-UBND", False), ("539 qd ubnd", "539/QĐ-UBND", True), ("29-NQ/TW", "29-NQ/TW", True),
     ("539/UBND-QĐ", "539/QĐ-UBND", False)],
)
def test_archive_normalize_code_matching(query, code, expected):
    assert matches_code(code_key(query).split(), code_key(code).split()) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [("539/QĐ-UBND", True), ("539 qđ ubnd", True), ("29-NQ/TW", True), ("nông thôn mới", False), ("539", False),
     ("2020", False), ("QĐ 539", False)],
)
def test_archive_normalize_looks_like_code(query, expected):
    assert looks_like_code(query) is expected


@given(st.text())
def test_archive_normalize_fold_keeps_offsets(text):
    assert len(fold_text(text)) == len(__import__("unicodedata").normalize("NFC", text))


def test_archive_search_snippet_cuts_at_words():
    text = "một " * 40 + "nông thôn mới" + " hai" * 60
    start = text.index("nông")
    snippet = make_snippet(text, start, start + len("nông thôn mới"))
    assert snippet.startswith("…một") and snippet.endswith("hai…") and "nông thôn mới" in snippet


@pytest.mark.parametrize("query", ["nông thôn mới", "nong thon moi", "thôn nông"])
def test_archive_search_common_phrases_list_newest_pages_first(archive, monkeypatch, query):
    ranked = [archive.names[hit.id] for hit in search(archive, query)]
    monkeypatch.setattr("pipeline.archive.store.RANKED_MATCHES", 0)
    by_recency = [archive.names[hit.id] for hit in search(archive, query)]
    monkeypatch.setattr("pipeline.archive.postgres.RECENT_PAGES", 1)  # PostgreSQL widens its id range 8 at a time
    assert [archive.names[hit.id] for hit in search(archive, query)] == by_recency
    assert sorted(by_recency) == sorted(ranked) == sorted(NONG_THON_MOI)
    accented = [name for name in by_recency if name != "tb496"]
    assert accented == sorted(accented, key=lambda name: -list(archive.names.values()).index(name))


def test_archive_search_filters_thin_out_a_common_phrase(archive, monkeypatch):
    monkeypatch.setattr("pipeline.archive.store.RANKED_MATCHES", 0)
    hits = search(archive, "nong thon moi", SearchFilters(date_from="2022-01-01"), limit=1)
    assert [archive.names[hit.id] for hit in hits] == ["tb496"]


# --------------------------------------------------------------------------- both backends, one semantics

_SYLLABLES = ["nông", "nong", "thôn", "thon", "mới", "moi", "Ủy", "ủy", "uy", "ban", "BAN", "đất", "dat", "QĐ", "qd",
              "539", "18", "x_y", "ΟΔΟΣ", "ẞ", "İ", "a\u0301", "ban\u0323"]
_GLUE = [" ", " ", " ", "\n", ", ", "-", "/", ": ", "_", "."]
_TOKEN_ALPHABET = "".join(sorted(set("".join(_SYLLABLES + _GLUE)))) + "ÂĂƠƯằắẵặệễ²½\ue000\x00\t!\"'()*%"


def _random_page(rng) -> str:
    return "".join(rng.choice(_SYLLABLES) + rng.choice(_GLUE) for _ in range(rng.randint(1, 25)))


@pytest.fixture(scope="module")
def both_archives(new_archive):
    """The same 80 random pages (40 documents) in an SQLite and a PostgreSQL archive."""
    import random

    rng = random.Random(20261206)
    documents = [[_random_page(rng) for _ in range(1 + number % 2)] for number in range(40)]
    stores = [open_archive(new_archive(backend)) for backend in BACKENDS]
    for number, pages in enumerate(documents):
        result = make_result(f"{number:064x}", pages, record_from_case({}))
        for store in stores:
            store.add_document(result, name=str(number), kind="text", result_json="{}")
    yield stores
    for store in stores:
        store.close()


_OPERATORS = ["", "", "", "OR", "NOT", "-", '"', "*"]


def _syntax_query(words: list[str], operators: list[str]) -> str:
    """Words joined with query syntax: OR between words, NOT / - before one, "quotes" around two, a * after."""
    parts: list[str] = []
    for word, operator in zip(words, operators, strict=False):
        if operator == "OR" and parts:
            parts.append("OR")
        parts.append({"NOT": f"NOT {word}", "-": f"-{word}", '"': f'"{word} {word}"', "*": f"{word[:2]}*"}
                     .get(operator, word))
    return " ".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_SYLLABLES), min_size=1, max_size=3), st.sampled_from(_GLUE), st.booleans())
def test_archive_search_backends_match_the_same_pages(both_archives, words, glue, accented):
    """FTS5 on SQLite and tsvector on PostgreSQL find the same documents for any terms, as a phrase or not."""
    query = glue.join(words)
    parsed = parse_query(query)
    assert parsed is not None
    variant = parsed if accented else parsed.folded()
    for form in (variant, variant.as_phrase()):
        found = [{match.document.id for match in store.matching_pages(form, accented=accented, filters=SearchFilters(),
                                                                      wanted=1000, exclude=())}
                 for store in both_archives]
        assert found[0] == found[1], (query, form)
    hits = [{hit.id for hit in search(store, query, limit=1000)} for store in both_archives]
    assert hits[0] == hits[1], query


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([s for s in _SYLLABLES if len(s) > 1]), min_size=1, max_size=4),
       st.lists(st.sampled_from(_OPERATORS), min_size=4, max_size=4))
def test_archive_search_backends_match_the_same_pages_for_query_syntax(both_archives, words, operators):
    """OR, NOT / -, "phrases" and prefix* select the same documents on both backends."""
    query = _syntax_query(words, operators)
    try:
        hits = [{hit.id for hit in search(store, query, limit=1000)} for store in both_archives]
    except UsageError:  # only excluded words, or a prefix of one letter: refused the same on both
        return
    assert hits[0] == hits[1], query


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_TOKEN_ALPHABET, max_size=60))
def test_archive_normalize_index_tokens_are_fts5_tokens(text):
    """index_tokens (what PostgreSQL indexes) cuts and folds text exactly as SQLite FTS5's tokenizer does."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5 (t, tokenize = 'unicode61 remove_diacritics 0')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab (f, instance)")
    db.execute("INSERT INTO f (t) VALUES (?)", (text,))
    fts5 = [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]
    db.close()
    assert index_tokens(text) == fts5


@pytest.mark.parametrize("ranked", [True, False])
def test_archive_search_phrase_pairs_held_apart_are_no_phrase(archive_location, monkeypatch, ranked):
    """PostgreSQL finds a long phrase through its word pairs: a page holding the pairs apart ("nông thôn",
    "thôn mới") is a candidate, never a hit; on both backends, ranked or listed by recency."""
    if not ranked:
        monkeypatch.setattr("pipeline.archive.store.RANKED_MATCHES", 0)
    with open_archive(archive_location) as archive:
        pages = {"apart": "nông thôn và thôn mới", "phrase": "xây dựng nông thôn mới", "none": "nông nghiệp"}
        for number, (name, text) in enumerate(pages.items()):
            archive.add_document(make_result(f"{number:064x}", [text], record_from_case({})), name=name,
                                 kind="text", result_json="{}")
        names = {d.id: d.name for d in archive.stored_documents()}
        phrase = archive.matching_pages(_query("nông thôn mới").as_phrase(), accented=True,
                                        filters=SearchFilters(), wanted=10, exclude=())
        assert [names[m.document.id] for m in phrase] == ["phrase"]
        words = archive.matching_pages(_query("nong thon moi"), accented=False,
                                       filters=SearchFilters(), wanted=10, exclude=())
        assert sorted(names[m.document.id] for m in words) == ["apart", "phrase"]
        assert [names[h.id] for h in search(archive, "nông thôn mới")][:1] == ["phrase"]


def _query(text: str) -> TextQuery:
    parsed = parse_query(text)
    assert parsed is not None
    return parsed

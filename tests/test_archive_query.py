"""Search queries: parsing of OR / NOT / prefix* / "phrases", the bounds on hostile queries, and the time any
accepted query takes on a few thousand pages."""

from __future__ import annotations

import contextlib
import random
import time
import unicodedata

import pytest
from conftest import BACKENDS
from fakes_run import make_result, record_from_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.archive import open_archive
from pipeline.archive.query import MAX_QUERY_CHARS, MAX_QUERY_WORDS, check_query, parse_query
from pipeline.archive.search import search
from pipeline.errors import UsageError
from pipeline.types import DocumentKind

VOCABULARY = ["nông", "thôn", "mới", "xây", "dựng", "kế", "hoạch", "quyết", "định", "ủy", "ban", "nhân", "dân", "huyện", "tỉnh", "xã", "thực", "hiện", "báo", "cáo", "tiến", "độ", "giai", "đoạn", "chương", "trình", "mục", "tiêu", "quốc", "gia", "phòng", "chống", "thiên", "tai", "giáo", "dục", "y", "tế"]


def test_archive_query_parses_operators():
    query = parse_query('"nông thôn mới" OR "đô thị" -huyện NOT tỉnh báo*')
    assert query is not None and not query.plain
    assert [[t.words for t in group] for group in query.groups] == [[("nông", "thôn", "mới"), ("đô", "thị")],
                                                                     [("báo",)]]
    assert [t.words for t in query.excluded] == [("huyện",), ("tỉnh",)] and query.groups[1][0].prefix
    plain = parse_query("539/QĐ-UBND nông")
    assert plain is not None and plain.plain and plain.words() == ["539", "qđ", "ubnd", "nông"]
    assert parse_query("  ") is None and parse_query('"" ( )') is None


@pytest.mark.parametrize(("query", "message"), [
    ("x" * (MAX_QUERY_CHARS + 1), "characters long"),
    (" ".join(["từ"] * (MAX_QUERY_WORDS + 1)), "words"),
    ("a*", "prefix"),
    ("NOT huyện -tỉnh", "not excluded"),
])
def test_archive_query_refuses_hostile_queries_with_a_clear_error(query, message):
    with pytest.raises(UsageError, match=message):
        parse_query(check_query(query))


def test_archive_query_normalises_nfd():
    assert check_query(unicodedata.normalize("NFD", "Quyết  định\n")) == "Quyết định"


@pytest.fixture(scope="module", params=BACKENDS)
def big_archive(request, new_archive):
    """300 documents of 10 pages of Vietnamese words (3,000 pages); 100 on PostgreSQL, where building them
    costs 4 times as long (every page's tsvectors made in Python)."""
    rng = random.Random(11)
    store = open_archive(new_archive(request.param))
    for number in range(300 if request.param == "sqlite" else 100):
        pages = [" ".join(rng.choice(VOCABULARY) for _ in range(250)) for _ in range(10)]
        record = record_from_case({"document": {"code": f"{number}/KH-UBND", "date": f"20{10 + number % 15}-01-01"}})
        store.add_document(make_result(f"{number:064x}", pages, record), name=str(number), kind=DocumentKind.PDF,
                           result_json="{}")
    yield store
    store.close()


WORST_QUERIES = [
    " OR ".join(f"{word[:2]}*" for word in VOCABULARY[:MAX_QUERY_WORDS]),  # prefixes, all alternatives
    '"' + " ".join(VOCABULARY[:MAX_QUERY_WORDS]) + '"',  # the longest phrase
    " ".join(VOCABULARY[:MAX_QUERY_WORDS]),  # plain words: phrase pass, then all words
    " ".join(unicodedata.normalize("NFD", word) for word in VOCABULARY[:MAX_QUERY_WORDS]),
    " ".join(f"-{word}" for word in VOCABULARY[1:MAX_QUERY_WORDS]) + " nông",  # exclusions
    "nông " * MAX_QUERY_WORDS,  # one word repeated
]


@pytest.mark.parametrize("query", WORST_QUERIES)
def test_archive_query_any_accepted_query_answers_within_a_second(big_archive, query):
    query = query[:MAX_QUERY_CHARS]
    started = time.perf_counter()
    search(big_archive, query, limit=20)
    assert time.perf_counter() - started < 1.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([*'ab nôg"*-()^:.\u0301', "OR", "NOT", " OR ", "NEAR", "thôn", "xã"]),
                max_size=30).map("".join))
def test_archive_query_arbitrary_text_is_a_result_or_a_usage_error(big_archive, query):
    with contextlib.suppress(UsageError):
        search(big_archive, query, limit=5)

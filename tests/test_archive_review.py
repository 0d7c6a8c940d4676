"""The store's human side: corrections (audit trail, precedence, re-processing), review queue, task status,
facets and browsing, references resolved by code, year and issuer, users, sessions and uploads."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fakes_run import make_result, record_from_case, store_case_documents

from pipeline.archive import open_archive
from pipeline.archive import sqlite as store_module
from pipeline.archive.citations import (
    AMBIGUOUS,
    FOUND,
    NOT_IN_ARCHIVE,
    YEAR_UNKNOWN,
    cited_by,
    resolve_references,
)
from pipeline.archive.review import (
    apply_corrections,
    low_confidence_fields,
    review_reasons,
    validate_correction,
)
from pipeline.archive.search import search
from pipeline.archive.store import SearchFilters, Session, TaskFilters
from pipeline.errors import InvalidCorrectionError, NotFoundError
from pipeline.types import OcrWord, Record, Signer

SIGNED = {"signer": {"name": "Nguyễn Văn A"}}
DOCUMENTS = [
    {"name": "qd539", "pages": ["Số: 539/QĐ-UBND\nvề nông thôn mới"],
     "document": {"code": "539/QĐ-UBND", "type": "QĐ", "date": "2020-04-02", "issuer": "UBND TỈNH LẠNG SƠN",
                  "place": "Lạng Sơn", **SIGNED}},
    {"name": "qd539_nghean", "pages": ["Số: 539/QĐ-UBND của Nghệ An"],
     "document": {"code": "539/QĐ-UBND", "type": "QĐ", "date": "2020-06-01", "issuer": "UBND TỈNH NGHỆ AN",
                  "place": "Nghệ An", **SIGNED}},
    {"name": "qd539_2019", "pages": ["Số: 539/QĐ-UBND năm 2019"],
     "document": {"code": "539/QĐ-UBND", "type": "QĐ", "date": "2019-03-01", "issuer": "UBND TỈNH LẠNG SƠN",
                  "place": "Lạng Sơn", **SIGNED}},
    {"name": "cv112", "pages": ["Số: 112/VPĐP-NTM", "Thực hiện Quyết định số 539/QĐ-UBND ngày 02/4/2020"],
     "document": {"code": "112/VPĐP-NTM", "type": "CV", "date": "2020-04-20", "issuer": "VĂN PHÒNG ĐIỀU PHỐI",
                  "place": "Lạng Sơn", **SIGNED},
     "references": [{"code": "539/QĐ-UBND", "page": 1}, {"code": "01/BCĐTW-VPĐP"}],
     "tasks": [{"id": "1", "text": "Rà soát tiêu chí", "assignees": ["Phòng Nông nghiệp"], "deadline": "2020-06-30"},
               {"id": "2", "text": "Báo cáo kết quả", "assignees": ["UBND các xã"]}]},
    {"name": "unnumbered", "pages": ["Thông báo không số"], "document": {"type": "TB", "issuer": "UBND XÃ"}},
]


def _with_years(documents):
    """The case documents, with cv112's reference to 539/QĐ-UBND dated 2020."""
    out = json.loads(json.dumps(documents))
    out[3]["references"][0]["date"] = "2020-04-02"
    return out


@pytest.fixture
def archive(archive_location):
    """The case documents in a fresh archive, on each backend."""
    with open_archive(archive_location) as store:
        ids = store_case_documents(store, DOCUMENTS)
        store.ids = ids
        yield store


def _reprocess(store, name, pages=None, document=None):
    case = next(d for d in DOCUMENTS if d["name"] == name)
    case = {**case, **({"document": document} if document else {})}
    import hashlib

    sha = hashlib.sha256(name.encode()).hexdigest()
    result = make_result(sha, pages or case["pages"], record_from_case(case), f"/archive/{name}.pdf")
    return store.add_document(result, name=name, kind="pdf", result_json="{}")


# --------------------------------------------------------------------------- corrections


def test_archive_review_correction_is_audited_applied_and_searchable_at_once(archive):
    doc = archive.ids["unnumbered"]
    assert search(archive, "77/TB-UBND") == []
    change = archive.add_correction(doc, "code", " 77/TB-UBND ", user="lan")
    assert (change.field, change.old, change.new, change.user) == ("code", None, "77/TB-UBND", "lan")
    record = archive.load_record(doc)
    assert (record.document.code, record.document.number, record.document.symbol) == ("77/TB-UBND", "77", "TB-UBND")
    hits = search(archive, "77 tb ubnd")
    assert [hit.id for hit in hits][:1] == [doc] and hits[0].match == "issued"
    assert [c.new for c in archive.corrections(doc)] == ["77/TB-UBND"]
    assert archive.recent_corrections(5)[0].document_id == doc


def test_archive_review_correction_survives_reprocessing_under_the_same_id(archive):
    doc = archive.ids["qd539"]
    archive.add_correction(doc, "subject", "Giao chỉ tiêu nông thôn mới", user="lan")
    archive.add_correction(doc, "date", "2020-04-03", user="lan")
    again = _reprocess(archive, "qd539", pages=["Số: 539/QĐ-UBND\nre-OCR"])
    assert again == doc
    record = archive.load_record(doc)
    assert (record.document.subject, record.document.date) == ("Giao chỉ tiêu nông thôn mới", "2020-04-03")
    assert archive.page_texts(doc) == ["Số: 539/QĐ-UBND\nre-OCR"]
    assert len(archive.corrections(doc)) == 2
    assert archive.browse(SearchFilters(date_from="2020-04-03", date_to="2020-04-03"), order="date", limit=5,
                          offset=0)[0] == 1


def test_archive_review_confirmation_settles_review_without_changing_value(archive):
    doc = archive.ids["unnumbered"]
    assert archive.cards([doc])[doc].review == ("code_missing", "date_missing", "signer_missing")
    archive.add_correction(doc, "signer.name", None, user="lan")  # confirmed: there is no signer
    assert archive.corrections(doc)[0].field == "confirmed:signer.name"
    assert archive.cards([doc])[doc].review == ("code_missing", "date_missing")
    archive.add_correction(doc, "date", "2021-01-05", user="lan")
    archive.add_correction(doc, "code", "5/TB-UBND", user="lan")
    assert archive.cards([doc])[doc].review == ()
    assert archive.review_queue(limit=10, offset=0)[0] == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sha256", "x", "not a correctable field"),
    ("date", "15/4/2020", "ISO date"),
    ("code", "hello", "number and a symbol"),
    ("subject", "x" * 5000, "longer than"),
    ("subject", "a\x00b", "NUL"),
])
def test_archive_review_invalid_corrections_are_refused(archive, field, value, message):
    with pytest.raises(InvalidCorrectionError, match=message):
        archive.add_correction(archive.ids["qd539"], field, value, user="lan")
    assert archive.corrections(archive.ids["qd539"]) == []


def test_archive_review_correction_of_unknown_document(archive):
    with pytest.raises(NotFoundError):
        archive.add_correction(9999, "subject", "x", user="lan")


def test_archive_review_recipients_are_a_list_and_signer_is_created():
    record = Record()
    corrected = apply_corrections(record, [("recipients", "Sở A\nSở B"), ("signer.title", "CHỦ TỊCH")])
    assert corrected.document.recipients == ["Sở A", "Sở B"] and corrected.document.signer == Signer(title="CHỦ TỊCH")
    assert record.document.signer is None  # the original is left alone
    assert validate_correction("recipients", " Sở A \n\n  Sở  B ") == "Sở A\nSở B"


def test_archive_review_low_confidence_fields_from_word_boxes():
    record = record_from_case({"document": {"code": "539/QĐ-UBND", "date": "2020-04-02",
                                            "signer": {"name": "Nguyễn Văn A"}}})
    words = [OcrWord("539/QĐ-UBND", 41.0, (0, 0, 10, 10), 0, 0), OcrWord("ngày", 95.0, (0, 0, 1, 1), 0, 1),
             OcrWord("02", 90.0, (0, 0, 1, 1), 0, 1), OcrWord("2020", 93.0, (0, 0, 1, 1), 0, 1),
             OcrWord("Nguyễn", 52.0, (0, 0, 1, 1), 0, 9), OcrWord("Văn", 90.0, (0, 0, 1, 1), 0, 9),
             OcrWord("A", 90.0, (0, 0, 1, 1), 0, 9)]
    page = make_result("f" * 64, ["x"], record).pages[0]
    page.words = words
    assert low_confidence_fields(record, [page]) == ["code", "signer.name"]
    assert review_reasons(record, ["code", "signer.name"], settled=["code"]) == ["signer_low_confidence"]
    record.document.code = "/TB-UBND"  # the number was not read
    assert review_reasons(record, [], settled=[]) == ["code_missing"]


# --------------------------------------------------------------------------- browse, facets, filters


def test_archive_review_browse_orders_and_filters(archive):
    total, cards = archive.browse(SearchFilters(), order="date", limit=3, offset=0)
    assert total == 5 and [c.name for c in cards] == ["qd539_nghean", "cv112", "qd539"]
    assert [c.name for c in archive.browse(SearchFilters(), order="date", limit=3, offset=3)[1]] == \
        ["qd539_2019", "unnumbered"]  # undated last
    assert archive.browse(SearchFilters(has_tasks=True), order="date", limit=9, offset=0)[0] == 1
    assert archive.browse(SearchFilters(has_tasks=False), order="date", limit=9, offset=0)[0] == 4
    assert [c.name for c in archive.browse(SearchFilters(needs_review=True), order="added", limit=9, offset=0)[1]] \
        == ["unnumbered"]
    card = archive.cards([archive.ids["cv112"]])[archive.ids["cv112"]]
    assert card.task_count == 2 and card.place == "Lạng Sơn" and card.review == ()


def test_archive_review_search_takes_the_new_filters(archive):
    assert [h.name for h in search(archive, "539/QĐ-UBND", SearchFilters(has_tasks=True))] == ["cv112"]
    assert search(archive, "Thông báo", SearchFilters(needs_review=True))[0].name == "unnumbered"


def test_archive_review_facets_count_documents(archive):
    facets = archive.facets(SearchFilters())
    assert facets.total == 5 and facets.with_tasks == 1 and facets.needs_review == 1
    assert facets.types[0] == ("QĐ", 3) and ("2020", 3) in facets.years and facets.years[0][0] == "2020"
    assert ("Lạng Sơn", 3) in facets.places
    some = archive.facets(SearchFilters(type="QĐ"), [archive.ids["qd539"], archive.ids["cv112"]])
    assert (some.total, some.types) == (1, [("QĐ", 1)])


# --------------------------------------------------------------------------- tasks


def test_archive_review_task_status_is_audited_and_survives_reprocessing(archive):
    total, rows = archive.task_board(TaskFilters(), limit=None)
    assert total == 2 and {row.status for row in rows} == {"open"}
    uid = rows[0].uid
    change = archive.set_task_status(uid, "done", user="minh")
    assert (change.old, change.new, change.user) == ("open", "done", "minh")
    _reprocess(archive, "cv112")
    assert archive.task_board(TaskFilters(status="done"), limit=None)[1][0].uid == uid
    assert [row.status for row in archive.tasks() if row.uid == uid] == ["done"]
    assert [c.new for c in archive.task_history(uid)] == ["done"]
    with pytest.raises(InvalidCorrectionError):
        archive.set_task_status(uid, "closed", user="minh")
    with pytest.raises(NotFoundError):
        archive.set_task_status("nope", "done", user="minh")


@pytest.mark.parametrize(("filters", "expected"), [
    (TaskFilters(assignee="phong nong"), ["1"]),
    (TaskFilters(assignee="XÃ"), ["2"]),
    (TaskFilters(deadline_from="2020-06-01"), ["1"]),
    (TaskFilters(deadline_to="2020-05-01"), []),
    (TaskFilters(status="open"), ["1", "2"]),
    (TaskFilters(assignee="100%"), []),
])
def test_archive_review_task_board_filters(archive, filters, expected):
    assert [row.task["id"] for row in archive.task_board(filters, limit=None)[1]] == expected


def test_archive_review_task_board_pages(archive):
    total, rows = archive.task_board(TaskFilters(document_id=archive.ids["cv112"]), limit=1, offset=1)
    assert total == 2 and [row.task["id"] for row in rows] == ["2"]


# --------------------------------------------------------------------------- references


def test_archive_review_references_resolve_by_code_year_and_issuer(archive_location):
    with open_archive(archive_location) as store:
        ids = store_case_documents(store, _with_years(DOCUMENTS))
        record = store.load_record(ids["cv112"])
        resolved = {r.reference.code: r for r in resolve_references(store, ids["cv112"], record.references)}
        link = resolved["539/QĐ-UBND"]
        # the 2020 decision of Lạng Sơn: not Nghệ An's 2020 one, not Lạng Sơn's 2019 one
        assert link.status == FOUND and [t.id for t in link.targets] == [ids["qd539"]] and link.others == 2
        assert resolved["01/BCĐTW-VPĐP"].status == NOT_IN_ARCHIVE
        cited = cited_by(store, ids["qd539"], "539/QĐ-UBND", "2020-04-02")
        assert [doc.id for doc, _ in cited.citing] == [ids["cv112"]]
        assert cited_by(store, ids["qd539_2019"], "539/QĐ-UBND", "2019-03-01").citing == []
        assert cited_by(store, ids["qd539_nghean"], "539/QĐ-UBND", "2020-06-01").citing == []


def test_archive_review_reference_without_year_names_no_document(archive):
    record = archive.load_record(archive.ids["cv112"])
    resolved = resolve_references(archive, archive.ids["cv112"], record.references)
    assert resolved[0].status == YEAR_UNKNOWN and len(resolved[0].targets) == 3


def test_archive_review_two_candidates_are_ambiguous(archive_location):
    documents = _with_years(DOCUMENTS)
    documents[1]["document"]["place"] = None  # an issuer of unknown place in the same year
    with open_archive(archive_location) as store:
        ids = store_case_documents(store, documents)
        resolved = resolve_references(store, ids["cv112"], store.load_record(ids["cv112"]).references)
        assert resolved[0].status == AMBIGUOUS and len(resolved[0].targets) == 2


# --------------------------------------------------------------------------- users, sessions, intake


def test_archive_review_users_and_sessions(archive):
    archive.add_user("lan", "editor", "hash1")
    archive.add_user("lan", "admin", "hash2")
    assert [(u.name, u.role, u.password_hash) for u in archive.users()] == [("lan", "admin", "hash2")]
    archive.add_session(Session("t" * 64, "lan", "c" * 32, "2030-01-01T00:00:00", "2030-01-02T00:00:00"))
    assert archive.session("t" * 64, "2030-01-01T12:00:00").user == "lan"
    assert archive.session("t" * 64, "2030-01-03T00:00:00") is None  # expired
    archive.add_user("lan", "admin", "hash3")  # a new password ends the user's sessions
    assert archive.session("t" * 64, "2030-01-01T12:00:00") is None
    with pytest.raises(Exception, match="unknown role"):
        archive.add_user("x", "root", "h")


def test_archive_review_intake_jobs_are_claimed_once(archive):
    first = archive.add_intake("<b>scan</b>.pdf", "/up/1.pdf", 10, user="lan")
    archive.add_intake("two.pdf", "/up/2.pdf", 20, user="lan")
    claimed = archive.claim_intake()
    assert claimed.id == first.id and claimed.status == "running" and claimed.name == "<b>scan</b>.pdf"
    archive.finish_intake(first.id, "failed", "bad input: /up/1.pdf: corrupt [E102]", None)
    assert archive.claim_intake().name == "two.pdf" and archive.claim_intake() is None
    assert [(j.status, j.message) for j in archive.intake_jobs(5)][1] == ("failed", "bad input: /up/1.pdf: corrupt [E102]")


# --------------------------------------------------------------------------- migration


def test_archive_review_migration_backfills_an_archive_of_schema_1(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    with sqlite3.connect(path) as db:
        store_module.migrate(db, path, store_module.MIGRATIONS[:1])
    monkeypatch.undo()
    # a schema-1 archive written by hand: one document without number, one task with an assignee
    record = record_from_case({"document": {"date": "2020-01-01"},
                               "tasks": [{"id": "1", "text": "x", "assignees": ["Phòng Tư pháp"]}]})
    result = make_result("e" * 64, ["text"], record)
    rows = store_module.document_rows(result, name="old", kind="pdf", result_json="{}")
    document = {k: v for k, v in rows.document.items() if k not in ("review", "low_confidence", "task_count")}
    with sqlite3.connect(path) as db:
        db.execute(f'INSERT INTO "documents" ({", ".join(document)}) VALUES ({", ".join("?" * len(document))})',
                   list(document.values()))
        task = {k: v for k, v in rows.tasks[0].items() if k != "assignees_key"}
        db.execute(f'INSERT INTO "tasks" ("document_id", {", ".join(task)}) VALUES (1, {", ".join("?" * len(task))})',
                   list(task.values()))
    with open_archive(path) as store:
        assert store.cards([1])[1].review == ("code_missing", "signer_missing")
        assert store.cards([1])[1].task_count == 1 and store.facets(SearchFilters()).with_tasks == 1
        assert [row.task["id"] for row in store.task_board(TaskFilters(assignee="tu phap"), limit=None)[1]] == ["1"]


def test_archive_review_exports_carry_task_status(archive):
    import io

    from pipeline.archive.export import write_csv, write_ics

    uid = next(row.uid for row in archive.tasks() if row.task["id"] == "1")
    archive.set_task_status(uid, "done", user="minh")
    out = io.StringIO()
    write_csv(archive.tasks(), out)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(",status") and lines[1].endswith(",done") and lines[2].endswith(",open")
    ics = io.StringIO()
    write_ics(archive.tasks(), ics)
    assert ics.getvalue().count("STATUS:COMPLETED") == 1 and ics.getvalue().count("STATUS:NEEDS-ACTION") == 1


def test_archive_review_facets_follow_writes_of_any_connection(archive, tmp_path):
    before = archive.facets(SearchFilters())
    assert archive.facets(SearchFilters()) == before  # remembered
    assert ("CV", 1) in before.types
    archive.add_correction(archive.ids["unnumbered"], "type", "CV", user="lan")  # this connection
    assert ("CV", 2) in archive.facets(SearchFilters()).types
    with open_archive(archive.location) as other:  # another connection
        result = make_result("9" * 64, ["Số: 1/KH-UBND"], record_from_case({"document": {"type": "KH"}}))
        other.add_document(result, name="kh1", kind="pdf", result_json="{}")
    after = archive.facets(SearchFilters())
    assert after.total == before.total + 1 and ("KH", 1) in after.types

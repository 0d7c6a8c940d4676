"""`congvan process` through the command line with the real stages on text documents (no OCR needed),
then search, show and export on the archive it wrote."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pipeline.cli import main

NAMES = ["cv_langson_vpdp_ntm", "kh_huyenuy_huulung_kl21"]


@pytest.fixture(scope="module")
def processed(tmp_path_factory, documents_dir):
    work = tmp_path_factory.mktemp("process")
    inputs = [str(documents_dir / f"{name}.txt") for name in NAMES]
    code = main(["process", *inputs, str(work / "missing.txt"), "--out", str(work / "out"), "--db",
                 str(work / "archive.db"), "--no-restore", "--jobs", "1"])
    return work, code


def test_cli_process_writes_outputs_and_summary(processed, capsys, documents_dir):
    work, code = processed
    assert code == 3  # the missing input: its error class decides the exit code
    for name in NAMES:
        data = json.loads((work / "out" / f"{name}.json").read_text(encoding="utf-8"))
        gold = json.loads((documents_dir / f"{name}.gold.json").read_text(encoding="utf-8"))
        assert data["kind"] == "text" and data["record"]["document"]["code"] == gold["document"]["code"]
        assert (work / "out" / f"{name}.txt").read_text(encoding="utf-8") == (documents_dir / f"{name}.txt").read_text(
            encoding="utf-8")


def test_cli_process_rerun_skips_and_search_finds(processed, capsys, documents_dir):
    work, _ = processed
    capsys.readouterr()
    inputs = [str(documents_dir / f"{name}.txt") for name in NAMES]
    assert main(["process", *inputs, "--db", str(work / "archive.db"), "--no-restore", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 done" in out and "2 skipped" in out

    assert main(["search", "539/QD-UBND", "--db", str(work / "archive.db"), "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [(h["code"], h["match"]) for h in hits][:1] == [("112/VPĐP-NTM", "cited")]
    assert main(["search", "21-KL/TW", "--db", str(work / "archive.db"), "--json"]) == 0
    assert [h["code"] for h in json.loads(capsys.readouterr().out)][:1] == ["45-KH/HU"]
    assert main(["search", "nong thon moi", "--db", str(work / "archive.db"), "--json"]) == 0
    assert "112/VPĐP-NTM" in [h["code"] for h in json.loads(capsys.readouterr().out)]


def test_cli_process_show_and_export(processed, capsys):
    work, _ = processed
    capsys.readouterr()
    assert main(["show", "112/VPDP-NTM", "--db", str(work / "archive.db"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record"]["document"]["place"] == "Lạng Sơn"
    assert main(["export", "tasks", "--db", str(work / "archive.db")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["document_code"] for row in rows} == {"112/VPĐP-NTM", "45-KH/HU"}
    assert any(row["deadline"] == "2020-04-30" for row in rows)

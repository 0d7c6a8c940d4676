"""congvan.toml beside the archive or named with --config, CONGVAN_DB, their precedence, and --version."""

from __future__ import annotations

import json

import pytest
from fakes_run import store_case_documents

from pipeline import __version__
from pipeline.archive import open_archive
from pipeline.cli import _process_options, build_parser, main
from pipeline.config import ENV_DB, read_config
from pipeline.errors import EXIT_USAGE, UsageError

DOCUMENTS = [{"name": "kh18", "pages": ["Số: 18/KH-UBND\nnông thôn mới"],
              "document": {"code": "18/KH-UBND", "date": "2020-05-01"}}]


@pytest.fixture()
def archive_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_DB, raising=False)
    folder = tmp_path / "archive"
    folder.mkdir()
    with open_archive(folder / "archive.db") as archive:
        store_case_documents(archive, DOCUMENTS)
    return folder


def test_config_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    out = capsys.readouterr().out.strip()
    assert exit_info.value.code == 0 and out.startswith(f"congvan {__version__} (Tesseract ")
    assert "OCRmyPDF 17." in out


def test_config_congvan_db_environment(archive_dir, monkeypatch, capsys):
    monkeypatch.setenv(ENV_DB, str(archive_dir / "archive.db"))
    assert main(["search", "18/KH-UBND", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["code"] == "18/KH-UBND"


def test_config_no_archive_anywhere_is_a_usage_error(archive_dir, capsys):
    assert main(["search", "x"]) == EXIT_USAGE
    assert "no archive: give --db FILE, set CONGVAN_DB" in capsys.readouterr().err


def test_config_file_beside_the_archive_fills_process_settings(archive_dir):
    (archive_dir / "congvan.toml").write_text('[process]\njobs = 3\npdf = true\nout = "results"\npage_timeout = 60\n',
                                              encoding="utf-8")
    args = build_parser().parse_args(["process", "scans/", "--db", str(archive_dir / "archive.db")])
    options = _process_options(args)
    assert (options.jobs, options.pdf, options.page_timeout) == (3, True, 60.0)
    assert options.out_dir == archive_dir / "results"  # paths are relative to the file
    # the command line wins
    args = build_parser().parse_args(["process", "scans/", "--db", str(archive_dir / "archive.db"), "--jobs", "1"])
    assert _process_options(args).jobs == 1


def test_config_named_file_gives_the_archive(archive_dir, tmp_path, capsys):
    config = tmp_path / "office.toml"
    config.write_text(f'db = "{archive_dir / "archive.db"}"\n', encoding="utf-8")
    assert main(["show", "18/KH-UBND", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("18/KH-UBND")


def test_config_environment_wins_over_the_file(archive_dir, tmp_path, monkeypatch, capsys):
    config = tmp_path / "office.toml"
    config.write_text('db = "missing.db"\n', encoding="utf-8")
    monkeypatch.setenv(ENV_DB, str(archive_dir / "archive.db"))
    assert main(["show", "18/KH-UBND", "--config", str(config)]) == 0


@pytest.mark.parametrize(("text", "message"), [
    ("[process]\njobz = 2\n", "unknown setting [process] jobz"),
    ("[process]\njobs = \"two\"\n", "[process] jobs must be int"),
    ("[process]\npdf = 1\n", "[process] pdf must be bool"),
    ("[export]\nheaders = { Authorization = 5 }\n", "table of strings"),
    ("colour = \"blue\"\n", "unknown setting colour"),
    ("[process\n", "not valid TOML"),
])
def test_config_bad_settings_are_one_line_usage_errors(tmp_path, text, message, capsys):
    path = tmp_path / "congvan.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_config(path)
    assert main(["search", "x", "--config", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err


def test_config_db_may_be_a_database_url(tmp_path, new_archive, monkeypatch, capsys):
    """`db = "postgresql://…"` is the server's URL as written (a path would be relative to the file's folder)."""
    monkeypatch.delenv(ENV_DB, raising=False)
    url = new_archive("postgres")
    with open_archive(url) as archive:
        store_case_documents(archive, DOCUMENTS)
    config = tmp_path / "office.toml"
    config.write_text(f'db = "{url}"\n', encoding="utf-8")
    assert read_config(config).get("", "db") == url
    assert main(["search", "18/KH-UBND", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["code"] == "18/KH-UBND"

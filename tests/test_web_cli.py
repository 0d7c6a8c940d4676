"""`congvan serve` and `congvan user`, and the interface's message catalogue (every string in both languages)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import web_archive

from pipeline.archive.review import CORRECTABLE_FIELDS, REVIEW_REASONS, TASK_STATUSES
from pipeline.archive.store import INTAKE_STATUSES, ROLES
from pipeline.cli import main
from pipeline.errors import EXIT_USAGE, NotFoundError
from pipeline.web.i18n import LANGUAGES, catalogue

WEB = Path(__file__).parent.parent / "pipeline" / "web"
KEY_CALL = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']\s*[,)]""")


# --------------------------------------------------------------------------- the catalogue


def test_web_cli_catalogue_has_every_key_in_both_languages():
    fields = re.compile(r"\{(\w+)\}")
    for key, texts in catalogue().items():
        assert set(texts) == set(LANGUAGES), key
        assert all(texts[language].strip() for language in LANGUAGES), key
        assert set(fields.findall(texts["vi"])) == set(fields.findall(texts["en"])), key


def test_web_cli_catalogue_covers_every_key_the_interface_uses():
    used = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        used |= set(KEY_CALL.findall(path.read_text(encoding="utf-8")))
    used |= set(re.findall(r'"(error\.[a-z_]+)"', "".join(p.read_text() for p in WEB.glob("*.py")))) - {"error.html"}
    used |= {f"field.{name}" for name in CORRECTABLE_FIELDS} | {f"reason.{reason}" for reason, _ in REVIEW_REASONS}
    used |= {f"role.{role}" for role in ROLES} | {f"status.{status}" for status in TASK_STATUSES}
    used |= {f"intake.{status}" for status in INTAKE_STATUSES} | {f"match.{m}" for m in ("issued", "cited", "text")}
    used |= {f"review.confirm_{field}" for field in ("code", "date", "signer")}
    missing = sorted(used - set(catalogue()))
    assert missing == []
    assert len(used) > 150


def test_web_cli_templates_hold_no_untranslated_text():
    for path in WEB.glob("templates/*.html"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", text, flags=re.S)
        text = re.sub(r"<script.*?</script>|<[^>]*>", " ", text, flags=re.S)
        text = re.sub(r"&[a-z]+;|[·‹›—|:%()]", " ", text)
        leftovers = [word for word in text.split() if re.search(r"[^\W\d_]", word)]
        assert set(leftovers) <= {"congvan", "CSV", "ICS", "VI", "EN"}, (path.name, leftovers[:10])


# --------------------------------------------------------------------------- congvan user


def test_web_cli_user_add_and_list(tmp_path, monkeypatch, capsys):
    db = tmp_path / "archive.db"
    web_archive.build(tmp_path)
    monkeypatch.setattr("sys.stdin", _Input("long password 1\n"))
    assert main(["user", "add", "lan", "--role", "editor", "--db", str(db), "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["user", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("lan\teditor\t")
    monkeypatch.setattr("sys.stdin", _Input("short\n"))
    assert main(["user", "add", "x", "--role", "viewer", "--db", str(db), "--password-stdin"]) == EXIT_USAGE
    assert "at least 8 characters" in capsys.readouterr().err
    assert main(["user", "list", "--db", str(tmp_path / "none.db")]) == NotFoundError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.db" in err


class _Input:
    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self._lines.pop(0) if self._lines else ""

    def isatty(self) -> bool:
        return False


# --------------------------------------------------------------------------- congvan serve


def test_web_cli_serve_missing_archive_is_one_line(tmp_path, capsys):
    assert main(["serve", "--db", str(tmp_path / "none.db")]) == NotFoundError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.db" in err and "Traceback" not in err
    assert not (tmp_path / "none.db").exists()


def test_web_cli_serve_port_in_use_is_one_line(tmp_path, capsys):
    web_archive.build(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--db", str(tmp_path / "archive.db"), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_web_cli_serve_answers_on_loopback_only(tmp_path):
    web_archive.build(tmp_path)
    server = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--db", str(tmp_path / "archive.db"),
                               "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        address = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", line)
        assert address, line
        response = httpx.get(address.group(1) + "api/search?q=539%20qd%20ubnd", timeout=30)
        assert response.status_code == 200 and response.json()["results"][0]["code"] == "539/QĐ-UBND"
        assert "server-timing" in response.headers
        spec = httpx.get(address.group(1) + "api/openapi.json", timeout=30).json()
        assert {"/api/search", "/api/documents/{document_id}", "/api/tasks",
                "/api/documents/{document_id}/corrections"} <= set(spec["paths"])
        assert json.dumps(spec).count("cdn") == 0
    finally:
        server.terminate()
        server.wait(timeout=30)

"""CLI fuzzing (Hypothesis): whatever the argument vector or the files' content, no traceback reaches the user,
every line on stderr is one of congvan's, every exit code is one the README documents, and a batch's good
files always complete.

Bounded so that `make test` stays fast (deterministic examples); CONGVAN_FUZZ_EXAMPLES=N runs N random ones.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pikepdf
import pytest
from fakes_run import store_case_documents
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from scan_images import text_page

from pipeline.archive import open_archive
from pipeline.cli import main

README = Path(__file__).parent.parent / "README.md"
CASES = json.loads((Path(__file__).parent / "cases" / "archive_search.json").read_text(encoding="utf-8"))
EXPLORE = os.environ.get("CONGVAN_FUZZ_EXAMPLES")


def _fuzz_settings(examples: int, *, shrink: bool = True) -> settings:
    phases = [phase for phase in Phase if shrink or phase is not Phase.shrink]
    return settings(max_examples=int(EXPLORE or examples), derandomize=EXPLORE is None, deadline=None,
                    database=None, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def documented_exit_codes() -> set[int]:
    """The exit codes of the README's table (| 0 | — | …, | 12 | E400 | …)."""
    section = README.read_text(encoding="utf-8").split("### Exit codes and errors", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}


def _ours(line: str) -> bool:
    """A stderr line congvan writes: a message, a failure, a summary line."""
    return line.startswith(("congvan: ", "  failed: ", "  skipped: "))


def test_cli_fuzz_readme_documents_the_exit_codes():
    assert documented_exit_codes() >= {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 130}


# --------------------------------------------------------------------------- argument vectors (in process)


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """Paths an argument may name: a good archive, look-alikes, odd files; none a document that would need the
    OCR (the content fuzz below covers those)."""
    root = tmp_path_factory.mktemp("argv")
    with open_archive(root / "archive.db") as archive:
        store_case_documents(archive, CASES["documents"])
    with contextlib.closing(__import__("sqlite3").connect(root / "foreign.db")) as foreign:
        foreign.execute("CREATE TABLE t (x)")
        foreign.commit()
    (root / "notes.db").write_bytes(b"\x00\x01 notes of another program")
    (root / "empty.pdf").write_bytes(b"")
    (root / "garbage.png").write_bytes(os.urandom(300))
    (root / "line\nbreak.tif").write_bytes(b"II*\x00" + os.urandom(64))
    (root / "bad").mkdir()
    (root / "bad" / "x.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(40))
    return {"root": root, "paths": [str(root / name) for name in (
        "archive.db", "foreign.db", "notes.db", "empty.pdf", "garbage.png", "line\nbreak.tif", "bad", "missing",
        "missing/deeper/x.db")] + ["", "-", "/dev/null", "sqlite:///" + str(root / "archive.db"),
                                   "postgresql://nowhere/db"],
            "cwd": _empty_folder(root / "cwd" / "1" / "2" / "3")}


def _empty_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


COMMANDS = ["process", "restore", "extract", "schema", "search", "show", "export", "help", ""]
FLAGS = ["--out", "--db", "--jobs", "--page-timeout", "--lang", "--executor", "--scheduler", "--worker-memory",
         "--force", "--pdf", "--no-restore", "--text-layer", "--json", "--text", "--type", "--issuer", "--from",
         "--to", "--place", "--limit", "--format", "--since", "--bogus", "-h"]
# What a command line can hold: any text but NUL. Relative paths resolve in an empty folder (see places).
def TEXT(size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(blacklist_characters="\x00"), max_size=size)


NUMBERS = ["0", "1", "-1", "2", "nan", "inf", "-inf", "1e309", "99999999999999999999", "0x10", "²", "١", "3.5", ""]


@st.composite
def argument_vectors(draw, paths: list[str]) -> list[str]:
    path = st.sampled_from(paths)
    value = st.one_of(path, st.sampled_from(NUMBERS), st.sampled_from(["dask", "local", "csv", "ics", "jsonl",
                                                                       "tcp://[::1", "tcp://h:99999", "2020-02-30",
                                                                       "2020-01-01", "QĐ", "539/QĐ-UBND"]),
                      TEXT(30))
    argv = [draw(st.sampled_from(COMMANDS) | TEXT(8))]
    if argv[0] == "export":
        argv.append(draw(st.sampled_from(["tasks", "documents", ""])))
    argv += draw(st.lists(st.one_of(path, TEXT(40)), max_size=3))
    for flag in draw(st.lists(st.sampled_from(FLAGS), max_size=5)):
        argv.append(flag)
        if flag == "--out" and argv[0] == "export":  # export --out on odd targets is issue 11's defect 8 (office)
            argv.append(str(Path(paths[0]).parent / "export" / "tasks.csv"))
        elif flag not in ("--force", "--pdf", "--no-restore", "--text-layer", "--json", "--text", "-h"):
            argv.append(draw(value))
    return argv


def _run_in_process(argv: list[str], cwd: Path) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), contextlib.chdir(cwd), \
            contextlib.ExitStack() as stack:
        stack.callback(setattr, sys, "stdin", sys.stdin)
        sys.stdin = stdin
        try:
            code = main(argv)
        except SystemExit as done:  # --help prints the usage and exits 0
            assert done.code == 0 and "-h" in argv, (argv, done.code)
            code = 0
    return code, err.getvalue()


@settings(parent=_fuzz_settings(150))
@given(data=st.data())
def test_cli_fuzz_argument_vectors(places, data):
    argv = data.draw(argument_vectors(places["paths"]))
    if argv[0] == "process" and not any(flag in argv for flag in ("-h", "--help")):
        argv = [*argv, "--jobs", "1"]  # (never reached: no input of the vocabulary is a document)
    code, err = _run_in_process(argv, places["cwd"])
    assert code in documented_exit_codes(), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    assert all(_ours(line) for line in err.splitlines()), (argv, err)
    assert Path(places["paths"][0]).exists()


# --------------------------------------------------------------------------- file contents (real command line)


def _png(width: int, height: int, body: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _tiff(width: int, height: int, body: bytes) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (262, 3, 1, 1), (273, 4, 1, 128),
               (277, 3, 1, 1), (279, 4, 1, len(body))]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *entry) for entry in entries) + b"\0" * 4
    return (b"II*\x00" + struct.pack("<I", 8) + ifd).ljust(128, b"\0") + body


def _jpeg(width: int, height: int, body: bytes) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + body


def _pdf(width: int, height: int, body: bytes) -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
            b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 " + f"{width} {height}".encode()
            + b"]>>endobj\n" + body)


HEADERS = {".png": _png, ".tif": _tiff, ".jpg": _jpeg, ".pdf": _pdf}
SUFFIXES = [".pdf", ".png", ".jpg", ".tif", ".txt", ".gif", ".bmp", ".webp"]


class Samples(dict[str, bytes]):
    def __repr__(self) -> str:  # Hypothesis prints its arguments: not megabytes of them
        return f"Samples({', '.join(sorted(self))})"


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Samples:
    """Small real files of each format, to truncate and mutate."""
    root = tmp_path_factory.mktemp("samples")
    page = Image.fromarray(text_page(dpi=100))
    page.save(root / "a.png", dpi=(100, 100))
    page.save(root / "a.jpg", dpi=(100, 100), quality=70)
    page.save(root / "a.tif", dpi=(100, 100), save_all=True, append_images=[page], compression="tiff_deflate")
    page.save(root / "a.gif")
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.save(root / "a.pdf")
    (root / "a.txt").write_text("UBND TỈNH LẠNG SƠN\nSố: 12/KH-UBND\nKẾ HOẠCH nong thon moi\n", encoding="utf-8")
    return Samples({path.suffix: path.read_bytes() for path in root.iterdir()})


@st.composite
def hostile_files(draw, samples: dict[str, bytes]) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["random", "truncated", "mutated", "header", "huge"]))
    if kind == "random":
        return draw(st.sampled_from(SUFFIXES)), draw(st.binary(max_size=3000))
    if kind in ("truncated", "mutated"):
        suffix = draw(st.sampled_from(sorted(samples)))
        data = bytearray(samples[suffix])
        if kind == "truncated":
            return suffix, bytes(data[:draw(st.integers(0, len(data)))])
        for _ in range(draw(st.integers(1, 20))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return suffix, bytes(data)
    suffix = draw(st.sampled_from(sorted(HEADERS)))
    limit = 2**31 - 1 if kind == "huge" else 5000
    size = st.integers(0, limit) if suffix != ".jpg" else st.integers(0, 65535)
    if suffix == ".pdf":
        size = st.integers(-10, 10**9 if kind == "huge" else 20000)
    return suffix, HEADERS[suffix](draw(size), draw(size), draw(st.binary(max_size=500)))


GOOD_TEXT = "UBND TỈNH LẠNG SƠN\nSố: 12/KH-UBND\nKẾ HOẠCH thực hiện chương trình nong thon moi\n"


@pytest.fixture(scope="module")
def good_scan(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / "scan.png"
    lines = ("UBND TỈNH LẠNG SƠN", "Số: 539/QĐ-UBND")
    Image.fromarray(text_page(lines, dpi=300, width_in=4.0)).save(path, dpi=(300, 300))
    return path


@pytest.mark.slow
@settings(parent=_fuzz_settings(3, shrink=False))  # each example is a whole batch run: report it as found
@given(data=st.data())
def test_cli_fuzz_file_contents_never_stop_a_batch(tmp_path_factory, samples, good_scan, data):
    folder = tmp_path_factory.mktemp("batch")
    hostile = data.draw(st.lists(hostile_files(samples), min_size=3, max_size=12), label="hostile files")
    for number, (suffix, content) in enumerate(hostile):
        (folder / f"h{number}{suffix}").write_bytes(content)
    (folder / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (folder / "good_scan.png").write_bytes(good_scan.read_bytes())
    out = folder / "out"
    run = subprocess.run([sys.executable, "-m", "pipeline", "process", str(folder), "--out", str(out), "--jobs", "2",
                          "--page-timeout", "60"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "default"})
    files = [(suffix, len(content), content[:24]) for suffix, content in hostile]
    foreign = [line for line in run.stderr.splitlines() if not _ours(line) or "internal error" in line]
    assert foreign == [], (files, foreign)
    assert run.returncode in documented_exit_codes(), (files, run.returncode, run.stderr[-2000:])
    done = json.loads((out / "good.json").read_text(encoding="utf-8"))
    assert done["record"]["document"]["code"] == "12/KH-UBND"
    scan = json.loads((out / "good_scan.json").read_text(encoding="utf-8"))
    assert "539" in scan["pages"][0]["text"]

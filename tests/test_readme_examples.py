"""Every example of the README's Usage section, run exactly as written after `make run` (its command read from the
Makefile), in a copy of the repository's layout; an example expecting another exit code says `# exit N`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract")]


def readme_examples() -> list[tuple[str, int]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    usage = text[text.index("\n## Usage"):]
    usage = usage[:usage.index("\n## ", 1)]
    examples = []
    for block in re.findall(r"```sh\n(.*?)```", usage, flags=re.S):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                expected = re.search(r"# exit (\d+)", line)
                examples.append((line, int(expected.group(1)) if expected else 0))
    return examples


def make_run_command() -> str:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n\t(.+)$", makefile, flags=re.M)
    assert recipe is not None
    return recipe.group(1).replace("$(JOBS)", "2")


class _Tracker(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: list[tuple[str, dict]] = []  # noqa: RUF012 - shared by the handler instances of one server

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers.get("Authorization", ""), json.loads(body)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The repository's samples beside a fresh out/, after `make run`'s own command."""
    work = tmp_path_factory.mktemp("readme")
    (work / "samples").symlink_to(ROOT / "samples")
    (work / ".venv").symlink_to(BIN.parent)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    env.pop("CONGVAN_DB", None)
    done = subprocess.run(make_run_command(), shell=True, cwd=work, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tracker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env.update(TRACKER_URL=f"http://127.0.0.1:{server.server_address[1]}/hooks/congvan", TRACKER_TOKEN="t0ken")
    yield work, env
    server.shutdown()
    server.server_close()


def test_readme_examples_exist():
    examples = readme_examples()
    assert len(examples) >= 15 and all("congvan" in line or "ocrmypdf" in line for line, _ in examples)


@pytest.mark.parametrize(("example", "expected"), readme_examples(), ids=[line[:60] for line, _ in readme_examples()])
def test_readme_example_runs_as_written(workspace, example, expected):
    work, env = workspace
    done = subprocess.run(["bash", "-c", example], cwd=work, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == expected, f"{example}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
    assert "Traceback" not in done.stderr
    if "--webhook" in example:
        assert _Tracker.received and all(auth == "Bearer t0ken" for auth, _ in _Tracker.received)

"""The web process and `congvan process --force` writing the same archive at once: no correction is lost,
every correction stays in the audit trail and keeps precedence over each re-extraction."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

from fakes_run import CLI_RUNNER, FAKE_STAGES, write_fake_scan
from fastapi.testclient import TestClient

from pipeline.archive import open_archive
from pipeline.run import ProcessOptions, process_inputs
from pipeline.web import WebConfig, create_app
from pipeline.web.auth import hash_password

TESTS = str(Path(__file__).parent)
RUNS = 4


def test_web_concurrency_corrections_survive_simultaneous_reprocessing(tmp_path):
    scan = write_fake_scan(tmp_path / "in" / "qd.pdf", ["Số: 539/QĐ-UBND\nQuyết định nông thôn mới"])
    db = tmp_path / "archive.db"
    assert process_inputs([scan], ProcessOptions(db_path=db, jobs=1, progress=False), stages=FAKE_STAGES).exit_code == 0
    with open_archive(db) as store:
        store.add_user("ed", "editor", hash_password("correct horse 1"))
        [document] = store.lookup("539/QĐ-UBND")

    failures: list[str] = []

    def reprocess() -> None:
        for _ in range(RUNS):
            done = subprocess.run([sys.executable, "-c", CLI_RUNNER, TESTS, "process", str(scan), "--db", str(db),
                                   "--force", "--jobs", "1"], capture_output=True, text=True, timeout=120)
            if done.returncode != 0 or "1 done" not in done.stderr + done.stdout:
                failures.append(done.stderr[-500:])

    worker = threading.Thread(target=reprocess)
    values: list[str] = []
    with TestClient(create_app(WebConfig(db=db, intake_worker=False))) as client:
        form = client.get("/login").text.split('action="/login"')[1]
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        client.post("/login", data={"name": "ed", "password": "correct horse 1", "csrf": token})
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/tasks").text).group(1)
        worker.start()
        while worker.is_alive() or len(values) < 3:
            value = f"Trích yếu sửa lần {len(values) + 1}"
            response = client.post(f"/documents/{document.id}/edit", data={"csrf": csrf, "subject": value},
                                   follow_redirects=False)
            assert response.status_code == 303, response.text[-300:]
            values.append(value)
        worker.join()
    assert failures == []
    # one more re-extraction after the last correction: the correction still wins
    options = ProcessOptions(db_path=db, jobs=1, force=True, progress=False)
    assert process_inputs([scan], options, stages=FAKE_STAGES).done
    with open_archive(db) as store:
        assert [c.new for c in store.corrections(document.id)] == values
        assert store.load_record(document.id).document.subject == values[-1]
        assert [d.id for d in store.lookup("539/QĐ-UBND")] == [document.id]  # re-processed under the same id
        assert store.count_documents() == 1

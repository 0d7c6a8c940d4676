"""The Dask executor: the same batch on a distributed LocalCluster (loopback TCP) gives the same results;
workers that cannot read an input get its bytes; with an archive server the workers store the documents."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from pathlib import Path

import pytest
from components import require_module
from fakes_run import FAKE_STAGES, write_fake_scan

from pipeline.errors import CongvanError, CorruptFileError, TooLargeError
from pipeline.run import ProcessOptions, engine, executors, process_inputs, worker

distributed = require_module("distributed", "pip install -e '.[dask]' (make setup installs the dev extras)")


@pytest.fixture(scope="module")
def scheduler():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                       host="127.0.0.1", dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


def _outputs(folder):
    return {path.name: json.loads(path.read_text())["pages"] for path in sorted(folder.glob("*.json"))}


def test_run_dask_matches_local_executor(tmp_path, scheduler, fake_stages):
    assert scheduler.startswith("tcp://127.0.0.1:")
    write_fake_scan(tmp_path / "in" / "a.png", ["Số: 1/KH-UBND\nnong thon moi", "trang hai"])
    write_fake_scan(tmp_path / "in" / "b.pdf", ["Số: 2/QĐ-UBND"])
    write_fake_scan(tmp_path / "in" / "c.png", ["x"], fail_page=0)
    on_dask = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "dask", db_path=tmp_path / "d.db",
                                                               executor="dask", scheduler=scheduler),
                             stages=fake_stages)
    local = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "local", jobs=2), stages=fake_stages)
    statuses = {Path(o.source).name: o.status for o in on_dask.outcomes}
    assert statuses == {Path(o.source).name: o.status for o in local.outcomes}
    assert statuses == {"a.png": "done", "b.pdf": "done", "c.png": "failed"}
    assert isinstance(on_dask.failed[0].error, CorruptFileError) and on_dask.exit_code == CorruptFileError.exit_code
    strip = lambda pages: [{k: v for k, v in page.items() if k != "seconds"} for page in pages]  # noqa: E731
    dask_out, local_out = _outputs(tmp_path / "dask"), _outputs(tmp_path / "local")
    assert dask_out.keys() == local_out.keys() == {"a.json", "b.json"}
    assert all(strip(dask_out[name]) == strip(local_out[name]) for name in dask_out)


def test_run_dask_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch, fake_stages):
    monkeypatch.setattr(executors, "DASK_CONNECT_SECONDS", 1.0)
    write_fake_scan(tmp_path / "a.png", ["x"])
    with pytest.raises(CongvanError, match="cannot reach the Dask scheduler"):
        process_inputs([tmp_path / "a.png"], ProcessOptions(out_dir=tmp_path / "out", executor="dask",
                                                            scheduler="tcp://127.0.0.1:9"), stages=fake_stages)


READ_FROM: list[Path] = []  # where the workers (threads of this process) read pages from


def _recording_load_page(path, index):
    READ_FROM.append(Path(path))
    return FAKE_STAGES.load_page(path, index)


def _pretend_workers_hold_other_files(folder, monkeypatch):
    """As if the workers were on machines where the input paths hold other content (or nothing): their
    content check of each input fails, so the driver must send them the bytes."""
    for path in folder.rglob("*.*"):
        stat = path.stat()
        monkeypatch.setitem(worker._hashed, (str(path), stat.st_size, stat.st_mtime_ns), "0" * 64)


def test_run_dask_worker_without_the_input_gets_its_bytes(tmp_path, scheduler, monkeypatch):
    write_fake_scan(tmp_path / "in" / "a.png", ["Số: 1/KH-UBND\nnong thon moi", "trang hai", "trang ba"])
    write_fake_scan(tmp_path / "in" / "b.pdf", ["Số: 2/QĐ-UBND"])
    _pretend_workers_hold_other_files(tmp_path / "in", monkeypatch)
    READ_FROM.clear()
    stages = dataclasses.replace(FAKE_STAGES, load_page=_recording_load_page)
    summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "dask", executor="dask",
                                                               scheduler=scheduler), stages=stages)
    process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "local", jobs=2), stages=FAKE_STAGES)
    assert summary.exit_code == 0 and len(summary.done) == 2, summary.format()
    strip = lambda pages: [{k: v for k, v in page.items() if k != "seconds"} for page in pages]  # noqa: E731
    dask_out, local_out = _outputs(tmp_path / "dask"), _outputs(tmp_path / "local")
    assert {name: strip(pages) for name, pages in dask_out.items()} == \
        {name: strip(pages) for name, pages in local_out.items()}
    # every page was read from the worker's copy of the sent bytes, never from the driver's path
    assert len(READ_FROM) == 4 and all(p.parent.name.startswith("congvan-inputs-") for p in READ_FROM)


def test_run_dask_input_too_large_to_send_is_one_clear_error(tmp_path, scheduler, monkeypatch):
    write_fake_scan(tmp_path / "in" / "big.png", ["x" * 200])
    write_fake_scan(tmp_path / "in" / "small.png", ["y"])
    _pretend_workers_hold_other_files(tmp_path / "in", monkeypatch)
    monkeypatch.setattr(engine, "MAX_SENT_BYTES", 100)
    summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "out", executor="dask",
                                                               scheduler=scheduler), stages=FAKE_STAGES)
    assert [Path(o.source).name for o in summary.failed] == ["big.png"]
    error = summary.failed[0].error
    assert isinstance(error, TooLargeError) and "too large to send" in str(error) and "big.png" in str(error)
    assert summary.exit_code == TooLargeError.exit_code
    assert [Path(o.source).name for o in summary.done] == ["small.png"]


def test_run_dask_local_worker_that_reads_the_path_gets_no_bytes(tmp_path):
    scan = write_fake_scan(tmp_path / "a.png", ["x"])
    digest = FAKE_STAGES.open_document(scan).sha256
    assert worker.local_source(str(scan), digest, None) == scan
    for source in (str(tmp_path / "elsewhere.png"), "relative/to/another/machine.png"):
        with pytest.raises(worker.SourceUnavailable):
            worker.local_source(source, digest, None)


def test_run_dask_results_go_straight_into_the_archive_server(tmp_path, scheduler, monkeypatch, new_archive):
    """With a PostgreSQL archive the workers store each finished document themselves; the driver only
    writes the --out files (and finds nothing left to store)."""
    from pipeline.archive import open_archive
    from pipeline.archive.postgres import PostgresArchive

    url = new_archive("postgres")
    writers = []
    real = PostgresArchive.add_document

    def add_document(self, *args, **kwargs):
        writers.append(threading.current_thread().name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PostgresArchive, "add_document", add_document)
    write_fake_scan(tmp_path / "in" / "a.png", ["Số: 1/KH-UBND\nnong thon moi", "theo 2/QĐ-UBND"])
    write_fake_scan(tmp_path / "in" / "b.pdf", ["Số: 2/QĐ-UBND"])
    options = ProcessOptions(out_dir=tmp_path / "out", db_path=url, executor="dask", scheduler=scheduler)
    summary = process_inputs([tmp_path / "in"], options, stages=FAKE_STAGES)
    assert summary.exit_code == 0 and len(summary.done) == 2
    assert len(writers) == 2 and threading.main_thread().name not in writers
    with open_archive(url, create=False) as archive:
        stored = {d.name: d for d in archive.stored_documents()}
        assert set(stored) == {"a", "b"}
        a_json = (tmp_path / "out" / "a.json").read_text(encoding="utf-8")
        assert archive.load_result(stored["a"].id)[0] == a_json
    again = process_inputs([tmp_path / "in"], options, stages=FAKE_STAGES)
    assert len(again.skipped) == 2 and len(writers) == 2


def test_run_dask_shipped_copies_written_by_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask worker runs pages in threads: several pages of one shipped input write its local copy at
    once, and every one of them gets the whole file (a shared temporary name once lost a page)."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(worker, "_shipped", {})
    gate = threading.Barrier(8)
    real_write = Path.write_bytes

    def slow_write(self: Path, data: bytes) -> int:
        written = real_write(self, data)
        if self.name.endswith(".tmp"):
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.wait(timeout=0.5)  # the writers meet between writing and renaming
        return written

    monkeypatch.setattr(Path, "write_bytes", slow_write)
    content = b"page bytes" * 1000
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: worker._shipped_copy("a.png", None, content), range(8)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == content

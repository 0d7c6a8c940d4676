"""The driver's footprint stays flat: bounded pages in flight, finished documents released."""

from __future__ import annotations

import gc
import weakref

import pytest
from fakes_run import write_fake_scan

from pipeline.run import ProcessOptions, executors, process_inputs
from pipeline.run.engine import PAGES_IN_FLIGHT_PER_JOB
from pipeline.run.progress import Progress
from pipeline.types import PageResult

WORDS_PER_PAGE = 400


def _batch(folder, documents):
    page = "\n".join(" ".join(f"từ{line}x{word}" for word in range(20)) for line in range(WORDS_PER_PAGE // 20))
    for number in range(documents):
        write_fake_scan(folder / f"d{number:04d}.png", [page])


def test_run_memory_pages_in_flight_are_bounded(tmp_path, monkeypatch, fake_stages):
    _batch(tmp_path / "in", 30)
    most = []

    class CountingExecutor(executors.LocalExecutor):
        def wait_any(self, futures):
            futures = list(futures)
            most.append(len(futures))
            return super().wait_any(futures)

    monkeypatch.setattr(executors, "LocalExecutor", CountingExecutor)
    summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "out", jobs=2), stages=fake_stages)
    assert len(summary.done) == 30
    limit = 2 * PAGES_IN_FLIGHT_PER_JOB
    assert max(most) <= 2 * limit  # pages, plus at most one extraction per finishing document


BOUND = 2 * PAGES_IN_FLIGHT_PER_JOB * 2  # two jobs' pages in flight, twice over


class _Gone:
    pass


def _pages_held() -> int:
    """PageResults alive. By exact type: `isinstance` asks a weak proxy for its class, and a dead one that an
    earlier test left in memory (numba's compiler leaves some) raises ReferenceError."""
    return sum(type(o) is PageResult for o in gc.get_objects())


def test_run_memory_finished_documents_are_released(tmp_path, monkeypatch, fake_stages):
    _batch(tmp_path / "in", 60)
    alive = []
    finished = Progress.document_finished
    dead = weakref.proxy(_Gone())  # what an earlier test may leave in memory: a proxy to a collected object
    with pytest.raises(ReferenceError):
        isinstance(dead, PageResult)

    def counting(self, outcome):
        held = _pages_held()
        if held > BOUND:  # unreachable pages not collected yet are not held: count again after a collection
            gc.collect()
            held = _pages_held()
        alive.append(held)
        finished(self, outcome)

    monkeypatch.setattr(Progress, "document_finished", counting)
    summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "out", jobs=2), stages=fake_stages)
    assert len(summary.done) == 60 and len(alive) == 60
    # only the pages of documents still in flight are held, however long the batch
    assert max(alive) <= BOUND, alive

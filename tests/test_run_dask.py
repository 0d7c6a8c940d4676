"""The Dask executor: the same batch on a distributed LocalCluster (loopback TCP) gives the same results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from components import require_module
from fakes_run import write_fake_scan

from pipeline.errors import CongvanError, CorruptFileError
from pipeline.run import ProcessOptions, executors, process_inputs

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

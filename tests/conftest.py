"""Fixtures shared by the tests: a fresh archive, the sample documents, the fake stage set, and archives on
both backends (SQLite files, and databases on one temporary PostgreSQL server that the session starts and
stops itself)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from components import require, require_module
from fakes_run import FAKE_STAGES

from pipeline.archive import ArchiveStore, open_archive
from pipeline.run import Stages

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from pg_temp import TemporaryPostgres, find_binaries

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own cache folder (what congvan derives and keeps, e.g. the LM's hash tables), so that
    tests never write into the user's cache; processes the tests start inherit it."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture()
def fresh_archive(tmp_path: Path) -> Iterator[ArchiveStore]:
    """An empty archive in the test's temporary folder (`archive.location` is its file), closed afterwards."""
    with open_archive(tmp_path / "archive.db") as archive:
        yield archive


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """samples/: the committed sample scans with their gold files."""
    return ROOT / "samples"


@pytest.fixture(scope="session")
def documents_dir(samples_dir: Path) -> Path:
    """samples/documents/: the gold text documents (<name>.txt with <name>.gold.json)."""
    return samples_dir / "documents"


@pytest.fixture()
def fake_stages() -> Stages:
    """Stand-ins for every stage (tests/fakes_run.py): a batch runs in milliseconds."""
    return FAKE_STAGES


# --------------------------------------------------------------------------- both backends

BACKENDS = ("sqlite", "postgres")
TEMPLATE = "congvan_template"  # a database holding the current schema, copied for each test
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    """One PostgreSQL server for the whole session (see scripts/pg_temp.py); under CI a missing PostgreSQL
    fails the tests that need it instead of skipping them."""
    require_module("psycopg", "pip install -e '.[dev]'")
    require_module("psycopg_pool", "pip install -e '.[dev]'")
    require(find_binaries() is not None, "PostgreSQL", "Debian package 'postgresql'; make test installs it")
    server = TemporaryPostgres().start()
    try:
        open_archive(server.create_database(TEMPLATE)).close()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def new_archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """Makes the location of a fresh, empty archive: an SQLite file, or a new PostgreSQL database (with the
    current schema unless `schema=False`). The databases go with the server at the end of the session."""

    def make(backend: str, *, schema: bool = True) -> str:
        if backend == "sqlite":
            return str(tmp_path_factory.mktemp("archive") / "archive.db")
        server: TemporaryPostgres = request.getfixturevalue("postgres_server")
        return server.create_database(f"test_{next(_database_numbers)}", template=TEMPLATE if schema else "template0")

    return make


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def archive_location(request: pytest.FixtureRequest, backend: str, new_archive: Callable[..., str]) -> Iterator[str]:
    """A fresh archive on each backend; a PostgreSQL database is dropped after the test."""
    server: TemporaryPostgres | None = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    location = new_archive(backend)
    yield location
    if server is not None:
        server.drop_database(location)

"""Fixtures shared by the test modules: archives on both backends (SQLite files, and databases on one
temporary PostgreSQL server that the session starts and stops itself)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

BACKENDS = ("sqlite", "postgres")
TEMPLATE = "congvan_template"  # a database holding the current schema, copied for each test
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """One PostgreSQL server for the whole session (see scripts/pg_temp.py); under CI a missing PostgreSQL
    fails the tests that need it instead of skipping them."""
    from pg_temp import TemporaryPostgres, find_binaries

    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        _unavailable("psycopg / psycopg_pool are not installed (pip install -e '.[dev]')")
    if find_binaries() is None:
        _unavailable("PostgreSQL is not installed (Debian package 'postgresql'; make test installs it)")
    server = TemporaryPostgres().start()
    try:
        from pipeline.archive import open_archive

        open_archive(server.create_database(TEMPLATE)).close()
        yield server
    finally:
        server.stop()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def new_archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """Makes the location of a fresh, empty archive: an SQLite file, or a new PostgreSQL database (with the
    current schema unless `schema=False`). The databases go with the server at the end of the session."""

    def make(backend: str, *, schema: bool = True) -> str:
        if backend == "sqlite":
            return str(tmp_path_factory.mktemp("archive") / "archive.db")
        server = request.getfixturevalue("postgres_server")
        return server.create_database(f"test_{next(_database_numbers)}", template=TEMPLATE if schema else "template0")

    return make


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def archive_location(request: pytest.FixtureRequest, backend: str, new_archive: Callable[..., str]) -> Iterator[str]:
    """A fresh archive on each backend; a PostgreSQL database is dropped after the test."""
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    location = new_archive(backend)
    yield location
    if server is not None:
        server.drop_database(location)

"""Fixtures shared by the tests: a fresh archive, the sample documents, the fake stage set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes_run import FAKE_STAGES

from pipeline.archive import ArchiveStore, open_archive
from pipeline.run import Stages

ROOT = Path(__file__).resolve().parents[1]


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

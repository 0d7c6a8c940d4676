"""What some tests need installed (Tesseract and its languages, fonts, optional packages): a missing component
skips those tests on a developer's machine and fails them in CI (`CI=true`, set by .ci/run), where everything
`make setup` installs must be there. Tests never skip any other way."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(available: bool, what: str, install: str) -> None:
    """Go on when `available`; else skip (at module level too), or fail in CI."""
    if available:
        return
    message = f"needs {what} ({install})"
    if in_ci():
        pytest.fail(f"{message}: missing in CI, where `make setup` must have installed it", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_program(name: str, install: str) -> None:
    require(shutil.which(name) is not None, f"the program {name!r}", install)


def require_file(path: Path, install: str) -> Path:
    require(path.exists(), str(path), install)
    return path


def require_data(path: Path, what: str) -> Path:
    """Data kept outside the repository (../shared/real): no `make` target can install it, so its tests skip
    wherever it is absent, CI included."""
    if not path.exists():
        pytest.skip(f"{path} is absent: {what} are not here", allow_module_level=True)
    return path


def require_module(name: str, install: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        require(False, f"the Python package {name!r}", install)
        raise  # not reached: require skipped or failed

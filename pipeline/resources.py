"""The one object that holds congvan's heavy resources, each loaded on first use and then kept for the
process: the document types and the gazetteer of extraction, the restoration models. Stages reach them
through `current_resources()`; tests swap in their own with `use_resources(...)`.

The environment variable CONGVAN_MODELS (a folder holding restore_lm.npz and its companions) replaces the
bundled models/ folder; it is read here, when the process's resources object is made, and nowhere else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from pipeline.extract.places import Gazetteer
    from pipeline.extract.text import DocTypes
    from pipeline.handwriting import DigitModel
    from pipeline.names import NameModel
    from pipeline.types import Restoration

MODELS_ENV = "CONGVAN_MODELS"
T = TypeVar("T")


class TextRestorer(Protocol):
    """What restoration needs of its models: restore.decode.Restorer, or a stand-in in tests."""

    def restore(self, text: str, confidences: Sequence[float | None] | None = None) -> Restoration: ...


class Resources:
    """Heavy resources, loaded lazily and once (thread-safe). Pass any of them to use it instead: tests build
    small ones by hand rather than load the real ones."""

    def __init__(self, *, models_dir: Path | None = None, doc_types: DocTypes | None = None,
                 gazetteer: Gazetteer | None = None, restorer: TextRestorer | None = None,
                 digit_model: DigitModel | None = None, person_names: NameModel | None = None) -> None:
        override = os.environ.get(MODELS_ENV)
        # None: the models bundled with congvan (restore.models.MODELS_DIR)
        self.models_dir = models_dir if models_dir is not None else Path(override) if override else None
        self._lock = threading.RLock()
        self._doc_types = doc_types
        self._gazetteer = gazetteer
        self._restorer = restorer
        self._digit_model = digit_model
        self._person_names = person_names

    @property
    def doc_types(self) -> DocTypes:
        """Document types of Decree 30/2020, the legal and the Party types (pipeline/data/doc_types.json)."""
        from pipeline.extract.text import load_doc_types

        return self._once("_doc_types", load_doc_types)

    @property
    def gazetteer(self) -> Gazetteer:
        """Administrative units before and after the 2025 reform (pipeline/data/gazetteer.json.gz)."""
        from pipeline.extract.places import load_gazetteer

        return self._once("_gazetteer", load_gazetteer)

    @property
    def person_names(self) -> NameModel:
        """How often each syllable is a family, middle or given name (pipeline/data/person_names.json)."""
        from pipeline.names import load_name_model

        return self._once("_person_names", load_name_model)

    @property
    def restorer(self) -> TextRestorer:
        """The diacritic restorer over the models of `models_dir`; MissingDependencyError when they are missing."""
        from pipeline.restore.models import get_restorer

        return self._once("_restorer", lambda: get_restorer(self.models_dir))

    @property
    def digit_model(self) -> DigitModel:
        """The classifier of handwritten digits (digits.npz of `models_dir` when it has one, else the bundled
        models/); MissingDependencyError when it is missing."""
        from pipeline.handwriting import DIGITS_FILE, load_digit_model
        from pipeline.restore.models import MODELS_DIR

        folder = self.models_dir if self.models_dir and (self.models_dir / DIGITS_FILE).exists() else MODELS_DIR
        return self._once("_digit_model", lambda: load_digit_model(folder))

    def _once(self, attribute: str, load: Callable[[], T]) -> T:
        with self._lock:
            value: T | None = getattr(self, attribute)
            if value is None:
                value = load()
                setattr(self, attribute, value)
            return value


_current: Resources | None = None
_current_lock = threading.Lock()


def current_resources() -> Resources:
    """The resources of this process, made on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Resources()
        return _current


@contextmanager
def use_resources(replacement: Resources) -> Iterator[Resources]:
    """Make `replacement` the process's resources for the duration of the block."""
    global _current
    with _current_lock:
        previous, _current = _current, replacement
    try:
        yield replacement
    finally:
        with _current_lock:
            _current = previous

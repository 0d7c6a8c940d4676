"""Where the restoration models live and how they are loaded: once per process, lazily."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.defaults import cache_dir
from pipeline.errors import MissingDependencyError
from pipeline.restore.case import CaseModel
from pipeline.restore.channel import ReadingIndex, SubstitutionChannel
from pipeline.restore.decode import Restorer
from pipeline.restore.lm import NgramModel
from pipeline.restore.regimes import Regime, RegimeModel

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
LM_FILE = "restore_lm.npz"
CHANNEL_FILE = "restore_channel.json"
READINGS_FILE = "restore_readings.npz"
CASE_FILE = "restore_case.npz"


@dataclass
class Models:
    lm: NgramModel
    channels: dict[Regime, SubstitutionChannel]
    readings: dict[Regime, ReadingIndex]
    regimes: RegimeModel | None  # None without channels
    case: CaseModel | None  # None without a case file


_lock = threading.Lock()
_loaded: dict[Path, Models] = {}
_restorers: dict[Path, Restorer] = {}


def models_dir() -> Path:
    """The bundled models; pipeline.resources chooses another folder when CONGVAN_MODELS names one."""
    return MODELS_DIR


def load_models(directory: Path | None = None) -> Models:
    """The models of `directory` (default: models/), loaded on first use and kept for the process."""
    directory = directory or models_dir()
    with _lock:
        models = _loaded.get(directory)
        if models is None:
            lm_path = directory / LM_FILE
            if not lm_path.exists():
                raise MissingDependencyError("restoration model missing: run `make models`", lm_path)
            channels, regimes = _load_channels(directory / CHANNEL_FILE)
            models = Models(
                lm=NgramModel.load(lm_path, cache_dir() / "restore"),
                channels=channels,
                readings=_load_readings(directory / READINGS_FILE),
                regimes=regimes,
                case=_load_case(directory / CASE_FILE),
            )
            _loaded[directory] = models
        return models


def _load_channels(path: Path) -> tuple[dict[Regime, SubstitutionChannel], RegimeModel | None]:
    """The OCR channels and the regime model learnt with them (none without a channel file)."""
    if not path.exists():
        return {}, None
    data = json.loads(path.read_text(encoding="utf-8"))
    if "regimes" not in data:
        raise MissingDependencyError("restoration model outdated (no regime model): run `make models`", path)
    channels = {
        Regime(name): SubstitutionChannel.from_json(entry) for name, entry in data["channels"].items()
    }
    return channels, RegimeModel.from_json(data["regimes"])


def _load_readings(path: Path) -> dict[Regime, ReadingIndex]:
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    regimes = {name.split("_")[0] for name in arrays}
    return {Regime(name): ReadingIndex.from_arrays(arrays, name) for name in sorted(regimes)}


def _load_case(path: Path) -> CaseModel | None:
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return CaseModel.from_arrays({name: data[name] for name in data.files})


def get_restorer(directory: Path | None = None) -> Restorer:
    """The process-wide restorer over the models of `directory` (built on first use)."""
    directory = directory or models_dir()
    restorer = _restorers.get(directory)
    if restorer is None:
        models = load_models(directory)
        with _lock:
            restorer = _restorers.get(directory)
            if restorer is None:
                restorer = _restorers[directory] = Restorer(
                    models.lm, models.channels, models.readings, models.regimes, case=models.case
                )
    return restorer

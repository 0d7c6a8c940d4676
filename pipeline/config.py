"""Settings that are not typed on every command: `congvan.toml` (beside the archive, or named with --config) and the
CONGVAN_DB environment variable. The command line wins over the environment, which wins over the file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError

CONFIG_NAME = "congvan.toml"
ENV_DB = "CONGVAN_DB"


class ArchiveLocation:
    """The type of a setting naming an archive: a database URL (`postgresql://…`), kept as written, or a path."""


# Every setting the file may hold, by section, with its type; paths are relative to the file's folder.
SCHEMA: dict[str, dict[str, type]] = {
    "": {"db": ArchiveLocation},
    "process": {"out": Path, "jobs": int, "lang": str, "page_timeout": float, "pdf": bool, "restore": bool,
                "text_layer": bool},
    "watch": {"inbox": Path, "interval": float, "settle": float},
    "export": {"webhook": str, "headers": dict},
}


@dataclass(frozen=True)
class Config:
    path: Path | None = None  # the file read, if any
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # section → setting → value

    def get(self, section: str, name: str) -> Any:
        return self.values.get(section, {}).get(name)


def read_config(path: Path) -> Config:
    """Read and check a congvan.toml; UsageError names the file and the setting that is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the configuration {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from None
    values: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in SCHEMA and key:
            values[key] = {name: _checked(path, key, name, item) for name, item in value.items()}
        else:
            values.setdefault("", {})[key] = _checked(path, "", key, value)
    return Config(path, values)


def _checked(path: Path, section: str, name: str, value: Any) -> Any:
    where = f"[{section}] {name}" if section else name
    kind = SCHEMA.get(section, {}).get(name)
    if kind is None:
        known = ", ".join(sorted(SCHEMA.get(section, {}))) or "none"
        raise UsageError(f"{path}: unknown setting {where} (known here: {known})")
    if kind is ArchiveLocation and isinstance(value, str) and "://" in value:
        return value
    if kind in (Path, ArchiveLocation):
        if not isinstance(value, str) or not value:
            raise UsageError(f"{path}: {where} must be a path (a string)")
        return path.parent / Path(value).expanduser()
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise UsageError(f"{path}: {where} must be a table of strings")
        return dict(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UsageError(f"{path}: {where} must be {kind.__name__}, not {type(value).__name__}")
    return value


def resolve_db(flag: str | None, config_flag: Path | None) -> tuple[str | None, Config]:
    """The archive a command uses and the configuration that goes with it: --db, else CONGVAN_DB, else the
    `db` of the --config file; the configuration is --config, else congvan.toml beside the archive."""
    config = read_config(config_flag) if config_flag is not None else Config()
    db = flag or os.environ.get(ENV_DB) or None
    if db is None and config.get("", "db") is not None:
        db = str(config.get("", "db"))
    if config.path is None and db is not None and "://" not in db:
        beside = Path(db).expanduser().parent / CONFIG_NAME
        if beside.is_file():
            config = read_config(beside)
    return db, config


def require_db(db: str | None) -> str:
    if not db:
        raise UsageError(f"no archive: give --db FILE, set {ENV_DB}, or put db = \"FILE\" in a --config file")
    return db

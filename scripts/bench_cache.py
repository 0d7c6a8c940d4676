"""Benchmark caches: keys built from everything that changes a cached result, and a tally of what came from cache.

A cached result is only reused when all of these are unchanged: the input's bytes; the code of the stages
that made it (every pipeline module they import, followed through their imports) and of the benchmark's own
helper that called them; the data files they read; for OCR, Tesseract's version and the hash of each
traineddata file; the versions of the libraries that decode and transform images. Each benchmark prints, per
row, how many of its results came from the cache and under which key.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import inspect
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
IMAGE_LIBRARIES = ("numpy", "opencv-python-headless", "Pillow", "pypdfium2", "pikepdf", "pytesseract")


def _module_path(name: str) -> Path | None:
    """The file of a pipeline module (a package's __init__.py), or None when it is not one."""
    relative = Path(*name.split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, name: str) -> set[str]:
    """Pipeline modules a module imports anywhere in its body (function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module == "pipeline" or module.startswith("pipeline.")}


def module_files(*modules: str) -> list[Path]:
    """The files of `modules` and of every pipeline module they import, transitively (parent packages too)."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(_imported_modules(path, name))
        todo.extend(".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1))
    return sorted(set(seen.values()))


def files_digest(paths: Iterable[Path]) -> str:
    """Hash of files (folders: every file under them), their paths relative to the repository included."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _described(function: Callable[..., Any]) -> str:
    """What a helper does: its source, its default arguments and the values it closes over (the `150` of a
    `rescaled(150)`), functions among them by their own description."""
    bound = [*(function.__defaults__ or ()), *(function.__kwdefaults__ or {}).items(),
             *(cell.cell_contents for cell in function.__closure__ or ())]
    return "\n".join([inspect.getsource(function),
                      *(_described(value) if inspect.isfunction(value) else repr(value) for value in bound)])


def source_digest(*functions: Callable[..., Any]) -> str:
    """Hash of the source of benchmark helpers that call the stages, with the values they are made with (a
    change to either changes the results)."""
    return hashlib.sha256("\n".join(_described(f) for f in functions).encode()).hexdigest()[:16]


def library_versions(names: Iterable[str] = IMAGE_LIBRARIES) -> str:
    versions = []
    for name in names:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return ", ".join(versions)


@lru_cache(maxsize=8)
def tesseract_identity(languages: str) -> str:
    """Tesseract's version and the sha256 of each traineddata file of `languages` ("vie+eng")."""
    if shutil.which("tesseract") is None:
        return "no tesseract"
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
    first = (version.stdout or version.stderr).splitlines()[0].strip()
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False)
    folder = re.search(r'"([^"]+)"', listing.stdout + listing.stderr)
    hashes = []
    for language in languages.split("+"):
        data = Path(folder.group(1)) / f"{language}.traineddata" if folder else None
        digest = hashlib.sha256(data.read_bytes()).hexdigest()[:12] if data and data.exists() else "missing"
        hashes.append(f"{language}.traineddata {digest}")
    return f"{first}; " + ", ".join(hashes)


@dataclass(frozen=True)
class CacheKey:
    """Named parts of a cache key; `digest` names the cache entries, `describe` goes into the report."""

    parts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, **parts: str) -> CacheKey:
        return cls(tuple(sorted(parts.items())))

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.parts).encode()).hexdigest()[:16]

    def describe(self) -> str:
        return f"key {self.digest} = " + "; ".join(f"{name}: {value}" for name, value in self.parts)


def code_key(*modules: str, helpers: Iterable[Callable[..., Any]] = (), data: Iterable[Path] = (),
             tesseract: str | None = None, libraries: Iterable[str] = ()) -> CacheKey:
    """The key of results made by `modules` (and what they import), called through `helpers`."""
    parts = {"code": files_digest(module_files(*modules)) + " (" + ", ".join(modules) + " and their imports)"}
    helpers = tuple(helpers)
    if helpers:
        parts["helpers"] = source_digest(*helpers)
    data = tuple(data)
    if data:
        parts["data"] = files_digest(data)
    if tesseract:
        parts["tesseract"] = tesseract_identity(tesseract)
    libraries = tuple(libraries)
    if libraries:
        parts["libraries"] = library_versions(libraries)
    return CacheKey.of(**parts)


@dataclass
class CacheTally:
    """Per report row: results taken from the cache and results computed in this run."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)

    def count(self, row: str, hit: bool) -> None:
        target = self.hits if hit else self.misses
        target[row] = target.get(row, 0) + 1

    def lines(self) -> list[str]:
        rows = list(dict.fromkeys([*self.hits, *self.misses]))
        out = []
        for row in rows:
            hits, misses = self.hits.get(row, 0), self.misses.get(row, 0)
            out.append(f"{row}: {hits} of {hits + misses} results from cache, {misses} computed in this run")
        return out

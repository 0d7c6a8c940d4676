"""The stages' layering: what reads a page (ingest to OCR, restoration) depends on nothing of extraction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"
# The stages that run before extraction, and the word tables they share with it (names, syllables).
BELOW_EXTRACT = sorted([
    *(PIPELINE / name for name in ("ingest.py", "textlayer.py", "signatures.py", "preprocess.py", "ocr.py",
                                   "handwriting.py", "names.py", "vietnamese.py")),
    *(PIPELINE / "restore").glob("*.py"),
])


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("path", BELOW_EXTRACT, ids=lambda path: str(path.relative_to(PIPELINE)))
def test_pipeline_layers_page_stages_do_not_import_extraction(path: Path) -> None:
    assert path.exists()
    upward = sorted(m for m in _imported(path) if m == "pipeline.extract" or m.startswith("pipeline.extract."))
    assert not upward, f"{path.name} imports {upward}"

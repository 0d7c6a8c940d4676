"""The two archive stores keep no copy of each other's SQL: what both run is stated once, in store.py."""

from __future__ import annotations

import ast
from pathlib import Path

from pipeline.archive.store import best_pages

ARCHIVE = Path(__file__).resolve().parent.parent / "pipeline" / "archive"


def _module_strings(path: Path) -> dict[str, str]:
    """The module-level constants of a file that are strings (or implicitly joined ones), by name."""
    strings = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            strings[node.targets[0].id] = node.value.value
    return strings


def _module_functions(path: Path) -> dict[str, str]:
    """The module-level functions of a file, as their source without the docstring."""
    functions = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            functions[node.name] = ast.dump(ast.Module(body=body, type_ignores=[]))
    return functions


def test_archive_stores_share_no_select_list() -> None:
    sqlite, postgres = _module_strings(ARCHIVE / "sqlite.py"), _module_strings(ARCHIVE / "postgres.py")
    shared = sorted(name for name in sqlite.keys() & postgres.keys() if sqlite[name] == postgres[name])
    assert not shared, f"both stores define {shared}: state them once in store.py"


def test_archive_stores_read_rows_through_store() -> None:
    # a row reader both need is store.py's (stored_document), not a store's own copy of it
    store = set(_module_functions(ARCHIVE / "store.py").values())
    for name in ("sqlite.py", "postgres.py"):
        copies = sorted(f for f, body in _module_functions(ARCHIVE / name).items() if body in store)
        assert not copies, f"{name} copies {copies} of store.py"


def test_archive_stores_best_pages_one_per_document_in_rank_order() -> None:
    # a document summary's columns after its id (SUMMARY_COLUMNS), then page, text, score; best first
    rest = ("source", "name", "code", "type", "issuer", "date", "place")
    rows = [(7, *rest, 2, "b", 0.5), (3, *rest, 1, "a", 0.7), (7, *rest, 1, "c", 0.9), (5, *rest, 4, "d", 1.0)]
    assert [(m.document.id, m.page, m.text, m.score) for m in best_pages(rows, exclude={5})] == [
        (7, 2, "b", 0.5), (3, 1, "a", 0.7)]

"""Mutation run (`make mutate`): small deliberate bugs in extract, archive and restore, each run against the tests of
its area; the share the tests catch ("killed") measures how much of that code the tests really check.

Mutants (operators, constants, returns; one per mutant) are drawn from the modules of each area that the product
runs (the area's files in AREAS reachable from the CLI, build-only modules left out), a fixed sample per area
(seed SEED). Operators:
- comparison: < ↔ <=, > ↔ >=, == ↔ !=, in ↔ not in, is ↔ is not;
- arithmetic: + ↔ −, * ↔ /, // → *; boolean: and ↔ or; `not x` → x; `if/while c` → `if/while not c`;
- constants: an integer n → n + 1, a float x → 2x (0.0 → 1.0), True ↔ False;
- returns: `return <value>` → `return None`.
Docstrings, other strings, annotations and `__all__` are never mutated. Each mutant's module is rewritten with
`ast.unparse` in a scratch copy of the repository (build/mutate/), its area's tests (UNSTEADY_TESTS left out) run
there with `pytest -x` in a forked process (the heavy libraries are imported once, before forking) and a timeout of
TIMEOUT_FACTOR × the unmutated run; a failing or timed-out run kills the mutant (timeouts are counted apart). Surviving mutants are listed: each is a missing assertion or an
equivalent change. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_cache import module_files  # noqa: E402

SEED = 10
PER_AREA = 8  # 24 mutants: 21 min on 2 cores shared with benchmarks and other test runs (load 7-12)
WORKERS = 2
TIMEOUT_FACTOR = 3.0
MIN_TIMEOUT = 60.0
SCRATCH = ROOT / "build" / "mutate"


@dataclass(frozen=True)
class Area:
    modules: tuple[str, ...]  # file patterns under the repository
    tests: tuple[str, ...]  # test-file patterns under the repository


AREAS = {
    # names.py reads signers' names for extract and OCR alike: it left extract/ but is still extraction's code
    "extract": Area(("pipeline/extract/**/*.py", "pipeline/names.py"), ("tests/test_extract_*.py",
                                                                       "tests/test_names_*.py")),
    "archive": Area(("pipeline/archive/**/*.py",), ("tests/test_archive_*.py", "tests/test_cli_archive.py",
                                                    "tests/test_run_archive.py")),
    "restore": Area(("pipeline/restore/**/*.py",), ("tests/test_restore_*.py",)),
}
# Kills batches at random moments and waits with deadlines: its outcome depends on the machine's load, so a mutant
# it "killed" might only have met a busy machine.
UNSTEADY_TESTS = {"tests/test_archive_reliability.py"}
RUNTIME_ROOTS = ("pipeline.cli", "pipeline.run")
PRELOAD = ("numpy", "cv2", "PIL.Image", "rapidfuzz", "jsonschema", "hypothesis", "pytest", "pikepdf",
           "pypdfium2", "reportlab.pdfgen.canvas", "icalendar", "vietnamadminunits")

_COMPARE_SWAP: dict[type, type] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                                   ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
                                   ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINOP_SWAP: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                                 ast.FloorDiv: ast.Mult}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
           ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
           ast.Div: "/", ast.FloorDiv: "//", ast.And: "and", ast.Or: "or"}


@dataclass(frozen=True)
class Mutant:
    area: str
    path: str  # relative to the repository
    index: int  # which node of the module, in ast.walk order
    line: int
    change: str


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | timeout | survived
    seconds: float


# --------------------------------------------------------------------------- mutants


def _protected(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, annotations, `__all__`, and everything below them."""
    protected: set[int] = set()

    def protect(node: ast.AST | None) -> None:
        if node is not None:
            protected.update(id(child) for child in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            protect(body[0])
        if isinstance(node, ast.AnnAssign):
            protect(node.annotation)
        if isinstance(node, ast.arg):
            protect(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            protect(node.returns)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            protect(node)
        if isinstance(node, ast.JoinedStr):
            protect(node)
    return protected


def _changes(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(description, mutated copy) for every mutation of one node."""
    if isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            if type(op) in _COMPARE_SWAP:
                new = copy.deepcopy(node)
                new.ops[k] = _COMPARE_SWAP[type(op)]()
                yield f"{_SYMBOL[type(op)]} → {_SYMBOL[_COMPARE_SWAP[type(op)]]}", new
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        new = copy.deepcopy(node)
        new.op = _BINOP_SWAP[type(node.op)]()
        yield f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(new.op)]}", new
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(new.op)]}", new
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not x → x", copy.deepcopy(node.operand)
    elif isinstance(node, ast.If | ast.While):
        new = copy.deepcopy(node)
        new.test = ast.UnaryOp(ast.Not(), new.test)
        yield f"{type(node).__name__.lower()} c → {type(node).__name__.lower()} not c", new
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield f"{value} → {not value}", ast.Constant(not value)
        elif isinstance(value, int):
            yield f"{value} → {value + 1}", ast.Constant(value + 1)
        elif isinstance(value, float):
            yield f"{value} → {value * 2 or 1.0}", ast.Constant(value * 2 or 1.0)
    elif isinstance(node, ast.Return) and node.value is not None and \
            not (isinstance(node.value, ast.Constant) and node.value.value is None):
        yield "return x → return None", ast.Return(ast.Constant(None))


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target, self.replacement = target, replacement

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return ast.copy_location(self.replacement, node)
        return self.generic_visit(node)


def mutations(source: str) -> list[tuple[int, int, str]]:
    """(node index in ast.walk order, line, change) of every mutation of a module's source."""
    tree = ast.parse(source)
    protected = _protected(tree)
    return [(index, getattr(node, "lineno", 0), change) for index, node in enumerate(ast.walk(tree))
            if id(node) not in protected for change, _ in _changes(node)]


def apply_mutation(source: str, index: int, change: str) -> str:
    """The module's source with one mutation applied (rewritten by ast.unparse)."""
    tree = ast.parse(source)
    node = list(ast.walk(tree))[index]
    replacement = next(new for description, new in _changes(node) if description == change)
    return ast.unparse(ast.fix_missing_locations(_Replace(node, replacement).visit(tree)))


def candidates(area: str, path: Path) -> list[Mutant]:
    return [Mutant(area, str(path.relative_to(ROOT)), index, line, change)
            for index, line, change in mutations(path.read_text(encoding="utf-8"))]


def mutated_source(mutant: Mutant) -> str:
    return apply_mutation((ROOT / mutant.path).read_text(encoding="utf-8"), mutant.index, mutant.change)


def area_modules(area: str) -> list[Path]:
    runtime = set(module_files(*RUNTIME_ROOTS))
    return sorted({path for pattern in AREAS[area].modules for path in ROOT.glob(pattern) if path in runtime})


def draw(areas: Sequence[str], per_area: int, seed: int) -> list[Mutant]:
    rng = random.Random(seed)
    mutants: list[Mutant] = []
    for area in areas:
        pool = [m for path in area_modules(area) for m in candidates(area, path)]
        mutants += sorted(rng.sample(pool, min(per_area, len(pool))), key=lambda m: (m.path, m.line, m.change))
    return mutants


# --------------------------------------------------------------------------- running


def _scratch(worker: int) -> Path:
    """A copy of the repository's code and tests (large read-only folders linked) for one worker."""
    folder = SCRATCH / f"worker{worker}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
    for name in ("pipeline", "tests", "scripts"):
        shutil.copytree(ROOT / name, folder / name, ignore=ignore)
    for name in ("samples", "models", "pyproject.toml"):
        (folder / name).symlink_to(ROOT / name)
    return folder


def _child(folder: Path, tests: list[str]) -> None:
    """In the forked process: import the pipeline from `folder` and run the tests there; exit with pytest's code
    (its output in `folder`/pytest.log)."""
    os.setpgrp()
    sys.dont_write_bytecode = True
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    log = os.open(folder / "pytest.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1)
    os.dup2(log, 2)
    import pytest

    code = pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(folder)])
    os._exit(int(code))


def _tests(folder: Path, area: str, module: str = "") -> list[str]:
    """The area's test files; those named after `module` (test_extract_dates.py for dates.py) first, so that
    `pytest -x` stops early when they catch the mutant."""
    found = {str(path.relative_to(folder)) for pattern in AREAS[area].tests for path in folder.glob(pattern)}
    stem = Path(module).stem
    return sorted(found - UNSTEADY_TESTS, key=lambda name: (not (stem and name.endswith(f"_{stem}.py")), name))


def _start(folder: Path, tests: list[str]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _child(folder, tests)
        finally:
            os._exit(99)
    return pid


def _kill(pid: int) -> None:
    """End a test run and whatever it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _wait(pid: int, timeout: float) -> tuple[int | None, float]:
    """Exit code (None on timeout, the process group killed) and seconds."""
    started = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - started
        if time.monotonic() - started > timeout:
            _kill(pid)
            return None, time.monotonic() - started
        time.sleep(0.05)


def baseline(folders: list[Path], areas: Sequence[str]) -> dict[str, float]:
    """Seconds of each area's tests on the unmutated code; they must pass."""
    seconds = {}
    for area in areas:
        code, took = _wait(_start(folders[0], _tests(folders[0], area)), 3600)
        if code != 0:
            log = (folders[0] / "pytest.log").read_text(encoding="utf-8", errors="replace")
            raise SystemExit(f"mutate: the {area} tests fail without any mutant (exit {code}): fix them first\n"
                             + log[-3000:])
        seconds[area] = took
        print(f"{area}: tests pass unmutated in {took:.0f} s", file=sys.stderr)
    return seconds


def run(mutants: list[Mutant], folders: list[Path], timeouts: dict[str, float]) -> list[Outcome]:
    """Every mutant on a free worker folder; at most len(folders) at a time."""
    outcomes: list[Outcome] = []
    queue = list(mutants)
    running: dict[int, tuple[Mutant, Path, float]] = {}  # pid → mutant, folder, start
    free = list(folders)
    total = len(mutants)
    while queue or running:
        while queue and free:
            mutant, folder = queue.pop(0), free.pop()
            (folder / mutant.path).write_text(mutated_source(mutant), encoding="utf-8")
            running[_start(folder, _tests(folder, mutant.area, mutant.path))] = (mutant, folder, time.monotonic())
        for pid, (mutant, folder, started) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            elapsed = time.monotonic() - started
            if not done and elapsed <= timeouts[mutant.area]:
                continue
            if done:
                state = "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
            else:
                _kill(pid)
                state = "timeout"
            shutil.copyfile(ROOT / mutant.path, folder / mutant.path)
            del running[pid]
            free.append(folder)
            outcomes.append(Outcome(mutant, state, elapsed))
            print(f"[{len(outcomes)}/{total}] {state:8s} {mutant.path}:{mutant.line} {mutant.change}", file=sys.stderr)
        time.sleep(0.05)
    return outcomes


def report(outcomes: list[Outcome], areas: Sequence[str], seed: int) -> str:
    lines = [f"## Mutation run: {len(outcomes)} mutants (seed {seed})", "",
             "| area | module | mutants | killed (tests fail) | killed (timeout) | survived | score |",
             "|---|---|---|---|---|---|---|"]
    for area in areas:
        mine = [o for o in outcomes if o.mutant.area == area]
        for module in [*sorted({o.mutant.path for o in mine}), "all"]:
            rows = [o for o in mine if module in ("all", o.mutant.path)]
            if not rows:
                continue
            counts = Counter(o.status for o in rows)
            killed = counts["killed"] + counts["timeout"]
            label = f"**{area}, all**" if module == "all" else module
            lines.append(f"| {area} | {label} | {len(rows)} | {counts['killed']} | {counts['timeout']} | "
                         f"{counts['survived']} | {killed}/{len(rows)} = {100 * killed / len(rows):.0f} % |")
    killed = sum(o.status != "survived" for o in outcomes)
    lines.append(f"| all | | {len(outcomes)} | | | | **{killed}/{len(outcomes)} = "
                 f"{100 * killed / max(1, len(outcomes)):.0f} %** |")
    lines += ["", "Surviving mutants (a missing assertion, or a change that makes no difference):", ""]
    lines += [f"- {o.mutant.path}:{o.mutant.line}: {o.mutant.change}" for o in outcomes if o.status == "survived"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--areas", nargs="+", default=list(AREAS), choices=list(AREAS))
    parser.add_argument("--per-area", type=int, default=PER_AREA, help=f"mutants per area (default {PER_AREA})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--list", action="store_true", help="only list the mutants drawn")
    parser.add_argument("--json", type=Path, help="also write every outcome as JSON")
    args = parser.parse_args(argv)
    mutants = draw(args.areas, args.per_area, args.seed)
    if args.list:
        print("\n".join(f"{m.path}:{m.line}: {m.change}" for m in mutants))
        return 0
    for name in PRELOAD:  # imported once here, shared by every forked test run
        __import__(name)
    folders = [_scratch(worker) for worker in range(args.workers)]
    started = time.monotonic()
    timeouts = {area: max(MIN_TIMEOUT, TIMEOUT_FACTOR * seconds) for area, seconds in baseline(folders, args.areas).items()}
    outcomes = run(mutants, folders, timeouts)
    print(report(outcomes, args.areas, args.seed))
    print(f"\n{time.monotonic() - started:.0f} s with {args.workers} workers; timeouts per area: "
          + ", ".join(f"{area} {seconds:.0f} s" for area, seconds in timeouts.items()))
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=1), encoding="utf-8")
    shutil.rmtree(SCRATCH, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Restores the benchmark's held-out inputs with this checkout (or another tree) and checks that the
restored text and every token's confidence are identical to an earlier run: the proof that a
speed-up changed no output.

    scripts/bench_restore.py --dump-inputs build/restore/inputs.json      # the inputs, once
    git stash; scripts/restore_identity.py build/restore/inputs.json --out before.json; git stash pop
    scripts/restore_identity.py build/restore/inputs.json --out after.json --against before.json

Each run happens in a process of its own (build_tools/restore/restore_child.py, pinned to one core),
so the speeds it records (syllables/s, best of 5 cold passes, per timed set) and its load time are
comparable between versions measured on the same machine. `--tree DIR` runs the `pipeline/` and
`models/` of DIR instead. Exit status 1 when any restored page differs."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "build_tools" / "restore" / "restore_child.py"


def restore(inputs: Path, tree: Path | None, timed: bool) -> dict[str, object]:
    request = json.loads(inputs.read_text(encoding="utf-8"))
    if not timed:
        request["timed"] = []
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(tree or ROOT))
    env.pop("CONGVAN_MODELS", None)
    child = subprocess.run(
        [sys.executable, str(CHILD)], input=json.dumps(request), capture_output=True, text=True, env=env
    )
    if child.returncode:
        raise SystemExit(f"restoring process failed:\n{child.stderr[-3000:]}")
    result: dict[str, object] = json.loads(child.stdout)
    return result


def digest(pages: list[str]) -> str:
    return hashlib.sha256("\x00".join(pages).encode("utf-8")).hexdigest()[:16]


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """One line per set whose restored pages differ (or that only one run has)."""
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None or new is None:
            lines.append(f"{name}: only in {'after' if old is None else 'before'}")
            continue
        changed = [k for k, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
        if changed or len(old) != len(new):
            lines.append(f"{name}: {len(changed)} of {len(old)} pages differ (first: page {changed[:1]})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", type=Path, help="bench_restore.py --dump-inputs output")
    parser.add_argument("--out", type=Path, required=True, help="write outputs, speeds and load time here")
    parser.add_argument("--against", type=Path, help="an earlier --out whose restored text must be identical")
    parser.add_argument("--tree", type=Path, help="a tree holding pipeline/ and models/ (default: this one)")
    parser.add_argument("--untimed", action="store_true", help="one pass per set, no speed figures")
    args = parser.parse_args(argv)
    result = restore(args.inputs, args.tree, not args.untimed)
    args.out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    outputs: dict[str, list[str]] = result["outputs"]  # type: ignore[assignment]
    speeds: dict[str, float] = result["speeds"]  # type: ignore[assignment]
    for name, pages in outputs.items():
        speed = f"  {speeds[name]:,.0f} syllables/s" if name in speeds else ""
        print(f"{name}: {len(pages)} pages, sha256 {digest(pages)}{speed}")
    print(f"load {result['load_seconds']:.2f} s, peak RSS {result['peak_mb']:.0f} MB")
    if args.against:
        earlier = json.loads(args.against.read_text(encoding="utf-8"))
        diff = differences(earlier["outputs"], outputs)
        if "tokens" in earlier:
            diff += [f"confidences of {line}" for line in differences(earlier["tokens"], result["tokens"])]  # type: ignore[arg-type]
        for line in diff:
            print("DIFFERS", line)
        print("identical" if not diff else f"{len(diff)} sets differ")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

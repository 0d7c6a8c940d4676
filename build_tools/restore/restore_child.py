"""Runs one version of the restorer over benchmark pages in a process of its own (bench-restore).

Imports nothing of the project but `pipeline.restore.models.get_restorer`, the entry point every
version has, so that PYTHONPATH can point it at an earlier checkout (the previous models and code).
Reads {"sets": {name: {"pages": [...], "confidences": [...] | null}}, "timed": [names]} as JSON on
stdin; writes the restored pages, a digest of each page's tokens (restored text and confidence), per
timed set the syllables per second (one core, the fastest of REPEATS cold passes), the load time and
the peak RSS. `--load` only times loading the models;
`--models DIR` loads the models of DIR instead of the checkout's own."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

REPEATS = 5


def _one_core() -> None:
    """Pin this process to one CPU, so that no library spreads work over several."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main() -> int:
    _one_core()
    start = time.perf_counter()
    from pipeline.restore.models import get_restorer

    arguments = sys.argv[1:]
    restorer = get_restorer(Path(arguments[arguments.index("--models") + 1]) if "--models" in arguments else None)
    load_seconds = time.perf_counter() - start
    if "--load" in sys.argv:
        print(f"{load_seconds:.4f}")
        return 0
    request = json.loads(sys.stdin.read())
    outputs: dict[str, list[str]] = {}
    changed: dict[str, int] = {}
    tokens: dict[str, list[str]] = {}
    speeds: dict[str, float] = {}
    for name, item in request["sets"].items():
        pages, confidences = item["pages"], item["confidences"]
        repeats = REPEATS if name in request["timed"] else 1
        seconds = []
        for _ in range(repeats):
            restorer.clear_cache()  # every pass starts cold, as a worker meeting these pages first
            gc.collect()
            begin = time.process_time()
            results = [restorer.restore(page, confidences[k] if confidences else None) for k, page in enumerate(pages)]
            seconds.append(time.process_time() - begin)
        outputs[name] = [r.text for r in results]
        # every token's restoration and confidence, to the last bit (a speed-up must change neither)
        tokens[name] = [
            hashlib.sha256(repr([(t.restored, t.confidence.hex()) for t in r.tokens]).encode()).hexdigest()[:16]
            for r in results
        ]
        changed[name] = sum(t.restored != t.original for r in results for t in r.tokens)
        if name in request["timed"]:
            syllables = sum(len(page.split()) for page in pages)
            speeds[name] = syllables / max(min(seconds), 1e-9)
    json.dump(
        {
            "outputs": outputs,
            "changed": changed,
            "tokens": tokens,
            "speeds": speeds,
            "load_seconds": load_seconds,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

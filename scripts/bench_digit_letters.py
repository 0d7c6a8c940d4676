"""OCR's letters for digits (`1` → `I`/`l`/`!`, `0` → `O`) in generated dispatches: how many references, their
dates and the document's own code and date survive, against the clean text's record (`make bench-extract` covers
scans; this isolates the one confusion that takes codes and dates).

Each of `--documents` dispatches of samples/generate.py `random_dispatch` (seed = its index) is extracted from its
clean text (the truth) and from a copy where each `1` and `0` is replaced with probability `--rate` (seed 1000 +
index). Prints one line of counts."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.extract import extract_record
from samples.generate import dispatch_text, random_dispatch


def damage(text: str, rng: random.Random, rate: float) -> str:
    """`text` with OCR's letters put for some of its digits 1 and 0."""
    return "".join(rng.choice("IlI!") if ch == "1" and rng.random() < rate else
                   "O" if ch == "0" and rng.random() < rate else ch for ch in text)


def measure(documents: int, rate: float) -> dict[str, int]:
    counts = dict.fromkeys(("references", "found", "dated", "false", "own_code", "own_date", "documents"), 0)
    for index in range(documents):
        text = dispatch_text(random_dispatch(random.Random(index)))
        truth, got = extract_record(text), extract_record(damage(text, random.Random(1000 + index), rate))
        want = {(r.code, r.date) for r in truth.references}
        have = {(r.code, r.date) for r in got.references}
        counts["references"] += len(want)
        counts["found"] += len({c for c, _ in want} & {c for c, _ in have})
        counts["dated"] += len(want & have)
        counts["false"] += len({c for c, _ in have} - {c for c, _ in want})
        counts["own_code"] += got.document.code == truth.document.code
        counts["own_date"] += got.document.date == truth.document.date
        counts["documents"] += 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0.15)
    args = parser.parse_args(argv)
    c = measure(args.documents, args.rate)
    print(f"references found {c['found']}/{c['references']}, with dates {c['dated']}/{c['references']}, "
          f"false {c['false']}; own code {c['own_code']}/{c['documents']}, own date {c['own_date']}/{c['documents']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Which language model restores better: LM variants (e.g. `make models` with --lm-order 3 and 4) on
held-out documents, each with the same channel models.

Per variant: cross-entropy (nats per unit) of the held-out lines of each corpus file, and the restorer's
syllable accuracy on held-out text stripped of its marks and on English-model OCR of held-out pages.
`--split dev` is for choosing (the split the decoder is tuned on), `--split test` for reporting.

    .venv/bin/python scripts/bench_lm.py build/restore/lm3/restore_lm.npz build/restore/lm4/restore_lm.npz
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from build_tools.restore.corpus import corpus_files, default_corpus_dir, iter_documents  # noqa: E402
from build_tools.restore.metrics import syllable_accuracy  # noqa: E402
from build_tools.restore.pairs import REGIMES, page_specs, usable  # noqa: E402
from build_tools.restore.render import cached_ocr  # noqa: E402
from pipeline.restore.lm import BITS, BOS_ID, EOS_ID, NgramModel  # noqa: E402
from pipeline.restore.models import CHANNEL_FILE, LM_FILE, MODELS_DIR, READINGS_FILE  # noqa: E402
from pipeline.restore.tokens import line_units  # noqa: E402
from pipeline.vietnamese import skeleton  # noqa: E402

CHILD = ROOT / "build_tools" / "restore" / "restore_child.py"


def held_out(split: str, lines_per_corpus: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in corpus_files(default_corpus_dir()):
        lines = [line for doc in iter_documents(path) if doc.split == split for line in doc.lines if usable(line)]
        found[path.name.split(".")[0]] = lines[:lines_per_corpus]
    return found


def cross_entropy(model: NgramModel, lines: list[str]) -> float:
    """Nats per predicted unit (end of line included) under `model`."""
    order = model.order
    keys: list[int] = []
    for line in lines:
        units = [BOS_ID] * (order - 1) + [model.id_of(u) for u in line_units(line)] + [EOS_ID]
        for end in range(order - 1, len(units)):
            key = 0
            for unit in units[end - order + 1 : end + 1]:
                key = (key << BITS) | unit
            keys.append(key)
    return float(-model.score(np.array(keys, dtype=np.int64), order).mean())


def restore(models: Path, sets: dict[str, list[str]]) -> dict[str, list[str]]:
    request = {"sets": {k: {"pages": v, "confidences": None} for k, v in sets.items()}, "timed": []}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    child = subprocess.run(
        [sys.executable, str(CHILD), "--models", str(models)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(child.stdout)["outputs"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lms", type=Path, nargs="+", help="restore_lm.npz files to compare")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--lines", type=int, default=3000, help="held-out lines per corpus file")
    parser.add_argument("--pages", type=int, default=24, help="English-OCR pages of held-out text")
    parser.add_argument("--models", type=Path, default=MODELS_DIR, help="where the channel models are")
    args = parser.parse_args()
    texts = held_out(args.split, args.lines)
    # English-model OCR of held-out pages: the training plan's families over the split's documents
    split_docs = {
        p.name.split(".")[0]: [d for d in iter_documents(p) if d.split == args.split and sum(map(usable, d.lines)) >= 3]
        for p in corpus_files(default_corpus_dir())
    }
    plan = dataclasses.replace(REGIMES["eng"], pages=args.pages, seed=7000 + len(args.split))
    pages = [cached_ocr(spec, ROOT / "build" / "restore" / "ocr")[0] for spec in page_specs(split_docs, plan)]
    ocr_refs = [line.intended for page in pages for line in page.lines if line.observed]
    ocr_input = [line.observed for page in pages for line in page.lines if line.observed]
    stripped = {name: lines[:600] for name, lines in texts.items()}
    sets = {f"a:{k}": ["\n".join(v[i : i + 30]) for i in range(0, len(v), 30)] for k, v in stripped.items()}
    sets = {k: [skeleton(p) for p in v] for k, v in sets.items()}
    sets["b"] = ["\n".join(ocr_input[i : i + 30]) for i in range(0, len(ocr_input), 30)]
    print(f"| LM | file MB | {' | '.join(f'nats/unit {k}' for k in texts)} | stripped syll. acc. | English OCR syll. acc. |")
    print("|---|---|" + "---|" * (len(texts) + 2))
    for lm_path in args.lms:
        model = NgramModel.load(lm_path)
        entropy = [cross_entropy(model, lines) for lines in texts.values()]
        with tempfile.TemporaryDirectory() as tmp:
            for name in (CHANNEL_FILE, READINGS_FILE):
                shutil.copy(args.models / name, Path(tmp) / name)
            shutil.copy(lm_path, Path(tmp) / LM_FILE)
            outputs = restore(Path(tmp), sets)
        ok = total = 0
        for name, lines in stripped.items():
            got = [line for page in outputs[f"a:{name}"] for line in page.split("\n")]
            a, n = syllable_accuracy(lines, got)
            ok, total = ok + a, total + n
        b_ok, b_total = syllable_accuracy(ocr_refs, [line for page in outputs["b"] for line in page.split("\n")])
        print(
            f"| {lm_path} (order {model.order}) | {lm_path.stat().st_size / 1e6:.1f} | "
            + " | ".join(f"{e:.3f}" for e in entropy)
            + f" | {ok / total:.2%} | {b_ok / b_total:.2%} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

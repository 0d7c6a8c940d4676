"""Build the restoration models in models/ from ../shared/corpus (make models): LM, then OCR channel."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.restore.corpus import (  # noqa: E402
    CORPUS_WEIGHTS,
    HELD_OUT_MODULUS,
    corpus_files,
    default_corpus_dir,
    iter_documents,
)
from pipeline.restore.lm_build import EncodedCorpus, UnitEncoder, build_lm, build_vocabulary  # noqa: E402
from pipeline.restore.models import LM_FILE, MODELS_DIR  # noqa: E402

LM_ORDER = 3
LM_THRESHOLDS = (2, 4)  # weighted counts a bigram / trigram needs to be kept
CACHE_DIR = ROOT / "build" / "restore"


def _log(message: str) -> None:
    print(f"[build_models {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha1()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    digest.update(f"{HELD_OUT_MODULUS}".encode())
    for module in ("tokens.py", "corpus.py"):
        digest.update((ROOT / "pipeline" / "restore" / module).read_bytes())
    return digest.hexdigest()[:16]


def encode_corpus(corpus_dir: Path) -> tuple[list[str], list[EncodedCorpus]]:
    """Training documents as unit ids (cached under build/restore, keyed by the corpus and token rules)."""
    files = corpus_files(corpus_dir)
    if not files:
        raise SystemExit(f"no corpus files in {corpus_dir}")
    cache = CACHE_DIR / f"encoded-{_fingerprint(files)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            units = [str(u) for u in data["units"]]
            corpora = [
                EncodedCorpus(str(name), CORPUS_WEIGHTS[str(name)], data[f"ids_{name}"])
                for name in data["names"]
            ]
        _log(f"encoded corpus from cache {cache.name}")
        return units, corpora
    encoder = UnitEncoder()
    corpora = []
    for path in files:
        name = path.name.split(".")[0]
        lines = (line for doc in iter_documents(path) if doc.split == "train" for line in doc.lines)
        ids = encoder.encode_lines(lines)
        corpora.append(EncodedCorpus(name, CORPUS_WEIGHTS[name], ids))
        _log(f"encoded {name}: {len(ids):,} units")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache,
        units=np.array(encoder.units),
        names=np.array([c.name for c in corpora]),
        **{f"ids_{c.name}": c.ids for c in corpora},
    )
    return encoder.units, corpora


def build_language_model(corpus_dir: Path, out_dir: Path) -> dict[str, object]:
    units, corpora = encode_corpus(corpus_dir)
    vocabulary = build_vocabulary(units, corpora)
    _log(f"vocabulary: {len(vocabulary.words):,} units, {int(vocabulary.is_syllable.sum()):,} syllables")
    arrays = build_lm(corpora, vocabulary, LM_ORDER, LM_THRESHOLDS)
    path = out_dir / LM_FILE
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    sizes = {n: len(arrays[f"w{n}"]) for n in range(2, LM_ORDER + 1)}
    _log(f"LM written: {path} ({path.stat().st_size / 1e6:.1f} MB), n-grams kept {sizes}")
    return {
        "order": LM_ORDER,
        "thresholds": LM_THRESHOLDS,
        "vocabulary": len(vocabulary.words),
        "ngrams": sizes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir())
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--only", choices=("lm", "channel"), help="rebuild one model only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {}
    if args.only in (None, "lm"):
        report["lm"] = build_language_model(args.corpus, args.out)
    (args.out / "build_report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Builds samples/data/sentences.tsv.gz, the pool of body sentences the sample generator draws from."""

from __future__ import annotations

import argparse
import gzip
import re
import unicodedata
from pathlib import Path

from build_tools.restore.corpus import split_of  # the one train/held-out rule of the project

_ALLOWED = re.compile(r"^[0-9A-Za-zÀ-ỹĐđ ,.;:()\-/%“”\"'–]+$")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*\.|[a-zđ]\)|[-+•])\s+")
_ITEM = re.compile(r"^(?:\d+\.|[a-zđ]\)|[-+])\s+")


def is_heldout_source(source: str) -> bool:
    """True for the corpus documents the restoration models never train on (their dev and test splits),
    so that samples and benchmarks never show the models their own training sentences."""
    return split_of(source) != "train"


def classify_line(line: str) -> tuple[str, str] | None:
    """('C', căn cứ) / ('I', list item) / ('S', sentence) with numbering removed, or None if unusable."""
    line = unicodedata.normalize("NFC", line.replace("Ð", "Đ").replace("ð", "đ")).strip()
    if not 50 <= len(line) <= 300 or not _ALLOWED.match(line) or line.startswith(("Điều ", "Chương ", "Mục ")):
        return None
    if sum(ch.isdigit() for ch in line) > len(line) // 6:
        return None
    was_item = bool(_ITEM.match(line))
    text = _NUMBERING.sub("", line)
    if not text[:1].isupper() or text.upper() == text or text.count("(") != text.count(")"):
        return None
    if text.startswith("Căn cứ"):
        return "C", text.rstrip(";./")
    if not text.endswith((".", ";", "./")):
        return None
    return ("I" if was_item or text.endswith(";") else "S"), text.rstrip(";./")


def build_pool(corpora: list[Path], out: Path) -> int:
    seen: set[str] = set()
    rows: list[str] = []
    for corpus in corpora:
        keep = False
        with gzip.open(corpus, "rt", encoding="utf-8") as handle:
            for raw in handle:
                if raw.startswith("### SOURCE "):
                    keep = is_heldout_source(raw[len("### SOURCE ") :].strip())
                    continue
                if not keep:
                    continue
                found = classify_line(raw)
                if found and found[1] not in seen:
                    seen.add(found[1])
                    rows.append(f"{found[0]}\t{found[1]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as handle:  # mtime=0: byte-identical rebuilds
        handle.write(("\n".join(rows) + "\n").encode("utf-8"))
    return len(rows)


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__)
    corpus_dir = here.parent.parent / "shared/corpus"
    parser.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        default=[corpus_dir / "vbpl_vi_docs.txt.gz", corpus_dir / "phapdien_vanban.txt.gz"],
    )
    parser.add_argument("--out", type=Path, default=here / "data/sentences.tsv.gz")
    args = parser.parse_args()
    print(f"{build_pool(args.corpus, args.out)} lines -> {args.out}")


if __name__ == "__main__":
    main()

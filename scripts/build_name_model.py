"""Build pipeline/data/person_names.json (make models): how often each syllable is a Vietnamese person's family,
middle or given name, counted in the text corpora of ../shared/corpus. The extractor reads a signer's name
through it (pipeline/names.py). Nothing is hand-listed but the two anchors every Vietnamese name
grammar starts from: the commonest family names and the commonest middle names (pipeline/names.py).

A run of three or four capitalised syllables (two are mostly places: "Hà Nội", "Thái Bình") is a person's name
when it opens with an anchor family name
("Phạm Trường Thọ") — its middle and given syllables are counted — or when it is three syllables, the second
an anchor middle name ("Lò Văn Giàng") — its first syllable is counted as a family name, so that rare family names are
known too. Every syllable must be a valid Vietnamese syllable; a run longer than four, or one that follows
another capitalised word, is a title or a place, not counted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.names import ANCHOR_FAMILY_NAMES, ANCHOR_MIDDLE_NAMES, NAMES_FILE  # noqa: E402
from pipeline.vietnamese import is_valid, normalize_text  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
MIN_COUNT = 3  # a syllable seen fewer times in a role is left out of the model
_PUNCTUATION = ".,;:!?()[]\"'“”‘’«»…-–—/"


def _is_name_syllable(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and word[1:].islower() and is_valid(word.lower())


def _runs(line: str) -> Iterator[list[str]]:
    """Maximal runs of capitalised syllables of a line; punctuation after a word ends its run."""
    run: list[str] = []
    for token in normalize_text(line).split():
        word = token.lstrip(_PUNCTUATION)
        if word != token and run:
            yield run
            run = []
        core = word.rstrip(_PUNCTUATION)
        if core and core[0].isupper():
            run.append(core)
        elif run:
            yield run
            run = []
        if core != word and run:
            yield run
            run = []
    if run:
        yield run


def count_names(lines: Iterable[str]) -> dict[str, Counter[str]]:
    """Counts per role ("family", "middle", "given") of the name syllables in text lines."""
    roles: dict[str, Counter[str]] = {"family": Counter(), "middle": Counter(), "given": Counter()}
    for line in lines:
        for words in _runs(line):
            if len(words) > 3 and words[0] not in ANCHOR_FAMILY_NAMES and words[1] in ANCHOR_FAMILY_NAMES:
                words = words[1:]  # a capitalised word before the name: "Ông Phạm Trường Thọ", "Đồng chí …"
            if not 3 <= len(words) <= 4 or not all(_is_name_syllable(word) for word in words):
                continue
            if words[0] in ANCHOR_FAMILY_NAMES:
                roles["family"][words[0]] += 1
                roles["middle"].update(words[1:-1])
                roles["given"][words[-1]] += 1
            elif len(words) == 3 and words[1] in ANCHOR_MIDDLE_NAMES:
                roles["family"][words[0]] += 1
    return roles


def _corpus_lines(folder: Path) -> Iterator[str]:
    for path in sorted(folder.glob("*.txt.gz")):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("### SOURCE"):
                    yield line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=NAMES_FILE)
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"build-name-model: {args.corpus} is absent: model not rebuilt", file=sys.stderr)
        return 0
    started = time.perf_counter()
    roles = count_names(_corpus_lines(args.corpus))
    model = {role: dict(sorted((w, n) for w, n in counts.items() if n >= MIN_COUNT))
             for role, counts in roles.items()}
    model_text = json.dumps({"source": "counted by scripts/build_name_model.py in ../shared/corpus",
                             **model}, ensure_ascii=False, indent=0)
    args.out.write_text(model_text + "\n", encoding="utf-8")
    sizes = ", ".join(f"{role} {len(counts)}" for role, counts in model.items())
    print(f"build-name-model: {sizes} syllables in {time.perf_counter() - started:.0f} s → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

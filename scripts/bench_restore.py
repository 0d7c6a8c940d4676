"""Benchmark of diacritic restoration on the held-out corpus split, against pyvi (make bench-restore).

(a) text stripped of its marks: syllable accuracy; (b) English-model OCR of rendered held-out pages and
(c) Vietnamese-model OCR of degraded ones: CER before and after; correct text: share of syllables
changed; (m) mixed pages, blocks of English-model OCR lines among correct lines: CER of the garbled
lines, words changed on the correct ones; (n) place names: held-out lines naming administrative units
after their type word (huyện Bình Gia), stripped, OCR'd both ways and correct: share of the names
written right; speed (best of several cold passes, one core), model load time and peak memory of the
restorer in a process of its own."""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import operator
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from rapidfuzz.distance import Levenshtein  # noqa: E402
from restore_ocr import ocr_lines  # noqa: E402

from pipeline.restore.corpus import corpus_files, default_corpus_dir, iter_documents  # noqa: E402
from pipeline.restore.gazetteer import unit_names  # noqa: E402
from pipeline.restore.syllables import is_valid, skeleton, tone_key  # noqa: E402
from pipeline.restore.tokens import Kind, classify, split_edges  # noqa: E402

CACHE_DIR = ROOT / "build" / "restore" / "bench"
SEED = 20240501
REPEATS = 5  # timed passes per input set (each from a cold cache); the fastest is reported
LOADS = 3  # fresh processes that time loading the models; the fastest is reported
PAGE_LINES = 30
MIXED_BLOCK = (1, 4)  # lines per block of one kind on the mixed pages
NAME_LINES_PER_NAME = 3  # held-out lines kept per unit name (Đà Nẵng would fill the set otherwise)


def held_out_lines(per_corpus: int, min_words: int = 4) -> dict[str, list[str]]:
    """Lines of the held-out ("test") documents, up to `per_corpus` syllables per corpus file."""
    selected: dict[str, list[str]] = {}
    for path in corpus_files(default_corpus_dir()):
        name = path.name.split(".")[0]
        lines: list[str] = []
        count = 0
        for doc in iter_documents(path):
            if doc.split != "test":
                continue
            for line in doc.lines:
                words = line.split()
                if len(words) < min_words or line.startswith("|") or len(line) > 600:
                    continue
                lines.append(line)
                count += len(words)
                if count >= per_corpus:
                    break
            if count >= per_corpus:
                break
        selected[name] = lines
    return selected


def place_mentions(per_name: int, limit: int) -> list[str]:
    """Held-out lines that name an administrative unit of the gazetteer after its type word (xã Nhật
    Tiến, huyện Hữu Lũng, tỉnh Lạng Sơn), at most `per_name` lines per name, `limit` lines in all."""
    pattern, names = _mention_pattern()
    per: dict[str, int] = {}
    lines: list[str] = []
    for path in corpus_files(default_corpus_dir()):
        for doc in iter_documents(path):
            if doc.split != "test":
                continue
            for line in doc.lines:
                if len(line) > 600 or len(line.split()) < 4:
                    continue
                found = mentions(line, pattern, names)
                if found and any(per.get(name, 0) < per_name for name in found):
                    for name in found:
                        per[name] = per.get(name, 0) + 1
                    lines.append(line)
                    if len(lines) >= limit:
                        return lines
    return lines


@functools.lru_cache(maxsize=1)
def _mention_pattern() -> tuple[re.Pattern[str], dict[str, set[str]]]:
    names = unit_names()
    kinds = sorted({k for v in names.values() for k in v}, key=len, reverse=True)
    # the words after the type word are looked at, not consumed: "huyện ủy thành phố Huế"
    return re.compile(f"(?<!\\w)(?i:({'|'.join(kinds)})) (?=((?:[^\\s,;.:()]+ ?){{1,4}}))"), names


def mentions(
    line: str, pattern: re.Pattern[str] | None = None, names: dict[str, set[str]] | None = None
) -> list[str]:
    """Unit names in `line`, capitalised, after a type word they go with (the longest name)."""
    if pattern is None or names is None:
        pattern, names = _mention_pattern()
    found = []
    for match in pattern.finditer(unicodedata.normalize("NFC", line)):
        kind, words = match.group(1).lower(), match.group(2).split()
        capitalised = 0
        while capitalised < len(words) and words[capitalised][:1].isupper():
            capitalised += 1
        for size in range(capitalised, 0, -1):
            name = " ".join(words[:size])
            if kind in names.get(name, ()):
                found.append(name)
                break
    return found


def names_written(references: list[str], outputs: list[str]) -> tuple[int, int]:
    """Unit names of the references (after their type word) that the outputs write right, case aside."""
    right = total = 0
    for reference, output in zip(references, outputs, strict=True):
        produced = unicodedata.normalize("NFC", output).lower()
        for name in mentions(reference):
            total += 1
            right += re.search(f"(?<!\\w){re.escape(name.lower())}(?!\\w)", produced) is not None
    return right, total


def strip_marks(text: str) -> str:
    """The text as typed without diacritics (what pyvi's remove_accents does, keeping case)."""
    return skeleton(unicodedata.normalize("NFC", text))


def syllable_positions(reference: str) -> list[tuple[int, str]]:
    """(token index, tone key) of every reference token whose core is a Vietnamese syllable."""
    out = []
    for index, token in enumerate(reference.split()):
        _, core, _ = split_edges(token)
        if classify(core, True) is Kind.WORD and is_valid(core.lower()):
            out.append((index, tone_key(core.lower())))
    return out


def syllable_accuracy(references: list[str], outputs: list[str]) -> tuple[int, int]:
    """Correct and total syllables; tone placement (hoà/hòa) and case do not count as errors.

    Line by line, the output's tokens are aligned with the reference's (edit distance over tone
    keys), so that a word split or joined costs that word, not every word after it."""
    correct = total = 0
    for reference, output in zip(references, outputs, strict=True):
        for reference_line, output_line in zip(reference.split("\n"), output.split("\n"), strict=True):
            positions = syllable_positions(reference_line)
            total += len(positions)
            if not positions:
                continue
            wanted = [_token_key(token) for token in reference_line.split()]
            produced = [_token_key(token) for token in output_line.split()]
            matched = set()
            for block in Levenshtein.opcodes(wanted, produced):
                if block.tag == "equal":
                    matched.update(range(block.src_start, block.src_end))
            correct += sum(index in matched for index, _ in positions)
    return correct, total


def _token_key(token: str) -> str:
    _, core, _ = split_edges(token)
    return tone_key(core.lower())


def cer(references: list[str], outputs: list[str]) -> float:
    """Character error rate over whole lines, case-insensitive (pyvi lowercases everything)."""
    errors = sum(
        Levenshtein.distance(unicodedata.normalize("NFC", r).lower(), unicodedata.normalize("NFC", o).lower())
        for r, o in zip(references, outputs, strict=True)
    )
    return errors / max(1, sum(len(r) for r in references))


PYVI_FAILURES = [0]  # lines pyvi could not handle whole (it raised)


def _pyvi(text: str) -> str:
    from pyvi import ViUtils

    return str(ViUtils.add_accents(ViUtils.remove_accents(text).decode("ascii")))


def pyvi_restore(texts: list[str]) -> list[str]:
    """The baseline, add_accents(remove_accents(x)), line by line. remove_accents deletes what is not
    ASCII, so tokens it would empty (dashes, quotes) are set aside and put back; where pyvi raises,
    that line is done token by token."""
    out = []
    for text in texts:
        lines = []
        for line in text.split("\n"):
            tokens = line.split()
            kept = [t for t in tokens if _ascii(t)]
            try:
                restored = _pyvi(" ".join(kept)).split()
            except (KeyError, IndexError, ValueError):
                restored = []
            if len(restored) != len(kept):
                PYVI_FAILURES[0] += 1
                restored = [_pyvi_word(t) for t in kept]
            it = iter(restored)
            lines.append(" ".join(next(it) if _ascii(t) else t for t in tokens))
        out.append("\n".join(lines))
    return out


def _ascii(token: str) -> bool:
    return bool(unicodedata.normalize("NFKD", token).encode("ascii", "ignore").strip())


def _pyvi_word(word: str) -> str:
    try:
        return _pyvi(word) or word
    except (KeyError, IndexError, ValueError):
        return word


def ocr_cached(name: str, lines: list[str], language: str, degraded: bool) -> list[dict[str, object]]:
    """OCR'd held-out pages, cached under build/restore/bench by input, language and Tesseract version."""
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    digest = hashlib.sha1(json.dumps([lines, language, degraded, SEED, version]).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{name}-{language}-{digest}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    pages = ocr_lines(lines, language, degraded, seed=SEED)
    result: list[dict[str, object]] = [
        {"intended": line.intended, "observed": line.observed, "confidences": list(line.confidences)}
        for _, page in pages
        for line in page
    ]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return result


def measure_restorer(
    inputs: dict[str, list[str]], confidences: dict[str, list[list[float | None]]]
) -> dict[str, object]:
    """Run the restorer in a child process: outputs, speed per input set, peak RSS; and the model
    load time, best of LOADS fresh processes."""
    payload = json.dumps({"inputs": inputs, "confidences": confidences})
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    child = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child"],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
    )
    if child.returncode:
        raise SystemExit(f"restoring process failed:\n{child.stderr}")
    measured: dict[str, object] = json.loads(child.stdout)
    loads = [measured["load_seconds"]]
    for _ in range(LOADS - 1):
        run = subprocess.run(
            [sys.executable, str(Path(__file__)), "--load"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        loads.append(float(run.stdout))
    measured["load_seconds"] = min(loads)  # type: ignore[type-var]
    return measured


def _one_core() -> None:
    """Pin this process to one CPU, so that no library spreads work over several."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def load_main() -> int:
    _one_core()
    start = time.perf_counter()
    from pipeline.restore.models import get_restorer

    get_restorer()
    print(f"{time.perf_counter() - start:.4f}")
    return 0


def child_main() -> int:
    import gc
    import resource

    _one_core()
    data = json.loads(sys.stdin.read())
    start = time.perf_counter()
    from pipeline.restore.models import get_restorer

    restorer = get_restorer()
    load_seconds = time.perf_counter() - start
    outputs: dict[str, list[str]] = {}
    speeds: dict[str, float] = {}
    changes: dict[str, int] = {}
    for name, lines in data["inputs"].items():
        confidences = data["confidences"].get(name)
        syllables = sum(len(line.split()) for line in lines)
        seconds = []
        for _ in range(REPEATS):
            restorer.clear_cache()  # every pass starts cold, as a worker meeting these pages first
            gc.collect()
            begin = time.process_time()
            results = []
            changed = 0
            for index, line in enumerate(lines):
                # a page at a time, as the driver does
                restoration = restorer.restore(line, confidences[index] if confidences else None)
                results.append(restoration.text)
                changed += sum(t.restored != t.original for t in restoration.tokens)
            seconds.append(time.process_time() - begin)
        outputs[name] = results
        changes[name] = changed
        # the fastest pass: the machine is shared, slower passes measure other processes too
        speeds[name] = syllables / max(min(seconds), 1e-9)
    # the English OCR pages again with what the worker learnt from them: its steady state
    name = "b:eng"
    warm = []
    for _ in range(REPEATS):
        begin = time.process_time()
        for index, line in enumerate(data["inputs"][name]):
            restorer.restore(line, data["confidences"][name][index])
        warm.append(time.process_time() - begin)
    speeds[f"{name}:warm"] = sum(len(x.split()) for x in data["inputs"][name]) / max(min(warm), 1e-9)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(
        {
            "outputs": outputs,
            "speeds": speeds,
            "changes": changes,
            "load_seconds": load_seconds,
            "peak_mb": peak_mb,
        },
        sys.stdout,
    )
    return 0


def pages_of(lines: list[str], size: int = PAGE_LINES) -> list[str]:
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


def page_confidences(per_line: list[list[float | None]], size: int = PAGE_LINES) -> list[list[float | None]]:
    """Word confidences of `pages_of`'s pages: the lines' lists joined."""
    return [
        functools.reduce(operator.iadd, per_line[i : i + size], []) for i in range(0, len(per_line), size)
    ]


def lines_of(pages: list[str]) -> list[str]:
    return [line for page in pages for line in page.split("\n")]


def ocr_set(pairs: list[dict[str, object]]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """(references, OCR'd lines, word confidences per line) of OCR'd pairs."""
    return (
        [str(p["intended"]) for p in pairs],
        [str(p["observed"]) for p in pairs],
        [list(p["confidences"]) for p in pairs],  # type: ignore[call-overload]
    )


def mixed_lines(
    garbled: list[dict[str, object]], correct: list[str], rng: random.Random
) -> tuple[list[str], list[str], list[list[float | None]], list[bool]]:
    """A mixed text: blocks of 1–4 lines, each block English-model OCR or correct text (typed in or
    pasted: no confidences), drawn at random until both pools are used. Returns references, input
    lines, confidences per line and whether each line is garbled."""
    references: list[str] = []
    observed: list[str] = []
    confidences: list[list[float | None]] = []
    is_garbled: list[bool] = []
    garbled_left, correct_left = list(garbled), list(correct)
    while garbled_left or correct_left:
        kind = bool(garbled_left) and (not correct_left or rng.random() < 0.5)
        for _ in range(rng.randint(*MIXED_BLOCK)):
            if kind and garbled_left:
                pair = garbled_left.pop()
                references.append(str(pair["intended"]))
                observed.append(str(pair["observed"]))
                confidences.append(list(pair["confidences"]))  # type: ignore[call-overload]
            elif not kind and correct_left:
                line = correct_left.pop()
                references.append(line)
                observed.append(line)
                confidences.append([None] * len(line.split()))
            else:
                break
            is_garbled.append(kind)
    return references, observed, confidences, is_garbled


def words_changed(inputs: list[str], outputs: list[str]) -> tuple[int, int]:
    """Word-level edits from the inputs to the outputs, and the number of input words."""
    edits = sum(Levenshtein.distance(i.split(), o.split()) for i, o in zip(inputs, outputs, strict=True))
    return edits, sum(len(i.split()) for i in inputs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--syllables", type=int, default=12000, help="held-out syllables per corpus file for (a)"
    )
    parser.add_argument("--ocr-lines", type=int, default=160, help="held-out lines per OCR benchmark")
    parser.add_argument("--name-lines", type=int, default=200, help="held-out lines naming places for (n)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.child:
        return child_main()
    if args.load:
        return load_main()

    held = held_out_lines(args.syllables)
    rng = random.Random(SEED)
    # (a) stripped text
    stripped_refs: dict[str, list[str]] = {name: pages_of(lines) for name, lines in held.items()}
    stripped_inputs = {f"a:{name}": [strip_marks(p) for p in pages] for name, pages in stripped_refs.items()}
    # (b), (c) OCR of rendered held-out lines: administrative text first
    pool = held.get("vbpl_vi_docs", []) + held.get("phapdien_vanban", [])
    ocr_source = rng.sample(pool, min(args.ocr_lines, len(pool)))
    english = ocr_cached("b", ocr_source, "eng", degraded=False)
    vietnamese = ocr_cached("c", ocr_source, "vie", degraded=True)
    inputs: dict[str, list[str]] = dict(stripped_inputs)
    confidences: dict[str, list[list[float | None]]] = {}
    for key, pairs in (("b:eng", english), ("c:vie", vietnamese)):
        _, observed, per_line = ocr_set(pairs)
        inputs[key] = pages_of(observed)
        confidences[key] = page_confidences(per_line)
    correct_pages = [p for pages in stripped_refs.values() for p in pages]
    inputs["correct"] = correct_pages
    # (m) mixed pages: the English OCR lines of (b) in blocks among as many correct held-out lines
    taken = set(ocr_source)
    others = [line for lines in held.values() for line in lines if line not in taken]
    mixed_refs, mixed_input, mixed_conf, mixed_garbled = mixed_lines(
        english,
        random.Random(SEED + 1).sample(others, min(len(english), len(others))),
        random.Random(SEED + 2),
    )
    inputs["m:mixed"] = pages_of(mixed_input)
    confidences["m:mixed"] = page_confidences(mixed_conf)
    # (n) place names: held-out lines naming units, stripped, OCR'd with either model, and correct
    name_lines = place_mentions(NAME_LINES_PER_NAME, args.name_lines)
    name_sets: dict[str, tuple[list[str], list[str]]] = {
        "n:stripped": (name_lines, [strip_marks(line) for line in name_lines]),
        "n:correct": (name_lines, name_lines),
    }
    for key, language, degraded in (("n:eng", "eng", False), ("n:vie", "vie", True)):
        refs, observed, per_line = ocr_set(ocr_cached("n", name_lines, language, degraded))
        name_sets[key] = (refs, observed)
        confidences[key] = page_confidences(per_line)
    for key, (_, observed) in name_sets.items():
        inputs[key] = pages_of(observed)

    measured = measure_restorer(inputs, confidences)
    outputs: dict[str, list[str]] = measured["outputs"]  # type: ignore[assignment]
    rows = stripped_rows(stripped_refs, stripped_inputs, outputs)

    for key, label, pairs in (
        ("b:eng", "(b) English-model OCR", english),
        ("c:vie", "(c) Vietnamese-model OCR of degraded pages", vietnamese),
    ):
        refs = [str(p["intended"]) for p in pairs]
        given, ours = lines_of(inputs[key]), lines_of(outputs[key])
        rows.append(
            (
                f"{label}, CER ({len(refs)} lines)",
                f"{cer(refs, given):.2%}",
                f"{cer(refs, pyvi_restore(given)):.2%}",
                f"{cer(refs, ours):.2%}",
            )
        )
    changes: dict[str, int] = measured["changes"]  # type: ignore[assignment]
    changed = changes["correct"]
    total = sum(len(page.split()) for page in correct_pages)
    rows.append(("(c) correct text: words changed", "—", "—", f"{changed / total:.3%} ({changed}/{total})"))
    rows.extend(mixed_rows(mixed_refs, mixed_input, lines_of(outputs["m:mixed"]), mixed_garbled))
    rows.extend(name_rows(name_sets, outputs))
    rows.extend(resource_rows(measured))
    rows.append(("pyvi lines done word by word (it raised on the line)", "—", str(PYVI_FAILURES[0]), "—"))
    print("| measure | input | pyvi add_accents | congvan |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, ensure_ascii=False, indent=1) + "\n")
    return 0


Row = tuple[str, str, str, str]


def stripped_rows(
    references: dict[str, list[str]], inputs: dict[str, list[str]], outputs: dict[str, list[str]]
) -> list[Row]:
    rows: list[Row] = []
    total_ok = total_n = pyvi_ok = input_ok = 0
    for name, refs in references.items():
        ours = outputs[f"a:{name}"]
        theirs = pyvi_restore(inputs[f"a:{name}"])
        ok, n = syllable_accuracy(refs, ours)
        pok, _ = syllable_accuracy(refs, theirs)
        iok, _ = syllable_accuracy(refs, inputs[f"a:{name}"])
        total_ok, total_n, pyvi_ok, input_ok = total_ok + ok, total_n + n, pyvi_ok + pok, input_ok + iok
        rows.append(
            (
                f"(a) stripped text, syllable accuracy — {name} ({n} syll.)",
                f"{iok / n:.2%}",
                f"{pok / n:.2%}",
                f"{ok / n:.2%}",
            )
        )
    rows.insert(
        0,
        (
            "(a) stripped text, syllable accuracy — all",
            f"{input_ok / total_n:.2%}",
            f"{pyvi_ok / total_n:.2%}",
            f"{total_ok / total_n:.2%}",
        ),
    )
    return rows


def mixed_rows(references: list[str], given: list[str], ours: list[str], garbled: list[bool]) -> list[Row]:
    theirs = pyvi_restore(given)

    def pick(lines: list[str], kind: bool) -> list[str]:
        return [line for line, flag in zip(lines, garbled, strict=True) if flag is kind]

    bad_refs = pick(references, True)
    good_in = pick(given, False)
    ours_changed, words = words_changed(good_in, pick(ours, False))
    pyvi_changed, _ = words_changed(good_in, pick(theirs, False))
    return [
        (
            f"(m) mixed pages, English-OCR lines among correct ones: CER of the OCR lines ({len(bad_refs)})",
            f"{cer(bad_refs, pick(given, True)):.2%}",
            f"{cer(bad_refs, pick(theirs, True)):.2%}",
            f"{cer(bad_refs, pick(ours, True)):.2%}",
        ),
        (
            f"(m) mixed pages: words changed on the correct lines ({len(good_in)} lines)",
            "—",
            f"{pyvi_changed / words:.2%}",
            f"{ours_changed / words:.3%} ({ours_changed}/{words})",
        ),
    ]


def name_rows(name_sets: dict[str, tuple[list[str], list[str]]], outputs: dict[str, list[str]]) -> list[Row]:
    rows: list[Row] = []
    labels = {
        "n:stripped": "stripped",
        "n:eng": "English-model OCR",
        "n:vie": "Vietnamese-model OCR, degraded",
        "n:correct": "correct text",
    }
    for key, label in labels.items():
        refs, given = name_sets[key]
        ours = lines_of(outputs[key])
        right, total = names_written(refs, ours)
        before, _ = names_written(refs, given)
        pyvi, _ = names_written(refs, pyvi_restore(given))
        rows.append(
            (
                f"(n) place names written right — {label} ({total} names, {len(refs)} lines)",
                f"{before / total:.2%}",
                f"{pyvi / total:.2%}",
                f"{right / total:.2%}",
            )
        )
    return rows


def resource_rows(measured: dict[str, object]) -> list[Row]:
    speeds: dict[str, float] = measured["speeds"]  # type: ignore[assignment]
    stripped = min(v for k, v in speeds.items() if k.startswith("a:"))
    return [
        (
            f"speed, stripped text (syllables/s, one core, cold cache, best of {REPEATS})",
            "—",
            "—",
            f"{stripped:,.0f}",
        ),
        (
            "speed, English OCR text (syllables/s): cold cache / warm",
            "—",
            "—",
            f"{speeds['b:eng']:,.0f} / {speeds['b:eng:warm']:,.0f}",
        ),
        (
            "speed, Vietnamese OCR / correct text / mixed pages (syllables/s, cold cache)",
            "—",
            "—",
            f"{speeds['c:vie']:,.0f} / {speeds['correct']:,.0f} / {speeds['m:mixed']:,.0f}",
        ),
        ("model load (s, best of 3 processes)", "—", "—", f"{measured['load_seconds']:.2f}"),
        ("peak RSS of the restoring process (MB)", "—", "—", f"{measured['peak_mb']:.0f}"),
    ]


if __name__ == "__main__":
    raise SystemExit(main())

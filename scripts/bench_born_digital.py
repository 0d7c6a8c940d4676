"""Born-digital and e-signed PDFs (`make bench-born-digital`): pages per second of the whole pipeline (`congvan
process`: ingest, source choice, OCR where needed, restoration, extraction, signatures, outputs) and the code,
date, signer and signatures it finds, for this tree and for a baseline commit run the same way on the same
inputs in the same run.

Inputs:
- real: the e-signed born-digital documents of ../shared/real (tb11, tb565), scored against tests/real gold;
- generated: `--generated` (40) dispatches of samples/generate.py (seed `--seed`) written as born-digital PDFs by
  samples/born_digital.py, every other one e-signed (number and day as signature-widget appearances, a
  publication stamp, signature dictionaries); truth read off the spec each was typeset from (code after "Số",
  date of the place-and-date line, last signature line) and the signers it was signed with;
- stamp-only scans (ct07, ct08, tb46 of ../shared/real): the source each page gets (it must stay OCR).

The baseline (`--baseline`, default 651ac5f: the last commit before PDF text layers were read) is `git
archive`d into build/bench_born_digital/ and run with the same interpreter; it OCRs every page, so it runs on the
first `--baseline-docs` (6) generated documents only. Speed: wall-clock pages/s of each run, the CPU seconds per
page of the whole process tree (sampled with psutil; on a machine shared with other work wall-clock figures
drift with its load, the load average is printed), and the steady-state rate of this tree (pages/s between a
quarter and all of the generated set: the start-up of the worker pool and of the extraction models cancels)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))
import born_digital  # noqa: E402
import generate  # noqa: E402

REAL = ROOT.parent / "shared" / "real"
GOLD = ROOT / "tests" / "real"
BUILD = ROOT / "build" / "bench_born_digital"
REAL_BORN_DIGITAL = ("tb11_2025_quangngai_esigned", "tb565_2024_quangngai_esigned")
STAMPED_SCANS = ("ct07_2018_quangngai", "ct08_2018_quangngai_stamp", "tb46_2025_quangngai")
BASELINE = "651ac5f"


@dataclass
class Truth:
    code: str | None
    date: str | None
    signer: str | None
    signatures: list[tuple[str | None, str | None]] = field(default_factory=list)  # (signer, time)


@dataclass
class Run:
    label: str
    pages: int
    seconds: float
    cpu: float
    results: dict[str, dict[str, Any]]

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- inputs


def _spec_truth(spec: generate.Dispatch) -> Truth:
    number_line = next(line for line in spec.header_left if line.startswith("Số"))
    code = re.sub(r"^Số:?\s*", "", number_line).strip()
    place_date = re.search(r"ngày (\d+) tháng (\d+) năm (\d{4})", spec.header_right[-1])
    date = f"{place_date[3]}-{int(place_date[2]):02d}-{int(place_date[1]):02d}" if place_date else None
    return Truth(code=code, date=date, signer=spec.signature[-1] if spec.signature else None)


def generated_inputs(count: int, seed: int) -> dict[Path, Truth]:
    """Written once per (count, seed) into build/; the truth beside them in truth.json."""
    folder = BUILD / f"generated-{seed}-{count}"
    manifest = folder / "truth.json"
    if manifest.exists():
        stored = json.loads(manifest.read_text(encoding="utf-8"))
        return {folder / name: Truth(**{**value, "signatures": [tuple(s) for s in value["signatures"]]})
                for name, value in stored.items()}
    folder.mkdir(parents=True, exist_ok=True)
    truths: dict[Path, Truth] = {}
    for k in range(count):
        rng = random.Random(f"bench-born-digital:{seed}:{k}")
        spec = generate.random_dispatch(rng, party=False)
        pages = generate.render_dispatch(spec, rng=rng, dpi=150.0)
        truth = _spec_truth(spec)
        esign = None
        if k % 2 and truth.date is not None:
            # signed at the end of the day the document is dated, published the next morning
            when = dt.datetime.fromisoformat(truth.date).replace(hour=17, minute=30, second=7, tzinfo=born_digital.LOCAL)
            signer = truth.signer or "Nguyễn Văn An"
            esign = born_digital.ESign(signers=(
                born_digital.Signer("ỦY BAN NHÂN DÂN", when, name=signer, page=len(pages) - 1),
                born_digital.Signer("TRUNG TÂM CÔNG BÁO VÀ TIN HỌC", when + dt.timedelta(hours=15),
                                    email="ttcbth@example.gov.vn", stamp="plain")))
            fields = sum(value is not None for value in born_digital.field_values(pages))
            truth.signatures = [(signer, when.isoformat())] * (fields + 1) + [
                (None, (when + dt.timedelta(hours=15)).isoformat())]
        path = born_digital.write_born_digital_pdf(pages, folder / f"born_digital_{k:03d}.pdf", esign)
        truths[path] = truth
    manifest.write_text(json.dumps({p.name: t.__dict__ for p, t in truths.items()}, ensure_ascii=False, indent=1),
                        encoding="utf-8")
    return truths


def real_inputs() -> dict[Path, Truth]:
    out = {}
    for stem in REAL_BORN_DIGITAL:
        gold = json.loads((GOLD / f"{stem}.gold.json").read_text(encoding="utf-8"))
        document = gold["document"]
        out[REAL / f"{stem}.pdf"] = Truth(document["code"], document["date"], document["signer"]["name"],
                                          [(s["signer"], s["time"]) for s in gold["signatures"]])
    return out


# --------------------------------------------------------------------------- runs


def baseline_tree(ref: str) -> Path:
    tree = BUILD / f"baseline-{ref}"
    if not (tree / "pipeline").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def run_pipeline(label: str, tree: Path, inputs: list[Path], jobs: int) -> Run:
    out = BUILD / "out" / label.replace(" ", "_")
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline", "process", *map(str, inputs), "--out", str(out),
               "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    process = psutil.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu: dict[int, float] = {}
    while process.poll() is None:
        try:
            for member in [process, *process.children(recursive=True)]:
                times = member.cpu_times()
                cpu[member.pid] = times.user + times.system
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{label}: congvan process failed ({process.returncode}): "
                         f"{process.stderr.read().decode()[-2000:] if process.stderr else ''}")
    results = {}
    for path in inputs:
        results[path.name] = json.loads((out / f"{path.stem}.json").read_text(encoding="utf-8"))
    pages = sum(len(result["pages"]) for result in results.values())
    return Run(label, pages, seconds, sum(cpu.values()), results)


# --------------------------------------------------------------------------- scoring


def _norm(value: str | None) -> str | None:
    return None if value is None else " ".join(unicodedata.normalize("NFC", value).split())


def score(run: Run, truths: dict[Path, Truth]) -> dict[str, tuple[int, int]]:
    """(right, total) per field over the documents of `truths` that the run processed."""
    counts = {name: [0, 0] for name in ("code", "date", "signer", "signatures", "text-layer pages")}
    for path, truth in truths.items():
        result = run.results.get(path.name)
        if result is None:
            continue
        record = result["record"] or {}
        document = record.get("document", {})
        signer = (document.get("signer") or {}).get("name")
        for name, found, expected in (("code", document.get("code"), truth.code),
                                      ("date", document.get("date"), truth.date),
                                      ("signer", signer, truth.signer)):
            counts[name][0] += _norm(found) == _norm(expected)
            counts[name][1] += 1
        if truth.signatures:
            found_signatures = [(s.get("signer"), s.get("time")) for s in record.get("signatures", [])]
            counts["signatures"][0] += found_signatures == truth.signatures
            counts["signatures"][1] += 1
        sources = [page.get("source", "ocr") for page in result["pages"]]
        counts["text-layer pages"][0] += sources.count("text-layer")
        counts["text-layer pages"][1] += len(sources)
    return {name: (right, total) for name, (right, total) in counts.items()}


def stamped_scan_sources() -> dict[str, list[str]]:
    from pipeline.ingest import open_document, read_text_layer
    from pipeline.textlayer import read_layer

    out = {}
    for stem in STAMPED_SCANS:
        path = REAL / f"{stem}.pdf"
        sources = []
        for index in range(open_document(path).page_count):
            layer = read_text_layer(path, index)
            sources.append(read_layer(layer).source.value if layer is not None else "ocr")
        out[stem] = sources
    return out


# --------------------------------------------------------------------------- report


def _fraction(pair: tuple[int, int]) -> str:
    right, total = pair
    return f"{right}/{total}" if total else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the baseline (default %(default)s)")
    parser.add_argument("--baseline-docs", type=int, default=6, help="generated documents the baseline OCRs")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    generated = generated_inputs(args.generated, args.seed)
    real = real_inputs() if REAL.is_dir() else {}
    if not real:
        print(f"{REAL} is absent: real documents skipped")
    runs: list[tuple[Run, dict[Path, Truth]]] = []
    gen_paths = list(generated)
    quarter = gen_paths[: max(1, len(gen_paths) // 4)]
    current_quarter = run_pipeline("congvan quarter", ROOT, quarter, args.jobs)
    current = run_pipeline("congvan generated", ROOT, gen_paths, args.jobs)
    runs.append((current, generated))
    if real:
        runs.append((run_pipeline("congvan real", ROOT, list(real), args.jobs), real))
    if not args.no_baseline:
        tree = baseline_tree(args.baseline)
        subset = gen_paths[: args.baseline_docs]
        runs.append((run_pipeline(f"baseline {args.baseline} generated", tree, subset, args.jobs),
                     {path: generated[path] for path in subset}))
        if real:
            runs.append((run_pipeline(f"baseline {args.baseline} real", tree, list(real), args.jobs), real))

    load = os.getloadavg()
    print(f"\nborn-digital benchmark, {dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, --jobs {args.jobs}, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    print("| run | documents | pages | wall s | pages/s | CPU s/page | code | date | signer | signatures "
          "| text-layer pages |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run, truths in runs:
        scores = score(run, truths)
        print(f"| {run.label} | {len(run.results)} | {run.pages} | {run.seconds:.1f} | {run.pages_per_second:.2f} | "
              f"{run.cpu / max(1, run.pages):.3f} | {_fraction(scores['code'])} | {_fraction(scores['date'])} | "
              f"{_fraction(scores['signer'])} | {_fraction(scores['signatures'])} | "
              f"{_fraction(scores['text-layer pages'])} |")
    marginal_pages = current.pages - current_quarter.pages
    marginal_seconds = current.seconds - current_quarter.seconds
    if marginal_pages > 0 and marginal_seconds > 0:
        marginal_cpu = (current.cpu - current_quarter.cpu) / marginal_pages
        print(f"\nsteady state (this tree, generated: {current_quarter.pages} → {current.pages} pages): "
              f"{marginal_pages / marginal_seconds:.1f} pages/s wall-clock; {marginal_cpu:.3f} CPU s/page "
              f"→ {args.jobs / marginal_cpu:.1f} pages/s on {args.jobs} idle cores")
    if REAL.is_dir():
        print("\nsources of the scans whose text layer holds only a signature stamp:")
        for stem, sources in stamped_scan_sources().items():
            print(f"  {stem}: {', '.join(sources)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

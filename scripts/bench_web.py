"""Web benchmark (`make bench-web`): server time of the search page and the document page on a synthetic
archive of 10,000 documents, with the CLI search time from the same run.

The archive is the one `make bench-archive` indexes (scripts/bench_archive.py: random dispatches through the
real extractor, cached under build/bench_archive/). Pages are requested in-process (FastAPI TestClient) and
timed by the app's own Server-Timing header: routing, store queries and template rendering, no network.
Queries: references in four spellings and text phrases with and without diacritics (bench_archive's query
generators), and browsing by filters; document pages with a query to box. The CLI figure is the library call
`congvan search` makes (`archive.search.search`) on the same queries, and the wall time of `congvan search`
processes (Python start included). Targets: search page p95 ≤ 150 ms, document page p95 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_archive  # noqa: E402

from pipeline.archive import open_archive  # noqa: E402
from pipeline.archive.search import search  # noqa: E402

SEED = 13
BROWSE = [{"type": "QĐ"}, {"type": "KH", "tasks": "yes"}, {"review": "yes"}, {"from": "2020-01-01", "to": "2020-12-31"},
          {"issuer": "ủy ban nhân dân"}, {"place": "Lạng Sơn"}, {"sort": "added"}, {}]


def server_ms(response) -> float:
    header = response.headers["server-timing"]
    return float(header.split("dur=")[1])


def summary(times: Sequence[float]) -> str:
    return f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--jobs", type=int, default=2, help="processes for extracting the synthetic documents")
    parser.add_argument("--cli-runs", type=int, default=5, help="congvan search processes timed")
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from pipeline.web import WebConfig, create_app

    documents = bench_archive.synthetic_documents(args.documents, args.jobs)
    rng = random.Random(SEED)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="congvan-bench-web-") as temp:
        db = Path(temp) / "archive.db"
        rate = bench_archive.index_documents(db, documents)
        rows.append((f"archive: {len(documents):,} synthetic documents indexed", f"{rate:.0f} docs/s",
                     f"{sum(len(p) for p, _ in documents):,} pages"))
        references = bench_archive.reference_queries(documents, args.queries, rng)
        texts = bench_archive.text_queries(documents, args.queries, rng)
        with open_archive(db, create=False) as archive:
            library = {kind: [] for kind in ("reference", "text")}
            for kind, queries in (("reference", references), ("text", texts)):
                for query in queries:
                    started = time.perf_counter()
                    search(archive, query)
                    library[kind].append((time.perf_counter() - started) * 1000)
            count = archive.count_documents()
        app = create_app(WebConfig(db=db, intake_worker=False))
        with TestClient(app) as client:
            client.get("/")  # warm: templates compiled, connection opened
            search_times = {"reference": [], "text": [], "browse": []}
            for kind, queries in (("reference", references), ("text", texts)):
                for query in queries:
                    response = client.get("/?" + urlencode({"q": query}))
                    assert response.status_code == 200, response.text[:300]
                    search_times[kind].append(server_ms(response))
            for _ in range(max(1, args.queries // len(BROWSE))):
                for params in BROWSE:
                    page = rng.choice(["1", "2", "5"])
                    response = client.get("/?" + urlencode({**params, "page": page}))
                    assert response.status_code == 200, response.text[:300]
                    search_times["browse"].append(server_ms(response))
            document_times = []
            for query in (references + texts)[: args.queries]:
                document_id = rng.randint(1, count)
                response = client.get(f"/documents/{document_id}?" + urlencode({"q": query}))
                assert response.status_code == 200, response.text[:300]
                document_times.append(server_ms(response))
        every_search = [t for times in search_times.values() for t in times]
        rows.append((f"search page p95, all ({len(every_search)} requests)",
                     f"{bench_archive.percentile(every_search, 0.95):.1f} ms", f"{summary(every_search)}; target ≤ 150 ms"))
        for kind, times in search_times.items():
            rows.append((f"search page p95 · {kind} ({len(times)})", f"{bench_archive.percentile(times, 0.95):.1f} ms",
                         summary(times)))
        rows.append((f"document page p95 ({len(document_times)}, with a query to box)",
                     f"{bench_archive.percentile(document_times, 0.95):.1f} ms",
                     f"{summary(document_times)}; target ≤ 300 ms"))
        for kind, times in library.items():
            rows.append((f"CLI search (library call) p95 · {kind} ({len(times)})",
                         f"{bench_archive.percentile(times, 0.95):.1f} ms", summary(times)))
        walls = []
        for query in references[: args.cli_runs]:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pipeline", "search", query, "--db", str(db)],
                           capture_output=True, check=True)
            walls.append((time.perf_counter() - started) * 1000)
        rows.append((f"`congvan search` process wall time ({len(walls)} runs)", f"{statistics.median(walls):.0f} ms",
                     f"median, Python start included; max {max(walls):.0f} ms"))
    print("| measure | result | notes |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

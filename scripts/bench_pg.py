"""Archive backends benchmark (`make bench-pg`): SQLite and PostgreSQL measured in one run on the same corpus.

For each backend:
1. Indexing: N synthetic documents added to a fresh archive, one transaction per document as the driver
   does (rows derived from the record, result JSON built and compressed): the first `--single` documents by
   one writer process, the rest by `--writers` concurrent writer processes (each its own connection) into
   the same archive, so that the archive searched below is built once; the many-writer rate is measured on
   the larger archive (if anything, understated). Documents per second, and the CPU time per document of
   the writers and of the database server (PostgreSQL's processes), which bounds what concurrency can gain
   on this machine.
2. Search at N documents: latency (p50, p95, max) of reference queries (four spellings) and of text queries
   (with and without diacritics), through `search()` as the CLI and the web interface call it.
3. Disk: the archive's size (SQLite file + WAL; PostgreSQL database size, tables + indexes + TOAST).

The corpus: `--base` synthetic dispatches (samples/generate.py) with the records the real extractor makes of
them (cached by bench_archive.py under build/bench_archive/), repeated up to N documents; each repetition
gets its own content hash and its own document number (drawn like the generator draws them), so numbers
and phrases are spread as in N generated documents (the generator draws sentences from a finite pool).

PostgreSQL runs as a temporary server (scripts/pg_temp.py) with the settings in SERVER_SETTINGS unless
`--pg-url` names a server. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_archive  # noqa: E402
from pg_temp import TemporaryPostgres  # noqa: E402

from pipeline.archive import open_archive  # noqa: E402
from pipeline.archive.search import search  # noqa: E402

# A deployment's settings for a 2-core, 24 GiB machine shared with the pipeline (see README, "PostgreSQL"):
# durable (fsync on) but, like SQLite's WAL with synchronous=NORMAL, without waiting for the WAL flush of
# each commit (a crash loses at most the last ~0.6 s of commits, never consistency).
SERVER_SETTINGS = {
    "fsync": "on", "full_page_writes": "on", "synchronous_commit": "off",
    "shared_buffers": "512MB", "effective_cache_size": "4GB", "work_mem": "16MB",
    "maintenance_work_mem": "256MB", "max_wal_size": "4GB", "checkpoint_timeout": "15min",
    "wal_compression": "on", "random_page_cost": "1.1", "jit": "off",
}
Document = tuple[list[str], dict]
_CORPUS: list[Document] = []  # set before the writer processes fork


# --------------------------------------------------------------------------- corpus


def corpus(count: int, base: int, jobs: int) -> list[Document]:
    """`count` documents from `base` extracted dispatches; repetitions renumbered (see the module doc)."""
    originals = bench_archive.synthetic_documents(base, jobs)
    documents: list[Document] = []
    for index in range(count):
        pages, record = originals[index % base]
        if index >= base:
            pages, record = _renumbered(pages, record, random.Random(f"bench-pg:{index}"))
        documents.append((pages, record))
    return documents


def _renumbered(pages: list[str], record: dict, rng: random.Random) -> Document:
    code = record["document"].get("code")
    match = re.match(r"(\d+)([/-].*)", code or "")
    if not match:
        return pages, record
    number = str(rng.choice([rng.randint(1, 99), rng.randint(1, 999), rng.randint(100, 3500)]))
    new_code = f"{number.zfill(2)}{match.group(2)}"
    header = {**record["document"], "code": new_code, "number": number.zfill(2)}
    return [page.replace(code, new_code) for page in pages], {**record, "document": header}


# --------------------------------------------------------------------------- indexing


def _write_share(location: str, writer: int, writers: int, start: int) -> int:
    """One writer process: documents start + writer, start + writer + writers, … of the corpus, one
    transaction each."""
    count = 0
    with open_archive(location) as archive:
        for number in range(start + writer, len(_CORPUS), writers):
            bench_archive.add_synthetic(archive, number, *_CORPUS[number])
            count += 1
    return count


def index(location: str, documents: list[Document], writers: int, server_cpu: Callable[[], float],
          start: int = 0) -> dict:
    """Index documents[start:] with `writers` processes; documents/s and CPU seconds of writers and server."""
    global _CORPUS
    _CORPUS = documents
    open_archive(location).close()  # schema first: its creation is not indexing
    context = multiprocessing.get_context("fork")
    children_before = _children_cpu()
    server_before = server_cpu()
    started = time.perf_counter()
    # the writers must not inherit main()'s SIGTERM handler: Pool's exit ends them with SIGTERM, which the
    # handler turned into an exit in the middle of the pool's queue lock (a writer then hung on it for good)
    with context.Pool(writers, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL)) as pool:
        written = sum(pool.starmap(_write_share, [(location, w, writers, start) for w in range(writers)]))
    seconds = time.perf_counter() - started
    time.sleep(0.5)  # server processes of the closed connections exit and are counted
    assert written == len(documents) - start
    return {"rate": written / seconds, "seconds": seconds, "count": written,
            "client_cpu": _children_cpu() - children_before, "server_cpu": server_cpu() - server_before}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postmaster_cpu(pid: int) -> Callable[[], float]:
    """CPU seconds of a PostgreSQL server: the postmaster and its (exited, waited-for) backends."""
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / ticks  # utime stime cutime cstime

    return read


# --------------------------------------------------------------------------- search and size


def search_latencies(location: str, kinds: dict[str, list[str]]) -> dict[str, tuple[list[float], int]]:
    with open_archive(location, create=False) as archive:
        for queries in kinds.values():  # warm the caches as a running server would have them
            for query in queries[:20]:
                search(archive, query)
        results = {}
        for kind, queries in kinds.items():
            found = sum(bool(search(archive, q)) for q in queries)
            results[kind] = (bench_archive.latencies(lambda q, a=archive: search(a, q), queries), found)
    return results


def sqlite_size(path: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(Path(path + suffix).stat().st_size for suffix in ("", "-wal") if Path(path + suffix).exists())


# --------------------------------------------------------------------------- main


def _index_rows(name: str, result: dict, start: int, writers: int) -> list[tuple[str, str, str]]:
    count = result["count"]
    client, server = result["client_cpu"] * 1000 / count, result["server_cpu"] * 1000 / count
    bound = (os.cpu_count() or 1) * 1000 / (client + server)
    return [(f"{name} · indexing documents {start + 1:,}–{start + count:,}, {writers} writer{'s' if writers > 1 else ''}",
             f"{result['rate']:.0f} docs/s",
             f"{result['seconds']:.0f} s; CPU per document: writers {client:.1f} ms + server {server:.1f} ms → at most "
             f"{bound:.0f} docs/s on {os.cpu_count()} idle cores")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=5_000, help="distinct extracted dispatches the corpus repeats")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--single", type=int, default=10_000, help="documents indexed by one writer, first")
    parser.add_argument("--backends", default="postgres,sqlite", help="which backends, in this order")
    parser.add_argument("--jobs", type=int, default=2, help="processes extracting the base dispatches")
    parser.add_argument("--pg-url", help="an existing PostgreSQL database (emptied first) instead of a temporary server")
    parser.add_argument("--quick", action="store_true", help="10,000 documents from 1,000 (2,000 by one writer), 50 queries")
    args = parser.parse_args(argv)
    if args.quick:
        args.documents, args.base, args.queries, args.single = 10_000, 1_000, 50, 2_000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the temporary server on kill too
    documents = corpus(args.documents, min(args.base, args.documents), args.jobs)
    rng = random.Random(bench_archive.SEED)
    kinds = {"reference": bench_archive.reference_queries(documents, args.queries, rng),
             "text": bench_archive.text_queries(documents, args.queries, rng)}
    targets = {"reference": 50.0, "text": 150.0}
    rows = _Table()
    with tempfile.TemporaryDirectory(prefix="congvan-bench-pg-") as temp:
        server = None if args.pg_url else TemporaryPostgres(SERVER_SETTINGS).start()
        try:
            for backend in args.backends.split(","):
                cpu: Callable[[], float] = lambda: 0.0  # noqa: E731 - SQLite has no server process
                if backend == "sqlite":
                    location = str(Path(temp) / "archive.db")
                elif server is not None:
                    location = server.create_database("bench")
                    assert server._process is not None
                    cpu = postmaster_cpu(server._process.pid)
                else:
                    location = args.pg_url
                    _empty(location)
                rates = {}
                for writers, start in ((1, 0), (args.writers, args.single)):
                    print(f"{backend}: indexing from document {start + 1} with {writers} writer(s)…", file=sys.stderr,
                          flush=True)
                    result = index(location, documents if start else documents[:args.single], writers, cpu, start)
                    rates[writers] = result["rate"]
                    rows += _index_rows(backend, result, start, writers)
                rows.append((f"{backend} · {args.writers} writers / 1 writer", f"{rates[args.writers] / rates[1]:.2f}×",
                             "PostgreSQL target ≥ 2.5×"))
                if backend == "postgres":
                    _vacuum(location)
                print(f"{backend}: searching…", file=sys.stderr, flush=True)
                for kind, (times, found) in search_latencies(location, kinds).items():
                    rows.append((f"{backend} · search p95, {kind} queries ({len(times)}, {found} with hits) "
                                 f"at {len(documents):,} documents", f"{bench_archive.percentile(times, 0.95):.1f} ms",
                                 f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms; "
                                 f"PostgreSQL target ≤ {targets[kind]:.0f} ms"))
                size = sqlite_size(location) if backend == "sqlite" else _pg_size(location)
                rows.append((f"{backend} · disk size at {len(documents):,} documents", f"{size / 2**20:.0f} MiB",
                             f"{size / len(documents) / 1024:.1f} KiB per document"))
        finally:
            if server is not None:
                server.stop()
    return 0


class _Table(list[tuple[str, str, str]]):
    """The result rows, each printed (markdown) as soon as it is measured: a long run that stops early
    still leaves what it measured."""

    def __init__(self) -> None:
        super().__init__()
        print("| measure | result | notes |\n|---|---|---|", flush=True)

    def append(self, row: tuple[str, str, str]) -> None:
        super().append(row)
        print("| " + " | ".join(row) + " |", flush=True)

    def __iadd__(self, rows: Iterable[tuple[str, str, str]]) -> _Table:  # type: ignore[override, misc]
        for row in rows:
            self.append(row)
        return self


def _vacuum(url: str) -> None:
    """What autovacuum does to a loaded archive: statistics for the planner, GIN pending lists merged."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")


def _pg_size(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def _empty(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute('DROP TABLE IF EXISTS "tasks", "places", "dates", "references", "pages", "documents", '
                           '"congvan_schema" CASCADE')


if __name__ == "__main__":
    sys.exit(main())

"""Command line of congvan: parse arguments, validate them once, call library functions, print results."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pipeline.errors import EXIT_INTERRUPTED, ArchiveError, CongvanError, UsageError, printable


def _print_error(error: CongvanError) -> None:
    print(f"congvan: {error.label}: {error}", file=sys.stderr)


DB_HELP = "archive: an SQLite file (or sqlite:///PATH) or postgresql://USER@HOST/DATABASE (default: $CONGVAN_DB)"


def _default_db() -> str | None:
    return os.environ.get("CONGVAN_DB") or None


def _archive(args: argparse.Namespace) -> str:
    """The archive a reading command works on: --db, else CONGVAN_DB."""
    if not args.db:
        raise UsageError(f"{args.command} needs --db ARCHIVE (or the CONGVAN_DB environment variable)")
    return str(args.db)


# --------------------------------------------------------------------------- process


def _add_process(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pipeline.defaults import PAGE_TIMEOUT_SECONDS, default_jobs
    from pipeline.limits import WORKER_MEMORY_SHARE
    from pipeline.run.options import ExecutorKind

    p = sub.add_parser("process", help="scan/PDF/text files or folders → text, JSON records, archive")
    p.add_argument("inputs", nargs="+", type=Path, help="files or folders (walked recursively)")
    p.add_argument("--out", type=Path, help="write <stem>.txt and <stem>.json here")
    p.add_argument("--db", default=_default_db(), help=DB_HELP + " to add documents to")
    p.add_argument("--jobs", type=int, default=default_jobs(), help="pages processed in parallel")
    p.add_argument("--no-restore", action="store_true", help="keep raw OCR text (skip diacritic restoration)")
    p.add_argument("--text-layer", action="store_true",
                   help="read every PDF page that has a text layer from it, no OCR (an old OCR layer is restored); "
                        "by default each page's source is chosen on evidence")
    p.add_argument("--lang", default=None, help="Tesseract languages (default: the measured best)")
    p.add_argument("--page-timeout", type=float, default=PAGE_TIMEOUT_SECONDS,
                   help=f"seconds before a page's OCR is killed (default {PAGE_TIMEOUT_SECONDS:g})")
    p.add_argument("--force", action="store_true", help="redo documents already in the archive")
    p.add_argument("--pdf", action="store_true", help="also write a searchable PDF per document")
    p.add_argument("--executor", choices=[kind.value for kind in ExecutorKind], default=ExecutorKind.LOCAL.value)
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786")
    p.add_argument("--worker-memory", type=_size, metavar="SIZE",
                   help="data memory each local worker may use, e.g. 4G; 0 = no cap (default: "
                        f"{WORKER_MEMORY_SHARE * 100:.0f}%% of the machine's memory shared among the --jobs workers)")
    p.set_defaults(handler=_cmd_process)


def _size(text: str) -> int:
    from pipeline.limits import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cmd_process(args: argparse.Namespace) -> int:
    from pipeline.run import ProcessOptions, process_inputs

    options = ProcessOptions(  # checks the combination: a UsageError (exit code 2) when it cannot work
        out_dir=args.out,
        db_path=args.db,
        jobs=args.jobs,
        restore=not args.no_restore,
        text_layer=args.text_layer,
        languages=args.lang,
        page_timeout=args.page_timeout,
        force=args.force,
        pdf=args.pdf,
        executor=args.executor,
        scheduler=args.scheduler,
        worker_memory=args.worker_memory,
    )
    summary = process_inputs(args.inputs, options)
    print(summary.format())
    return summary.exit_code


# --------------------------------------------------------------------------- restore


def _add_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("restore", help="repair diacritics of broken Vietnamese text (stdin or a file)")
    p.add_argument("file", nargs="?", default="-", help="text file, or - for stdin")
    p.add_argument("--json", action="store_true", help="per-token original, restored and confidence")
    p.set_defaults(handler=_cmd_restore)


def _read_text_arg(name: str) -> str:
    if name == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    from pipeline.ingest import read_text_file

    return read_text_file(Path(name))


def _cmd_restore(args: argparse.Namespace) -> int:
    from pipeline.restore import restore_text

    result = restore_text(_read_text_arg(args.file))
    if args.json:
        tokens = [
            {"original": t.original, "restored": t.restored, "confidence": round(t.confidence, 4)}
            for t in result.tokens
        ]
        json.dump({"text": result.text, "tokens": tokens}, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.text)
    return 0


# --------------------------------------------------------------------------- extract / schema


def _add_extract(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("extract", help="print the structured record of one document (text or scan) as JSON")
    p.add_argument("file", help="text file, scan or PDF; - for text on stdin")
    p.add_argument("--no-restore", action="store_true", help="extract from the text as given")
    p.set_defaults(handler=_cmd_extract)
    s = sub.add_parser("schema", help="print the JSON Schema of the record")
    s.set_defaults(handler=_cmd_schema)


def _cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.run import extract_file

    record = extract_file(args.file, restore=not args.no_restore)
    json.dump(record.to_dict(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from pipeline.extract import record_schema

    json.dump(record_schema(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


# --------------------------------------------------------------------------- search / show / export (archive)


def _iso_date(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _add_archive_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("search", help="find documents by reference (any spelling) or text (with/without diacritics)")
    p.add_argument("query", help='e.g. "539/QĐ-UBND", "539 qd ubnd", "nông thôn mới", "nong thon moi"')
    p.add_argument("--db", default=_default_db(), help=DB_HELP)
    p.add_argument("--json", action="store_true", help="print a JSON list of hits")
    p.add_argument("--type", help="document type, e.g. QĐ, KH, CV or Quyết định")
    p.add_argument("--issuer", help="part of the issuing body's name")
    p.add_argument("--from", dest="date_from", type=_iso_date, help="documents dated on or after this day")
    p.add_argument("--to", dest="date_to", type=_iso_date, help="documents dated on or before this day")
    p.add_argument("--place", help="province, district or commune named in the document")
    p.add_argument("--limit", type=int, default=20, help="at most this many hits (default 20)")
    p.set_defaults(handler=_cmd_search)

    s = sub.add_parser("show", help="print a document's record from the archive")
    s.add_argument("document", help="archive id, document code (any spelling) or content hash prefix")
    s.add_argument("--db", default=_default_db(), help=DB_HELP)
    s.add_argument("--text", action="store_true", help="print the document's final text instead")
    s.set_defaults(handler=_cmd_show)

    e = sub.add_parser("export", help="export the archive's tasks to a file or a webhook")
    e.add_argument("what", choices=("tasks",))
    e.add_argument("--db", default=_default_db(), help=DB_HELP)
    e.add_argument("--format", choices=("csv", "jsonl", "ics"), default="csv")
    e.add_argument("--since", type=_iso_date, help="tasks of documents dated on or after this day")
    e.add_argument("--out", type=Path, help="write here instead of standard output")
    e.add_argument("--webhook", metavar="URL", help="POST each task as JSON to this http(s) URL instead")
    e.set_defaults(handler=_cmd_export)

    m = sub.add_parser("migrate", help="copy an archive to another backend (SQLite ⇄ PostgreSQL), verified")
    m.add_argument("--from", dest="source", required=True, help="the archive to copy (left unchanged)")
    m.add_argument("--to", dest="target", required=True,
                   help="where to copy it, e.g. postgresql://USER@HOST/DATABASE (created when missing)")
    m.set_defaults(handler=_cmd_migrate)


def _cmd_search(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.search import SearchFilters, search

    if args.limit < 1:
        raise UsageError("--limit must be ≥ 1")
    filters = SearchFilters(type=args.type, issuer=args.issuer, date_from=args.date_from, date_to=args.date_to,
                            place=args.place)
    with open_archive(_archive(args), create=False) as archive:
        hits = search(archive, args.query, filters, limit=args.limit)
    if args.json:
        json.dump([hit.to_dict() for hit in hits], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    if not hits:
        print("congvan: no match", file=sys.stderr)
    for rank, hit in enumerate(hits, 1):
        about = " · ".join(x for x in (hit.code or "(no number)", hit.date, hit.type, hit.issuer) if x)
        why = {"issued": "the document itself", "cited": f"cites {hit.matched}", "text": "text match"}[hit.match]
        # what documents say is untrusted text: escaped, so that it cannot drive the terminal
        print(printable(f"{rank}. {about}  [{why}]"))
        print(printable(f"   {hit.source}, page {hit.page} (id {hit.id})"))
        print(printable(f"   {hit.snippet}"))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.errors import EXIT_USAGE, NotFoundError

    with open_archive(_archive(args), create=False) as archive:
        found = archive.lookup(args.document)
        if not found:
            raise NotFoundError(f"no document {args.document!r} in the archive", archive.location)
        if len(found) > 1:
            choices = ", ".join(f"{d.id} ({d.date or 'no date'}, {Path(d.source).name})" for d in found)
            print(printable(f"congvan: {args.document} matches several documents: {choices}; give an id"),
                  file=sys.stderr)
            return EXIT_USAGE
        document = found[0]
        if args.text:
            sys.stdout.write("\f".join(archive.page_texts(document.id)) + "\n")
            return 0
        data = {"id": document.id, "source": document.source, "name": document.name, "sha256": document.sha256,
                "pages": document.page_count, "record": archive.load_record(document.id).to_dict()}
    json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.export import iter_tasks, post_tasks, write_csv, write_ics, write_jsonl
    from pipeline.errors import ExportError

    if args.webhook and not args.webhook.lower().startswith(("http://", "https://")):
        raise UsageError("--webhook needs an http:// or https:// URL")
    with open_archive(_archive(args), create=False) as archive:
        rows = list(iter_tasks(archive, since=args.since))
    if args.webhook:
        report = post_tasks(rows, args.webhook)
        for uid, reason in report.failed:
            print(f"congvan: export failed: task {uid}: {reason}", file=sys.stderr)
        print(f"congvan: {report.sent} of {len(rows)} tasks sent to {args.webhook} ({report.attempts} requests)")
        if report.failed:
            raise ExportError(f"{len(report.failed)} of {len(rows)} tasks could not be delivered", args.webhook)
        return 0
    writer = {"csv": write_csv, "jsonl": write_jsonl, "ics": write_ics}[args.format]
    if args.out is None:
        writer(rows, sys.stdout)
        return 0
    import io

    from pipeline.archive.files import write_atomic

    buffer = io.StringIO(newline="")
    count = writer(rows, buffer)
    write_atomic(args.out, buffer.getvalue())
    print(f"congvan: {count} tasks written to {args.out}", file=sys.stderr)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.transfer import copy_archive

    def progress(done: int, total: int) -> None:
        if done == total or done % 1000 == 0:
            print(f"congvan: {done}/{total} documents", file=sys.stderr, flush=True)

    with open_archive(args.source, create=False) as source, open_archive(args.target) as target:
        if source.location == target.location:
            raise UsageError("--from and --to are the same archive")
        report = copy_archive(source, target, progress=progress)
    print(report.format())
    for mismatch in report.mismatches:
        print(f"congvan: archive error: {mismatch}", file=sys.stderr)
    if not report.verified:
        raise ArchiveError(f"{len(report.mismatches)} differences after copying", target.location)
    return 0


# --------------------------------------------------------------------------- serve / user (web interface)


def _add_web_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="the web interface over an archive (search, pages, review, tasks, intake, API)")
    p.add_argument("--db", default=_default_db(), help=DB_HELP)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--uploads", type=Path, help="folder for uploaded files (default: ARCHIVE-uploads next to it)")
    p.add_argument("--max-upload-mb", type=int, default=50, help="largest upload accepted (default 50 MB)")
    p.add_argument("--login-required", action="store_true", help="reading needs an account too")
    p.add_argument("--secure-cookies", action="store_true", help="session cookies only over HTTPS (behind a proxy)")
    p.add_argument("--jobs", type=int, default=1, help="pages processed in parallel for uploads")
    p.set_defaults(handler=_cmd_serve)

    u = sub.add_parser("user", help="manage the web interface's accounts")
    actions = u.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user, or change a user's role and password")
    add.add_argument("name")
    add.add_argument("--role", choices=("viewer", "editor", "admin"), required=True)
    add.add_argument("--db", default=_default_db(), help=DB_HELP)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    listing = actions.add_parser("list", help="list the users")
    listing.add_argument("--db", default=_default_db(), help=DB_HELP)
    u.set_defaults(handler=_cmd_user)


def _cmd_serve(args: argparse.Namespace) -> int:
    import socket

    if not 0 <= args.port < 65536:
        raise UsageError("--port must be between 0 (any free port) and 65535")
    if args.max_upload_mb < 1 or args.jobs < 1:
        raise UsageError("--max-upload-mb and --jobs must be ≥ 1")
    import uvicorn

    from pipeline.archive.store import redact_url
    from pipeline.web import WebConfig, create_app

    config = WebConfig(db=_archive(args), uploads=args.uploads, max_upload_bytes=args.max_upload_mb << 20,
                       login_required=args.login_required, secure_cookies=args.secure_cookies, jobs=args.jobs)
    app = create_app(config)
    try:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
    except (OSError, OverflowError) as error:
        raise CongvanError(f"cannot listen on {args.host}:{args.port}: {getattr(error, 'strerror', None) or error}") from None
    port = listener.getsockname()[1]  # --port 0: a free port chosen by the system
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{port}/"
    print(f"congvan: serving {redact_url(str(config.db))} at {where} (Ctrl-C stops)", file=sys.stderr, flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("congvan: warning: listening beyond this machine; use accounts and HTTPS (--secure-cookies behind a "
              "proxy)", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False))
    server.run(sockets=[listener])
    return 0


def _cmd_user(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive

    with open_archive(_archive(args), create=False) as archive:
        if args.action == "list":
            for user in archive.users():
                print(f"{user.name}\t{user.role}\t{user.created_at}")
            return 0
        from pipeline.web.auth import check_password_rules, hash_password

        password = _read_new_password(args.password_stdin)
        problem = check_password_rules(password)
        if problem:
            from pipeline.web.i18n import translate

            raise UsageError(translate("en", problem))
        user = archive.add_user(args.name, args.role, hash_password(password))
        location = archive.location
    print(f"congvan: user {user.name} ({user.role}) saved in {location}", file=sys.stderr)
    return 0


def _read_new_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the passwords differ")
    return first


# --------------------------------------------------------------------------- main


class _Parser(argparse.ArgumentParser):
    """argparse reporting a bad command line as congvan's one-line usage error (E001, exit code 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="congvan",
        description="Digitize archived Vietnamese official dispatches: scans and old OCR text become restored "
        "text, structured records and a searchable archive.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_process, _add_restore, _add_extract, _add_archive_commands, _add_web_commands):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(signal, "SIGXFSZ"):  # a file-size limit (ulimit -f) is reported like a full disk, not a kill
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except CongvanError as error:
        _print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("congvan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["build_parser", "main"]

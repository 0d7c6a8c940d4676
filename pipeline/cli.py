"""Command line of congvan: parse arguments, validate them once, call library functions, print results."""

from __future__ import annotations

import argparse
import io
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pipeline import __version__
from pipeline.config import CONFIG_NAME, ENV_DB, Config, require_db, resolve_db
from pipeline.errors import EXIT_INTERRUPTED, ArchiveError, CongvanError, UsageError

if TYPE_CHECKING:
    from pipeline.run.options import ProcessOptions


def _print_error(error: CongvanError) -> None:
    print(f"congvan: {error.label}: {error}", file=sys.stderr)


# --------------------------------------------------------------------------- process


def _add_archive_options(parser: argparse.ArgumentParser, db_help: str) -> None:
    parser.add_argument("--db", help=f"{db_help}: an SQLite file (or sqlite:///PATH) or postgresql://USER@HOST/DATABASE; "
                        f"default: ${ENV_DB}, or db in the --config file")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"settings file (default: {CONFIG_NAME} beside the archive, when there is one)")


def _archive_settings(args: argparse.Namespace) -> tuple[str | None, Config]:
    """The archive (--db, $CONGVAN_DB or the configuration's db) and the configuration that goes with it."""
    return resolve_db(args.db, args.config)


def _archive(args: argparse.Namespace) -> str:
    db, _ = _archive_settings(args)
    return require_db(db)


def _add_process(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("process", help="scan/PDF/Word/text files or folders → text, JSON records, archive")
    p.add_argument("inputs", nargs="+", type=Path, help="files or folders (walked recursively)")
    _add_archive_options(p, "the archive to add documents to")
    _add_processing_flags(p)
    p.set_defaults(handler=_cmd_process)

    w = sub.add_parser("watch", help="process files as they arrive in an inbox folder, keeping the originals")
    w.add_argument("inbox", nargs="?", type=Path, help="the folder to watch (default: [watch] inbox of the configuration)")
    _add_archive_options(w, "the archive (a file): originals are kept in originals/ beside it")
    _add_processing_flags(w)
    w.add_argument("--interval", type=float, help="seconds between looks at the inbox (default 2)")
    w.add_argument("--settle", type=float,
                   help="a file unchanged this many seconds (and not locked) is complete (default 3)")
    w.add_argument("--once", action="store_true", help="process what is in the inbox, then stop")
    w.set_defaults(handler=_cmd_watch)


def _add_processing_flags(p: argparse.ArgumentParser) -> None:
    from pipeline.defaults import PAGE_TIMEOUT_SECONDS, default_jobs
    from pipeline.limits import WORKER_MEMORY_SHARE
    from pipeline.run.options import ExecutorKind

    p.add_argument("--out", type=Path, help="write <stem>.txt and <stem>.json here")
    p.add_argument("--jobs", type=int, help=f"pages processed in parallel (default {default_jobs()}, one per CPU)")
    p.add_argument("--no-restore", dest="restore", action="store_false", default=None,
                   help="keep raw OCR text (skip diacritic restoration)")
    p.add_argument("--text-layer", action="store_true", default=None,
                   help="read every PDF page that has a text layer from it, no OCR (an old OCR layer is restored); "
                        "by default each page's source is chosen on evidence")
    p.add_argument("--lang", default=None, help="Tesseract languages (default: the measured best)")
    p.add_argument("--page-timeout", type=float,
                   help=f"seconds before a page's OCR is killed (default {PAGE_TIMEOUT_SECONDS:g})")
    p.add_argument("--force", action="store_true", help="redo documents already in the archive")
    p.add_argument("--pdf", action="store_true", default=None, help="also write a searchable PDF/A per document")
    p.add_argument("--executor", choices=[kind.value for kind in ExecutorKind], default=ExecutorKind.LOCAL.value)
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786")
    p.add_argument("--worker-memory", type=_size, metavar="SIZE",
                   help="data memory each local worker may use, e.g. 4G; 0 = no cap (default: "
                        f"{WORKER_MEMORY_SHARE * 100:.0f}%% of the machine's memory shared among the --jobs workers)")


def _size(text: str) -> int:
    from pipeline.limits import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _process_options(args: argparse.Namespace) -> ProcessOptions:
    """ProcessOptions from the command line, filled in from the [process] section of the configuration."""
    from pipeline.defaults import PAGE_TIMEOUT_SECONDS, default_jobs
    from pipeline.run.options import ProcessOptions

    db, config = _archive_settings(args)

    def setting(value: Any, name: str, default: Any) -> Any:
        if value is not None:
            return value
        configured = config.get("process", name)
        return default if configured is None else configured

    return ProcessOptions(  # checks the combination: a UsageError (exit code 2) when it cannot work
        out_dir=setting(args.out, "out", None),
        db_path=db,
        jobs=setting(args.jobs, "jobs", default_jobs()),
        restore=setting(args.restore, "restore", True),
        text_layer=setting(args.text_layer, "text_layer", False),
        languages=setting(args.lang, "lang", None),
        page_timeout=setting(args.page_timeout, "page_timeout", PAGE_TIMEOUT_SECONDS),
        force=args.force,
        pdf=setting(args.pdf, "pdf", False),
        executor=args.executor,
        scheduler=args.scheduler,
        worker_memory=args.worker_memory,
    )


def _cmd_process(args: argparse.Namespace) -> int:
    from pipeline.run import process_inputs

    options = _process_options(args)
    summary = process_inputs(args.inputs, options)
    print(summary.format())
    return summary.exit_code


def _cmd_watch(args: argparse.Namespace) -> int:
    from pipeline.run.watch import Watcher, WatchOptions

    options = _process_options(args)
    _, config = _archive_settings(args)
    inbox = args.inbox or config.get("watch", "inbox")
    if inbox is None:
        raise UsageError("give the inbox folder (congvan watch INBOX) or inbox = \"…\" in the [watch] section")

    def setting(value: float | None, name: str, default: float) -> float:
        configured = config.get("watch", name)
        return value if value is not None else default if configured is None else float(configured)

    watch = WatchOptions(inbox=Path(inbox), process=options, interval=setting(args.interval, "interval", 2.0),
                         settle=setting(args.settle, "settle", 3.0), once=args.once)
    return Watcher(watch).run()


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
    p.add_argument("query", help='e.g. "539/QĐ-UBND", "nông thôn mới", \'"nông thôn" OR đô thị -huyện tiêu*\'; '
                   '"" with filters lists documents')
    _add_archive_options(p, "the archive written by congvan process --db")
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
    _add_archive_options(s, "the archive")
    s.add_argument("--text", action="store_true", help="print the document's final text instead")
    s.add_argument("--json", action="store_true", help="print the record as JSON")
    s.set_defaults(handler=_cmd_show)

    e = sub.add_parser("export", help="export tasks (CSV, JSON lines, iCalendar, webhook) or a document register")
    e.add_argument("what", choices=("tasks", "incoming", "outgoing"),
                   help="tasks; incoming / outgoing: the Decree 30/2020 register (sổ đăng ký văn bản đến / đi)")
    _add_archive_options(e, "the archive")
    e.add_argument("--format", choices=("csv", "jsonl", "ics", "xlsx"), default="csv",
                   help="tasks: csv, jsonl or ics; registers: csv or xlsx (default csv; CSV opens in Excel)")
    e.add_argument("--since", type=_iso_date, help="tasks of documents dated on or after this day")
    e.add_argument("--from", dest="date_from", type=_iso_date, help="registers: documents dated on or after this day")
    e.add_argument("--to", dest="date_to", type=_iso_date, help="registers: documents dated on or before this day")
    e.add_argument("--type", help="registers: document type, e.g. QĐ, KH, CV")
    e.add_argument("--issuer", help="registers: part of the issuing body's name")
    e.add_argument("--out", type=Path, help="write here instead of standard output (a file, a link or a FIFO)")
    e.add_argument("--webhook", metavar="URL", nargs="?", const="",
                   help="POST each new or changed task as JSON to this http(s) URL (alone: [export] webhook of the "
                   "configuration)")
    e.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="an HTTP header for the webhook, e.g. 'Authorization: Bearer …' (repeatable)")
    e.add_argument("--resend", action="store_true", help="webhook: send every task, even those already delivered")
    e.set_defaults(handler=_cmd_export)

    m = sub.add_parser("migrate", help="copy an archive to another backend (SQLite ⇄ PostgreSQL), verified")
    m.add_argument("--from", dest="source", required=True, help="the archive to copy (left unchanged)")
    m.add_argument("--to", dest="target", required=True,
                   help="where to copy it, e.g. postgresql://USER@HOST/DATABASE (created when missing)")
    m.set_defaults(handler=_cmd_migrate)


def _cmd_search(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.describe import one_line
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
        why = {"issued": "the document itself", "cited": f"cites {hit.matched}", "text": "text match",
               "browse": "matches the filters"}[hit.match]
        # what documents say is untrusted text: escaped, so that it cannot drive the terminal
        print(f"{rank}. {one_line(about)}  [{one_line(why)}]")
        print(f"   {one_line(hit.source)}, page {hit.page} (id {hit.id})")
        if hit.snippet:
            print(f"   {one_line(hit.snippet)}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.citations import cited_by, citing_documents, resolve_references
    from pipeline.archive.describe import describe_citations, describe_document, one_line
    from pipeline.errors import EXIT_USAGE, NotFoundError

    with open_archive(_archive(args), create=False) as archive:
        found = archive.lookup(args.document)
        if not found:
            cited = citing_documents(archive, args.document)
            if cited:
                print(describe_citations(args.document, cited))
                count = len({doc.id for group in cited for doc in group.citing})
                raise NotFoundError(f"{one_line(args.document)} is not in the archive; {count} archived "
                                    f"document{'' if count == 1 else 's'} cite it (listed above)", archive.location)
            raise NotFoundError(f"no document {one_line(args.document)!r} in the archive", archive.location)
        if len(found) > 1:
            choices = ", ".join(f"{d.id} ({d.date or 'no date'}, {Path(d.source).name})" for d in found)
            print(f"congvan: {one_line(args.document)} matches several documents: {one_line(choices)}; give an id",
                  file=sys.stderr)
            return EXIT_USAGE
        document = found[0]
        if args.text:
            sys.stdout.write("\f".join(archive.page_texts(document.id)) + "\n")
            return 0
        record = archive.load_record(document.id)
        if args.json:
            data = {"id": document.id, "source": document.source, "name": document.name, "sha256": document.sha256,
                    "pages": document.page_count, "record": record.to_dict()}
            json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
            return 0
        references = resolve_references(archive, document.id, record.references)
        citing = cited_by(archive, document.id, document.code, document.date)
        print(describe_document(document, record, references, citing, archive.root))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.export import (
        build_register,
        iter_tasks,
        register_csv,
        register_xlsx,
        write_csv,
        write_ics,
        write_jsonl,
    )
    from pipeline.archive.store import SearchFilters

    allowed = ("csv", "jsonl", "ics") if args.what == "tasks" else ("csv", "xlsx")
    if args.format not in allowed:
        raise UsageError(f"export {args.what} writes {' or '.join(allowed)}, not {args.format}")
    if args.what == "tasks" and args.webhook is not None:
        return _post_webhook(args)
    if args.webhook is not None or args.header or args.resend:
        raise UsageError("--webhook, --header and --resend go with export tasks")
    if args.format == "xlsx" and args.out is None and sys.stdout.isatty():
        raise UsageError("an XLSX workbook needs --out FILE (or standard output redirected to a file)")
    with open_archive(_archive(args), create=False) as archive:
        if args.what == "tasks":
            text = io.StringIO(newline="")
            writer = {"csv": write_csv, "jsonl": write_jsonl, "ics": write_ics}[args.format]
            count = writer(iter_tasks(archive, since=args.since), text)
            data, noun = text.getvalue().encode("utf-8"), "tasks"
        else:
            filters = SearchFilters(type=args.type, issuer=args.issuer, date_from=args.date_from, date_to=args.date_to)
            register = build_register(args.what, archive.documents(filters, order="added"))
            data = register_xlsx(register) if args.format == "xlsx" else register_csv(register)
            count, noun = len(register.rows), "documents"
    if args.out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    from pipeline.archive.files import write_output

    write_output(args.out, data)
    print(f"congvan: {count} {noun} written to {args.out}", file=sys.stderr)
    return 0


def _post_webhook(args: argparse.Namespace) -> int:
    from pipeline.archive import open_archive
    from pipeline.archive.export import iter_tasks
    from pipeline.archive.webhook import parse_endpoint, parse_headers, post_tasks
    from pipeline.errors import ExportError

    if args.out is not None or args.format != "csv":
        raise UsageError("--webhook sends JSON: it goes without --out and --format")
    db, config = _archive_settings(args)
    url = args.webhook or config.get("export", "webhook")
    if not url:
        raise UsageError("--webhook needs a URL (or webhook = \"…\" in the [export] section of the configuration)")
    endpoint = parse_endpoint(url)
    headers = {**(config.get("export", "headers") or {}), **parse_headers(args.header)}
    with open_archive(require_db(db), create=False) as archive:
        rows = list(iter_tasks(archive, since=args.since))
        delivered = {} if args.resend else archive.deliveries(endpoint.key)
        report = post_tasks(rows, url, headers=headers, delivered=delivered,
                            on_delivered=lambda uid, digest: archive.record_delivery(endpoint.key, uid, digest))
    for uid, reason in report.failed:
        print(f"congvan: export failed: task {uid}: {reason}", file=sys.stderr)
    unchanged = f", {report.unchanged} unchanged since the last delivery" if report.unchanged else ""
    print(f"congvan: {report.sent} of {len(rows)} tasks sent to {endpoint.display}{unchanged} "
          f"({report.attempts} requests, {report.seconds:.1f} s)")
    if report.failed:
        why = " (the endpoint is down: circuit breaker open)" if report.circuit_open else ""
        raise ExportError(f"{len(report.failed)} of {len(rows)} tasks could not be delivered{why}", endpoint.display)
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
    _add_archive_options(p, "the archive written by congvan process --db")
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
    _add_archive_options(add, "the archive")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    listing = actions.add_parser("list", help="list the users")
    _add_archive_options(listing, "the archive")
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


class _VersionAction(argparse.Action):
    """--version, asking Tesseract and OCRmyPDF for theirs only when it is given."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from pipeline.ocr import tesseract_version

        try:
            ocrmypdf = version("ocrmypdf")
        except PackageNotFoundError:
            ocrmypdf = "not installed"
        print(f"congvan {__version__} (Tesseract {tesseract_version()}, OCRmyPDF {ocrmypdf})")
        parser.exit()


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
    parser.add_argument("--version", action=_VersionAction, help="print the versions of congvan, Tesseract and OCRmyPDF")
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

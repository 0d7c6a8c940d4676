"""Command line of congvan: parse arguments, validate them once, call library functions, print results."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import EXIT_INTERRUPTED, CongvanError


def _print_error(error: CongvanError) -> None:
    print(f"congvan: {error.label}: {error}", file=sys.stderr)


# --------------------------------------------------------------------------- process


def _add_process(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("process", help="scan/PDF/text files or folders → text, JSON records, archive")
    p.add_argument("inputs", nargs="+", type=Path, help="files or folders (walked recursively)")
    p.add_argument("--out", type=Path, help="write <stem>.txt and <stem>.json here")
    p.add_argument("--db", type=Path, help="SQLite archive to add documents to")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pages processed in parallel")
    p.add_argument("--no-restore", action="store_true", help="keep raw OCR text (skip diacritic restoration)")
    p.add_argument("--text-layer", action="store_true", help="restore a PDF's existing text layer, no OCR")
    p.add_argument("--lang", default=None, help="Tesseract languages (default: the measured best)")
    p.add_argument("--page-timeout", type=float, default=180.0, help="seconds before a page's OCR is killed")
    p.add_argument("--force", action="store_true", help="redo documents already in the archive")
    p.add_argument("--pdf", action="store_true", help="also write a searchable PDF per document")
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786")
    p.set_defaults(handler=_cmd_process)


def _cmd_process(args: argparse.Namespace) -> int:
    from pipeline.run import ProcessOptions, process_inputs

    if args.out is None and args.db is None:
        raise SystemExit("congvan process: give --out DIR and/or --db FILE")
    if args.jobs < 1:
        raise SystemExit("congvan process: --jobs must be ≥ 1")
    if args.executor == "dask" and not args.scheduler:
        raise SystemExit("congvan process: --executor dask needs --scheduler tcp://HOST:PORT")
    if args.pdf and args.out is None:
        raise SystemExit("congvan process: --pdf needs --out DIR")
    if args.page_timeout <= 0:
        raise SystemExit("congvan process: --page-timeout must be > 0")
    options = ProcessOptions(
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
    )
    summary = process_inputs(args.inputs, options)
    print(summary.format())
    return summary.exit_code


# --------------------------------------------------------------------------- restore


def _add_restore(sub: argparse._SubParsersAction) -> None:
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


def _add_extract(sub: argparse._SubParsersAction) -> None:
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


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="congvan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_process, _add_restore, _add_extract):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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

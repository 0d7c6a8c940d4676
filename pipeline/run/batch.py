"""A batch: identify the inputs, run their pages through the engine, write each finished document's outputs
(files atomically, then its archive entry in one transaction) and summarise what became of every input."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from pipeline.archive.files import remove_stale_temporaries
from pipeline.archive.store import ArchiveStore, StoredDocument
from pipeline.defaults import default_jobs
from pipeline.errors import CongvanError, InputError, UsageError, os_error_reason
from pipeline.limits import default_worker_memory
from pipeline.run.engine import DocumentInFlight, Engine
from pipeline.run.executors import LocalExecutor, make_executor
from pipeline.run.inputs import collect_inputs
from pipeline.run.naming import OutputNamer
from pipeline.run.options import PageSettings, ProcessOptions
from pipeline.run.outcomes import BatchSummary, DocumentOutcome, DocumentStatus
from pipeline.run.progress import Progress, describe
from pipeline.run.stages import Stages
from pipeline.run.worker import (
    PAGE_TEMP_PREFIX,
    ExtractedDocument,
    PageTask,
    StoreRequest,
    finished_document,
    internal_error,
    result_json,
    run_text_page,
)
from pipeline.types import DocumentInfo, DocumentKind, Record


def process_inputs(paths: Iterable[Path], options: ProcessOptions, *, stages: Stages | None = None) -> BatchSummary:
    """Process files and folders: per document, its pages in parallel, then its record; write the results
    (--out), the searchable PDF (--pdf) and the archive entry (--db). One bad file never stops the batch."""
    stages = stages or Stages.default()
    started = time.monotonic()
    summary = BatchSummary()
    if options.out_dir is not None:
        _make_output_folder(options.out_dir)
        remove_stale_temporaries(options.out_dir)
    remove_stale_temporaries(Path(tempfile.gettempdir()), PAGE_TEMP_PREFIX)
    files, input_errors, skipped = collect_inputs(paths, exclude=[p for p in (options.out_dir,) if p is not None])
    for error in input_errors:
        summary.outcomes.append(DocumentOutcome(error.path or "", DocumentStatus.FAILED, error=error))
        print(describe(error), file=sys.stderr, flush=True)
    summary.outcomes += [DocumentOutcome(str(path), DocumentStatus.SKIPPED, reason=reason) for path, reason in skipped]

    archive: ArchiveStore | None = None
    if options.db_path is not None:
        from pipeline.archive import open_archive

        archive = open_archive(options.db_path)
    try:
        documents = _open_documents(files, options, stages, archive, summary)
        if not documents:
            return summary
        if any(not doc.info.kind.is_text for doc in documents):
            stages.check_tesseract(options.languages)
        _run_documents(documents, options, stages, archive, summary)
    finally:
        if archive is not None:
            archive.close()
        summary.seconds = time.monotonic() - started
    return summary


def _make_output_folder(folder: Path) -> None:
    """Create the --out folder, or say in one line why it cannot be (a bad option value: E001)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError("--out names a file, not a folder", folder) from None
    except OSError as error:
        raise UsageError(f"--out: cannot create the output folder: {os_error_reason(error)}", folder) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError("--out: the output folder is not writable", folder)


def _open_documents(files: list[Path], options: ProcessOptions, stages: Stages, archive: ArchiveStore | None,
                    summary: BatchSummary) -> list[DocumentInFlight]:
    """Identify and hash every input first: bad files fail early, finished ones are skipped, and the page
    total (for the ETA) is known."""
    namer = OutputNamer(options.out_dir)
    documents: list[DocumentInFlight] = []
    for path in files:
        try:
            info = stages.open_document(path)
        except Exception as error:
            failure = error if isinstance(error, CongvanError) else internal_error(error, str(path), "opening")
            summary.outcomes.append(DocumentOutcome(str(path), DocumentStatus.FAILED, error=failure))
            print(describe(failure), file=sys.stderr, flush=True)
            continue
        name = namer.claim(path)
        if archive is not None and not options.force:
            stored = archive.find_document(info.sha256)
            if stored is not None:
                _restore_outputs(archive, stored, name, path, options)
                summary.outcomes.append(
                    DocumentOutcome(str(path), DocumentStatus.SKIPPED, name=name, pages=stored.page_count,
                                    reason=f"already in the archive as document {stored.id} (use --force to redo)")
                )
                continue
        documents.append(DocumentInFlight(path=path, info=info, name=name, store=_store_request(options, info, name)))
    return documents


def _settings(options: ProcessOptions) -> dict[str, object]:
    """The settings recorded in each result JSON."""
    return {"restore": options.restore, "text_layer": options.text_layer, "languages": options.languages,
            "page_timeout": options.page_timeout}


def _store_request(options: ProcessOptions, info: DocumentInfo, name: str) -> StoreRequest | None:
    """Dask workers store finished documents in an archive server themselves: the results go from the
    cluster straight into the database instead of through this process."""
    from pipeline.archive.store import is_server_location

    if options.executor != "dask" or options.db_path is None or not is_server_location(options.db_path):
        return None
    return StoreRequest(str(options.db_path), name, _settings(options))


def _restore_outputs(archive: ArchiveStore, stored: StoredDocument, name: str, path: Path,
                     options: ProcessOptions) -> None:
    """A skipped document still gets its --out files, from the archive, when they are missing (the JSON's
    source is the input of this run: the archive may hold it relative to its own folder)."""
    if options.out_dir is None:
        return
    import json

    from pipeline.archive.files import dumps_json, write_atomic

    json_path = options.out_dir / f"{name}.json"
    text_path = options.out_dir / f"{name}.txt"
    if json_path.exists() and text_path.exists():
        return
    result_json, text = archive.load_result(stored.id)
    data = json.loads(result_json)
    if isinstance(data, dict) and "source" in data:
        data["source"] = str(path.resolve())
        result_json = dumps_json(data)
    write_atomic(text_path, text)
    write_atomic(json_path, result_json)


def _run_documents(documents: list[DocumentInFlight], options: ProcessOptions, stages: Stages, archive: ArchiveStore | None,
                   summary: BatchSummary) -> None:
    progress = Progress(len(documents), sum(doc.info.page_count for doc in documents), bar=options.progress)
    executor = make_executor(options)
    engine = Engine(executor, options.page_settings(), stages, options.jobs, progress)
    finished = False
    try:
        for document, value in engine.run(documents):
            if isinstance(value, CongvanError):
                outcome = DocumentOutcome(document.source, DocumentStatus.FAILED, name=document.name, error=value)
                progress.message(describe(value))
            else:
                outcome = _finish_document(document, value, options, stages, archive)
                if outcome.error is not None:
                    progress.message(describe(outcome.error))
            document.pages.clear()  # a finished document's pages are on disk now: keep memory flat
            document.texts = None
            summary.outcomes.append(outcome)
            progress.document_finished(outcome)
        finished = True
    finally:
        engine.cancel_all()
        if finished:
            executor.close()
        else:
            executor.abort()
        progress.close()


def _finish_document(document: DocumentInFlight, extracted: ExtractedDocument, options: ProcessOptions,
                     stages: Stages, archive: ArchiveStore | None) -> DocumentOutcome:
    """Write the outputs of a finished document: files first (atomically), the archive entry last (one
    transaction), so that an interruption at any point leaves either nothing or the whole document. A
    document a worker stored already gets its files after (a re-run restores missing files from the archive)."""
    from pipeline.archive.files import write_atomic

    pages = [document.pages[i] for i in range(document.page_count)]
    result = finished_document(str(document.path.resolve()), document.info.sha256, pages, extracted)
    seconds = time.monotonic() - document.started
    try:
        document_json = result_json(result, document.info.kind, _settings(options))
        if options.out_dir is not None:
            write_atomic(options.out_dir / f"{document.name}.txt", result.text)
            write_atomic(options.out_dir / f"{document.name}.json", document_json)
            if options.pdf and not document.info.kind.is_text:
                from pipeline.archive.pdf import searchable_pdf_path

                target = searchable_pdf_path(options.out_dir, document.name, document.path)
                for warning in stages.write_pdf(document.path, result, target, image_dpi=pages[0].dpi,
                                                jobs=options.jobs):
                    print(f"congvan: warning: {document.source}: {warning}", file=sys.stderr, flush=True)
        if archive is not None and extracted.document_id is None:  # not stored by a worker already
            archive.add_document(result, name=document.name, kind=document.info.kind, result_json=document_json)
    except CongvanError as error:
        return DocumentOutcome(document.source, DocumentStatus.FAILED, name=document.name, error=error)
    except OSError as error:
        failure = CongvanError(f"cannot write results: {os_error_reason(error)}", document.source)
        return DocumentOutcome(document.source, DocumentStatus.FAILED, name=document.name, error=failure)
    return DocumentOutcome(document.source, DocumentStatus.DONE, name=document.name, pages=len(pages), seconds=seconds)


# --------------------------------------------------------------------------- one document, for `congvan extract`


def extract_file(name: str, restore: bool = True, *, stages: Stages | None = None) -> Record:
    """The record of one text file, scan or PDF ('-' = text on stdin), without writing anything."""
    stages = stages or Stages.default()
    settings = PageSettings(restore=restore)
    if name == "-":
        text = unicodedata.normalize("NFC", sys.stdin.buffer.read().decode("utf-8", errors="replace"))
        pages = [run_text_page(PageTask("-", i, DocumentKind.TEXT, settings, stages, t)).result
                 for i, t in enumerate(text.split("\f"))]
        return stages.extract_record("\f".join(p.text for p in pages), pages)
    path = Path(name)
    if path.is_dir() or not path.exists():
        raise InputError("no such file" if not path.exists() else "is a folder, not a document", path)
    info = stages.open_document(path)
    if not info.kind.is_text:
        stages.check_tesseract(None)
    document = DocumentInFlight(path=path, info=info, name=path.stem)
    jobs = default_jobs()
    progress = Progress(1, info.page_count, bar=False, stream=io.StringIO())
    workers = max(1, min(jobs, info.page_count))
    executor = LocalExecutor(workers, default_worker_memory(workers))
    engine = Engine(executor, settings, stages, jobs, progress)
    try:
        for _, value in engine.run([document]):
            if isinstance(value, CongvanError):
                raise value
            return value.record
    finally:
        engine.cancel_all()
        executor.close()
        progress.close()
    raise CongvanError("no result", path)  # pragma: no cover - the engine always yields the document

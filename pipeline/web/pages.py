"""The HTML pages: search, document, editor, review queue, tasks, intake, history, users, login, language.
Handlers parse and check their input, call the store and library, and render a template."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pipeline.archive.export import write_csv, write_ics
from pipeline.archive.review import CORRECTABLE_FIELDS, LIST_FIELDS, field_value
from pipeline.archive.store import (
    ROLES,
    DocumentCard,
    SearchFilters,
    StoredDocument,
    TaskFilters,
    source_path,
)
from pipeline.errors import CongvanError, NotFoundError, TooLargeError
from pipeline.types import DocumentKind, Record
from pipeline.web import auth
from pipeline.web.app import (
    LANGUAGE_COOKIE,
    Context,
    WebError,
    check_csrf,
    context,
    local_path,
    render,
    require,
    url,
)
from pipeline.web.files import media_type, original_file, safe_upload_name, searchable_pdf
from pipeline.web.i18n import LANGUAGES
from pipeline.web.intake import save_upload
from pipeline.web.views import (
    PAGE_SIZE,
    ZOOMS,
    InputProblem,
    clean_query,
    clean_text,
    document_view,
    hit_boxes,
    positive_int,
    record_rows,
    run_search,
    search_filters,
    task_filters,
)

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
TASKS_PAGE = 50
INTAKE_SHOWN = 100


def _card(ctx: Context, document_id: int) -> DocumentCard:
    card = ctx.store.cards([document_id]).get(document_id)
    if card is None:
        raise NotFoundError(f"no document {document_id}")
    return card


def _stored(card: DocumentCard, root: Path | None) -> StoredDocument:
    """The card's document with its source as a path to open (a source stored relative to the archive's
    folder is looked for there, wherever the folder is now)."""
    return StoredDocument(card.id, card.sha256, str(source_path(card.source, root)), card.name,
                          DocumentKind(card.kind), card.page_count, card.code, card.date, card.place)


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


def _download_name(card: DocumentCard, suffix: str) -> str:
    return safe_upload_name(f"{card.name}{suffix}")


def _attachment(name: str) -> dict[str, str]:
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


# --------------------------------------------------------------------------- search


@router.get("/", response_class=HTMLResponse)
def search_page(ctx: Ctx) -> HTMLResponse:
    params = dict(ctx.request.query_params)
    problem = None
    try:
        query = clean_query(params.get("q"))
        filters = search_filters(params)
        page = positive_int(params.get("page"), 1, 10_000)
    except InputProblem as error:
        problem, query, page, filters = error, "", 1, SearchFilters()
    sort = params.get("sort") or ("relevance" if query else "date")
    result = run_search(ctx.store, query, filters, sort=sort, page=page)
    return render(ctx, "search.html", result=result, query=query, filters=filters, problem=problem,
                  status=400 if problem else 200)


# --------------------------------------------------------------------------- documents


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(ctx: Ctx, document_id: int) -> HTMLResponse:
    card = _card(ctx, document_id)
    params = ctx.request.query_params
    query = clean_query(params.get("q"))
    page = min(positive_int(params.get("page"), 1, 100_000), max(1, card.page_count))
    zoom = int(params.get("zoom") or 100) if (params.get("zoom") or "100").isdigit() else 100
    zoom = zoom if zoom in ZOOMS else 100
    view = document_view(ctx.store, card)
    pages = ctx.request.app.state.results.pages(ctx.store, card.id, card.sha256)
    words = pages[page - 1] if page - 1 < len(pages) else None
    has_image = card.kind != "text" and words is not None and words.width > 0 and _original_exists(card, ctx.store.root)
    boxes = hit_boxes(words, query) if words is not None and has_image else []
    hit_pages = [n + 1 for n, page_words in enumerate(pages) if query and hit_boxes(page_words, query)]
    tasks = ctx.store.task_board(TaskFilters(document_id=card.id), limit=None)[1]
    return render(ctx, "document.html", card=card, view=view, query=query, page=page, zoom=zoom,
                  words=words, boxes=boxes, has_image=has_image, hit_pages=hit_pages, rows=record_rows(view.record_data),
                  tasks=tasks, corrections=ctx.store.corrections(card.id), zooms=ZOOMS,
                  text=view.page_texts[page - 1] if page - 1 < len(view.page_texts) else "")


def _original_exists(card: DocumentCard, root: Path | None) -> bool:
    try:
        original_file(_stored(card, root))
    except NotFoundError:
        return False
    return True


@router.get("/documents/{document_id}/pages/{number}.png")
def page_image(ctx: Ctx, document_id: int, number: int, width: int = 1000) -> Response:
    card = _card(ctx, document_id)
    data = ctx.request.app.state.images.png(_stored(card, ctx.store.root), number - 1, width)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/documents/{document_id}/original")
def original(ctx: Ctx, document_id: int) -> Response:
    card = _card(ctx, document_id)
    stored = _stored(card, ctx.store.root)
    path = original_file(stored)
    return Response(path.read_bytes(), media_type=media_type(stored),
                    headers=_attachment(safe_upload_name(Path(card.source).name)))


@router.get("/documents/{document_id}/searchable.pdf")
def searchable(ctx: Ctx, document_id: int) -> Response:
    card = _card(ctx, document_id)
    if card.kind == "text":
        raise NotFoundError("a text document has no page images")
    result_json, _ = ctx.store.load_result(card.id)
    data = searchable_pdf(_stored(card, ctx.store.root), json.loads(result_json))
    return Response(data, media_type="application/pdf", headers=_attachment(_download_name(card, ".pdf")))


@router.get("/documents/{document_id}/record.json")
def record_json(ctx: Ctx, document_id: int) -> Response:
    from pipeline.web.api import document_data

    card = _card(ctx, document_id)
    body = json.dumps(document_data(ctx.store, card), ensure_ascii=False, indent=1) + "\n"
    return Response(body, media_type="application/json", headers=_attachment(_download_name(card, ".json")))


@router.get("/documents/{document_id}/text.txt")
def text_file(ctx: Ctx, document_id: int) -> Response:
    card = _card(ctx, document_id)
    text = "\f".join(ctx.store.page_texts(card.id)) + "\n"
    return PlainTextResponse(text, headers=_attachment(_download_name(card, ".txt")))


# --------------------------------------------------------------------------- corrections


@router.get("/documents/{document_id}/edit", response_class=HTMLResponse)
def edit_page(ctx: Ctx, document_id: int) -> HTMLResponse:
    require(ctx, "edit")
    card = _card(ctx, document_id)
    return _render_editor(ctx, card, {}, [])


def _render_editor(ctx: Context, card: DocumentCard, submitted: dict[str, str], errors: list[str]) -> HTMLResponse:
    record = ctx.store.load_record(card.id)
    result_json, _ = ctx.store.load_result(card.id)
    extracted_data = json.loads(result_json).get("record")
    extracted = Record.from_dict(extracted_data) if isinstance(extracted_data, dict) else None
    fields = []
    for name in CORRECTABLE_FIELDS:
        current = field_value(record, name) or ""
        original = field_value(extracted, name) if extracted is not None else None
        fields.append({"name": name, "value": submitted.get(name, current), "original": original,
                       "changed": extracted is not None and (original or "") != current,
                       "multiline": name in LIST_FIELDS or name == "subject"})
    return render(ctx, "edit.html", status=400 if errors else 200, card=card, fields=fields, errors=errors,
                  corrections=ctx.store.corrections(card.id))


@router.post("/documents/{document_id}/edit", response_class=HTMLResponse)
async def edit_submit(ctx: Ctx, document_id: int) -> Response:
    user = require(ctx, "edit")
    form = await ctx.request.form()
    check_csrf(ctx, str(form.get(auth.CSRF_FIELD) or ""))
    card = _card(ctx, document_id)
    record = ctx.store.load_record(card.id)
    submitted = {name: str(form.get(name) or "") for name in CORRECTABLE_FIELDS if name in form}
    errors: list[str] = []
    changes: list[tuple[str, str | None]] = []
    for name, value in submitted.items():
        current = field_value(record, name) or ""
        normalized = value.replace("\r\n", "\n").strip()
        if normalized != current.strip() or form.get(f"confirm:{name}"):
            changes.append((name, normalized or None))
    for name, new in changes:
        try:
            ctx.store.add_correction(card.id, name, new, user=user.name)
        except CongvanError as error:
            errors.append(f"{ctx.t('field.' + name)}: {error.message}")
    if errors:
        return _render_editor(ctx, card, submitted, errors)
    return _redirect(local_path(str(form.get("next") or ""), f"/documents/{card.id}"))


@router.post("/documents/{document_id}/confirm")
async def confirm_field(ctx: Ctx, document_id: int) -> Response:
    """Confirm that an extracted field is right (the review queue's one-click check)."""
    user = require(ctx, "edit")
    form = await ctx.request.form()
    check_csrf(ctx, str(form.get(auth.CSRF_FIELD) or ""))
    card = _card(ctx, document_id)
    name = str(form.get("field") or "")
    if name not in CORRECTABLE_FIELDS:
        raise WebError(400, "error.bad_request")
    current = field_value(ctx.store.load_record(card.id), name)
    ctx.store.add_correction(card.id, name, current, user=user.name)
    return _redirect(local_path(str(form.get("next") or ""), "/review"))


@router.get("/review", response_class=HTMLResponse)
def review_page(ctx: Ctx) -> HTMLResponse:
    page = positive_int(ctx.request.query_params.get("page"), 1, 100_000)
    total, cards = ctx.store.review_queue(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(ctx, "review.html", total=total, cards=cards, page=page, pages=max(1, -(-total // PAGE_SIZE)))


@router.get("/history", response_class=HTMLResponse)
def history_page(ctx: Ctx) -> HTMLResponse:
    changes = ctx.store.recent_corrections(200)
    cards = ctx.store.cards({c.document_id for c in changes if c.document_id is not None})
    return render(ctx, "history.html", changes=changes, cards=cards)


# --------------------------------------------------------------------------- tasks


@router.get("/tasks", response_class=HTMLResponse)
def tasks_page(ctx: Ctx) -> HTMLResponse:
    params = dict(ctx.request.query_params)
    filters = task_filters(params)
    page = positive_int(params.get("page"), 1, 100_000)
    total, rows = ctx.store.task_board(filters, limit=TASKS_PAGE, offset=(page - 1) * TASKS_PAGE)
    cards = ctx.store.cards({row.document_id for row in rows})
    export_params = {k: v for k, v in params.items() if k != "page"}
    return render(ctx, "tasks.html", rows=rows, total=total, cards=cards, filters=filters, page=page,
                  pages=max(1, -(-total // TASKS_PAGE)), today=date.today().isoformat(),
                  csv_url=url("/tasks/export.csv", **export_params), ics_url=url("/tasks/export.ics", **export_params))


@router.post("/tasks/{uid}/status")
async def task_status(ctx: Ctx, uid: str) -> Response:
    user = require(ctx, "edit")
    form = await ctx.request.form()
    check_csrf(ctx, str(form.get(auth.CSRF_FIELD) or ""))
    ctx.store.set_task_status(uid, str(form.get("status") or ""), user=user.name)
    return _redirect(local_path(str(form.get("next") or ""), "/tasks"))


@router.get("/tasks/export.{kind}")
def task_export(ctx: Ctx, kind: str) -> Response:
    if kind not in ("csv", "ics"):
        raise NotFoundError(f"no export format {kind}")
    filters = task_filters(dict(ctx.request.query_params))
    _, rows = ctx.store.task_board(filters, limit=None)
    buffer = io.StringIO(newline="")
    (write_csv if kind == "csv" else write_ics)(rows, buffer)
    media = "text/csv; charset=utf-8" if kind == "csv" else "text/calendar; charset=utf-8"
    return Response(buffer.getvalue().encode("utf-8"), media_type=media, headers=_attachment(f"congvan-tasks.{kind}"))


# --------------------------------------------------------------------------- intake


@router.get("/intake", response_class=HTMLResponse)
def intake_page(ctx: Ctx) -> HTMLResponse:
    jobs = ctx.store.intake_jobs(INTAKE_SHOWN)
    busy = any(job.status in ("queued", "running") for job in jobs)
    limit_mb = ctx.request.app.state.config.max_upload_bytes >> 20
    return render(ctx, "intake.html", jobs=jobs, busy=busy, limit_mb=limit_mb)


@router.post("/intake")
async def intake_upload(ctx: Ctx) -> Response:
    user = require(ctx, "edit")
    config = ctx.request.app.state.config
    form = await ctx.request.form(max_files=50)
    check_csrf(ctx, str(form.get(auth.CSRF_FIELD) or ""))
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile) and item.filename]
    if not files:
        raise WebError(400, "error.no_file")

    def save_all() -> None:  # on a worker thread: copying files must not hold up the event loop
        for item in files:
            save_upload(ctx.store, config.upload_dir, item.filename or "upload", item.file,
                        limit=config.max_upload_bytes, user=user.name)

    try:
        await run_in_threadpool(save_all)
    except TooLargeError:
        raise WebError(413, "error.too_large") from None
    ctx.request.app.state.worker.notify()
    return _redirect("/intake")


# --------------------------------------------------------------------------- users and sessions


@router.get("/login", response_class=HTMLResponse)
def login_page(ctx: Ctx) -> HTMLResponse:
    token = ctx.request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_token()
    response = render(ctx, "login.html", login_csrf=token, next=local_path(ctx.request.query_params.get("next")),
                      failed=False)
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=ctx.request.app.state.config.secure_cookies)
    return response


@router.post("/login")
async def login_submit(ctx: Ctx, name: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=2000)],
                       csrf: Annotated[str, Form(max_length=200)], next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    if not auth.same_token(ctx.request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf):
        raise WebError(403, "error.csrf")
    brake: auth.LoginBrake = ctx.request.app.state.brake
    client = f"ip:{ctx.request.client.host if ctx.request.client else '?'}"
    if brake.blocked(f"user:{name}", client):
        raise WebError(429, "error.login_blocked")
    user = ctx.store.user(name)
    if not auth.verify_password(user, password) or user is None:
        brake.failed(f"user:{name}", client)
        response = render(ctx, "login.html", status=401, login_csrf=csrf, next=local_path(next), failed=True)
        return response
    brake.succeeded(f"user:{name}", client)
    token, _ = auth.start_session(ctx.store, user)
    redirect = _redirect(local_path(next))
    redirect.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=ctx.request.app.state.config.secure_cookies, max_age=auth.SESSION_HOURS * 3600)
    return redirect


@router.post("/logout")
async def logout(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    check_csrf(ctx, str(form.get(auth.CSRF_FIELD) or ""))
    token = ctx.request.cookies.get(auth.SESSION_COOKIE)
    if token:
        ctx.store.delete_session(auth.token_hash(token))
    response = _redirect("/")
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


@router.get("/users", response_class=HTMLResponse)
def users_page(ctx: Ctx) -> HTMLResponse:
    require(ctx, "admin")
    return render(ctx, "users.html", users=ctx.store.users(), roles=ROLES, error=None)


@router.post("/users")
async def users_submit(ctx: Ctx) -> Response:
    require(ctx, "admin")
    form = await ctx.request.form()
    check_csrf(ctx, str(form.get(auth.CSRF_FIELD) or ""))
    name = clean_text(str(form.get("name") or ""), 64)
    role = str(form.get("role") or "")
    password = str(form.get("password") or "")
    error = None if name and role in ROLES else "error.bad_request"
    error = error or auth.check_password_rules(password)
    if error:
        return render(ctx, "users.html", status=400, users=ctx.store.users(), roles=ROLES, error=error)
    ctx.store.add_user(name, role, auth.hash_password(password))
    return _redirect("/users")


@router.get("/lang/{language}")
def set_language(request: Request, language: str, next: str = "/") -> Response:
    if language not in LANGUAGES:
        raise NotFoundError(f"no language {language}")
    response = _redirect(local_path(next))
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
    return response

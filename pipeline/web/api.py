"""The REST API under /api (described at /api/openapi.json): search, documents, records, pages, tasks,
corrections. Records have the JSON schema of the CLI (`congvan schema`); writes need an editor's session and
its CSRF token in the X-CSRF-Token header (POST /api/session gives both)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from pipeline.archive.store import ArchiveStore, DocumentCard
from pipeline.errors import NotFoundError
from pipeline.web import auth
from pipeline.web.app import Context, WebError, check_csrf, context, require
from pipeline.web.pages import _card, _stored
from pipeline.web.views import (
    PAGE_SIZE,
    clean_query,
    hit_boxes,
    positive_int,
    run_search,
    search_filters,
    task_filters,
)

router = APIRouter(prefix="/api", tags=["archive"])
Ctx = Annotated[Context, Depends(context)]


class CorrectionIn(BaseModel):
    field: str = Field(description="a correctable record field, e.g. code, date, issuer, signer.name, recipients")
    value: str | None = Field(description="the new value (recipients: one per line); null clears the field")


class StatusIn(BaseModel):
    status: str = Field(description='"open" or "done"')


class Credentials(BaseModel):
    name: str = Field(max_length=200)
    password: str = Field(max_length=2000)


def card_data(card: DocumentCard) -> dict[str, Any]:
    return {"id": card.id, "sha256": card.sha256, "source": card.source, "name": card.name, "kind": card.kind,
            "pages": card.page_count, "code": card.code, "type": card.type, "type_name": card.type_name,
            "issuer": card.issuer, "parent_issuer": card.parent_issuer, "place": card.place, "date": card.date,
            "subject": card.subject, "review": list(card.review), "tasks": card.task_count, "added_at": card.added_at}


def document_data(store: ArchiveStore, card: DocumentCard) -> dict[str, Any]:
    """A document as `congvan show` prints it: id, source, name, sha256, pages and the (corrected) record."""
    return {"id": card.id, "source": card.source, "name": card.name, "sha256": card.sha256, "pages": card.page_count,
            "record": store.load_record(card.id).to_dict()}


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@router.get("/search", summary="Search by reference (any spelling) or text; browse by filters without q")
def api_search(ctx: Ctx, q: str = "", type: str = "", issuer: str = "", place: str = "",
               date_from: Annotated[str, Query(alias="from")] = "", date_to: Annotated[str, Query(alias="to")] = "",
               tasks: str = "", review: str = "", sort: str = "", page: int = 1) -> dict[str, Any]:
    params = _params(ctx.request)
    query = clean_query(q)
    result = run_search(ctx.store, query, search_filters(params), sort=sort or ("relevance" if query else "date"),
                        page=positive_int(str(page), 1, 10_000))
    facets = result.facets
    return {
        "query": query, "page": result.page, "pages": result.pages, "page_size": PAGE_SIZE, "total": result.total,
        "more": result.more, "sort": result.sort,
        "results": [{**card_data(item.card), "hit": item.hit.to_dict() if item.hit else None} for item in result.results],
        "facets": {"total": facets.total, "types": facets.types, "issuers": facets.issuers, "years": facets.years,
                   "places": facets.places, "with_tasks": facets.with_tasks, "needs_review": facets.needs_review},
    }


@router.get("/documents/{document_id}", summary="A document and its record (as `congvan show`)")
def api_document(ctx: Ctx, document_id: int) -> dict[str, Any]:
    card = _card(ctx, document_id)
    return {**document_data(ctx.store, card), "card": card_data(card)}


@router.get("/documents/{document_id}/record", summary="The record (corrections applied)")
def api_record(ctx: Ctx, document_id: int) -> dict[str, Any]:
    return ctx.store.load_record(_card(ctx, document_id).id).to_dict()


@router.get("/documents/{document_id}/result", summary="The stored result JSON (pages, words, record as extracted)")
def api_result(ctx: Ctx, document_id: int) -> Response:
    result_json, _ = ctx.store.load_result(_card(ctx, document_id).id)
    return Response(result_json, media_type="application/json")


@router.get("/documents/{document_id}/references", summary="References resolved by code, year and issuer; cited by")
def api_references(ctx: Ctx, document_id: int) -> dict[str, Any]:
    from pipeline.web.views import document_view

    view = document_view(ctx.store, _card(ctx, document_id))
    return {
        "references": [{"code": r.reference.code, "year": r.year, "status": r.status,
                        "documents": [{"id": d.id, "code": d.code, "date": d.date, "issuer": d.issuer} for d in r.targets],
                        "other_years_or_issuers": r.others} for r in view.references],
        "cited_by": [{"id": d.id, "code": d.code, "date": d.date, "issuer": d.issuer, "as_written": code}
                     for d, code in view.cited.citing],
    }


@router.get("/documents/{document_id}/pages/{number}.png", summary="A page image rendered from the original file")
def api_page_image(ctx: Ctx, document_id: int, number: int, width: int = 1000) -> Response:
    card = _card(ctx, document_id)
    data = ctx.request.app.state.images.png(_stored(card, ctx.store.root), number - 1, width)
    return Response(data, media_type="image/png")


@router.get("/documents/{document_id}/pages/{number}", summary="A page: its text and the boxes of a query's words")
def api_page(ctx: Ctx, document_id: int, number: int, q: str = "") -> dict[str, Any]:
    card = _card(ctx, document_id)
    texts = ctx.store.page_texts(card.id)
    if number < 1 or number > len(texts):
        raise NotFoundError(f"no page {number}")
    pages = ctx.request.app.state.results.pages(ctx.store, card.id, card.sha256)
    words = pages[number - 1] if number - 1 < len(pages) else None
    return {"document": card.id, "page": number, "text": texts[number - 1],
            "width": words.width if words else None, "height": words.height if words else None,
            "boxes": [list(box) for box in hit_boxes(words, clean_query(q))] if words else [],
            "image": f"/documents/{card.id}/pages/{number}.png" if card.kind != "text" else None}


@router.get("/documents/{document_id}/corrections", summary="The audit trail of a document")
def api_corrections(ctx: Ctx, document_id: int) -> list[dict[str, Any]]:
    return [vars(c) for c in ctx.store.corrections(_card(ctx, document_id).id)]


@router.post("/documents/{document_id}/corrections", summary="Correct a field (editor)", status_code=201)
def api_correct(ctx: Ctx, document_id: int, body: CorrectionIn,
                x_csrf_token: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    user = require(ctx, "edit")
    check_csrf(ctx, x_csrf_token)
    change = ctx.store.add_correction(_card(ctx, document_id).id, body.field, body.value, user=user.name)
    return vars(change)


@router.get("/review", summary="The review queue")
def api_review(ctx: Ctx, page: int = 1) -> dict[str, Any]:
    page = positive_int(str(page), 1, 100_000)
    total, cards = ctx.store.review_queue(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return {"total": total, "page": page, "documents": [card_data(card) for card in cards]}


@router.get("/tasks", summary="Tasks, filtered like the tasks board")
def api_tasks(ctx: Ctx, assignee: str = "", deadline_from: str = "", deadline_to: str = "", document: str = "",
              status: str = "", page: int = 1, limit: int = 100) -> dict[str, Any]:
    filters = task_filters(_params(ctx.request))
    limit = positive_int(str(limit), 100, 1000)
    page = positive_int(str(page), 1, 100_000)
    total, rows = ctx.store.task_board(filters, limit=limit, offset=(page - 1) * limit)
    return {"total": total, "page": page, "tasks": [row.to_dict() for row in rows]}


@router.post("/tasks/{uid}/status", summary="Set a task's status (editor)")
def api_task_status(ctx: Ctx, uid: str, body: StatusIn,
                    x_csrf_token: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    user = require(ctx, "edit")
    check_csrf(ctx, x_csrf_token)
    return vars(ctx.store.set_task_status(uid, body.status, user=user.name))


@router.get("/tasks/{uid}/history", summary="The status changes of a task")
def api_task_history(ctx: Ctx, uid: str) -> list[dict[str, Any]]:
    return [vars(change) for change in ctx.store.task_history(uid)]


@router.post("/session", summary="Log in: sets the session cookie, returns the CSRF token for writes")
def api_login(ctx: Ctx, body: Credentials) -> Response:
    brake: auth.LoginBrake = ctx.request.app.state.brake
    client = f"ip:{ctx.request.client.host if ctx.request.client else '?'}"
    if brake.blocked(f"user:{body.name}", client):
        raise WebError(429, "error.login_blocked")
    user = ctx.store.user(body.name)
    if user is None or not auth.verify_password(user, body.password):
        brake.failed(f"user:{body.name}", client)
        raise WebError(401, "error.login_failed")
    brake.succeeded(f"user:{body.name}", client)
    token, session = auth.start_session(ctx.store, user)
    response = JSONResponse({"user": user.name, "role": user.role, "csrf": session.csrf,
                             "expires_at": session.expires_at})
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=ctx.request.app.state.config.secure_cookies, max_age=auth.SESSION_HOURS * 3600)
    return response

"""The web application: configuration, one archive connection per worker thread, the request context
(user, language, CSRF), templates, security headers, server timing and error pages. Routes live in pages.py
(HTML) and api.py (JSON under /api); both call the library and the store interface only."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline import __version__
from pipeline.archive import open_archive
from pipeline.archive.store import ArchiveStore, Session, User, is_server_location
from pipeline.errors import CongvanError, InvalidCorrectionError, NotFoundError, UsageError
from pipeline.run import Stages
from pipeline.web import auth
from pipeline.web.files import PageImages
from pipeline.web.i18n import LANGUAGES, Translator, language_of
from pipeline.web.intake import IntakeWorker
from pipeline.web.views import InputProblem, ResultCache, highlight

LANGUAGE_COOKIE = "congvan_lang"
DEFAULT_UPLOAD_MB = 50
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass
class WebConfig:
    db: Path | str  # an SQLite file, or a postgresql:// URL (see archive.open_archive)
    uploads: Path | None = None  # default: <archive>-uploads/ next to an SQLite archive (needed for a server)
    max_upload_bytes: int = DEFAULT_UPLOAD_MB << 20
    login_required: bool = False  # also reading needs an account
    secure_cookies: bool = False  # behind HTTPS
    jobs: int = 1  # pages processed in parallel by the intake worker
    intake_worker: bool = True
    stages: Stages | None = None  # the driver's stages for intake (tests pass fakes)

    @property
    def upload_dir(self) -> Path:
        if self.uploads is not None:
            return self.uploads
        if is_server_location(self.db):
            raise UsageError("an archive on a database server needs --uploads DIR (where uploaded files are kept)")
        db = Path(self.db)
        return db.with_name(db.stem + "-uploads")


class Stores:
    """One open archive per thread: SQLite connections are not shared between threads."""

    def __init__(self, db: Path | str) -> None:
        self._db = db
        self._local = threading.local()
        self._all: list[ArchiveStore] = []
        self._lock = threading.Lock()

    def get(self) -> ArchiveStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = open_archive(self._db, create=False)
            self._local.store = store
            with self._lock:
                self._all.append(store)
        return store

    def fresh(self) -> ArchiveStore:
        return open_archive(self._db, create=False)

    def close_all(self) -> None:
        with self._lock:
            for store in self._all:
                with contextlib.suppress(Exception):
                    store.close()
            self._all.clear()


@dataclass
class Context:
    """What a handler knows about its request."""

    request: Request
    stores: Stores
    user: User | None
    session: Session | None
    language: str
    t: Translator

    @property
    def store(self) -> ArchiveStore:
        """The archive connection of the thread running the caller: FastAPI may run a dependency and its
        handler on different threads, and a connection must never serve two threads' transactions."""
        return self.stores.get()

    @property
    def role(self) -> str | None:
        return self.user.role if self.user else None

    def may(self, right: str) -> bool:
        return auth.may(self.role, right)


class WebError(Exception):
    """An error page or JSON error: status and a catalogue key."""

    def __init__(self, status: int, key: str, **fields: Any) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.fields = fields


# --------------------------------------------------------------------------- request helpers


def context(request: Request) -> Context:
    app = request.app
    store = app.state.stores.get()
    session = auth.find_session(store, request.cookies.get(auth.SESSION_COOKIE))
    user = store.user(session.user) if session else None
    language = language_of(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE))
    ctx = Context(request, app.state.stores, user, session if user else None, language, Translator(language))
    if app.state.config.login_required and user is None and not _public(request.url.path):
        raise WebError(401, "error.login_required")
    return ctx


def _public(path: str) -> bool:
    return path in ("/login", "/api/session", "/api/openapi.json") or path.startswith(("/static/", "/lang/"))


def require(ctx: Context, right: str) -> User:
    if ctx.user is None:
        raise WebError(401, "error.login_required")
    if not ctx.may(right):
        raise WebError(403, "error.forbidden")
    return ctx.user


def check_csrf(ctx: Context, token: str | None) -> None:
    """Writes need the session's CSRF token (form field or X-CSRF-Token header) and, when the browser sends
    an Origin, this very site as origin."""
    origin = ctx.request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != ctx.request.headers.get("host"):
        raise WebError(403, "error.csrf")
    if ctx.session is None or not auth.same_token(ctx.session.csrf, token):
        raise WebError(403, "error.csrf")


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target that stays on this site (no scheme, no host, no //, no backslash)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def url(path: str, **params: Any) -> str:
    """`path` with the non-empty params as a query string."""
    query = urlencode([(k, v) for k, v in params.items() if v not in (None, "", False)])
    return f"{path}?{query}" if query else path


def with_params(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one); a change of filters goes back
    to the first page."""
    params = dict(request.query_params)
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    return url(request.url.path, **params)


def format_date(value: str | None, language: str) -> str:
    if not value:
        return ""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return value
    return day.strftime("%d/%m/%Y") if language == "vi" else day.isoformat()


def file_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size = size / 1024  # type: ignore[assignment]
    return str(size)


# --------------------------------------------------------------------------- templates


def make_templates() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.web", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["highlight"] = highlight
    env.filters["filesize"] = file_size
    env.globals["url"] = url
    env.globals["version"] = __version__
    env.globals["languages"] = LANGUAGES
    return env


def render(ctx: Context, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    env: Environment = ctx.request.app.state.templates
    page = env.get_template(template).render(
        t=ctx.t, lang=ctx.language, user=ctx.user, csrf=ctx.session.csrf if ctx.session else "",
        may=ctx.may, request=ctx.request, path=ctx.request.url.path,
        here=local_path(str(ctx.request.url.path) + (f"?{ctx.request.url.query}" if ctx.request.url.query else "")),
        params=ctx.request.query_params, with_params=lambda **c: with_params(ctx.request, **c),
        date=lambda v: format_date(v, ctx.language), review_count=_review_count(ctx), **values)
    return HTMLResponse(page, status_code=status)


def _review_count(ctx: Context) -> int:
    return ctx.store.review_queue(limit=0, offset=0)[0]


# --------------------------------------------------------------------------- middleware


class ServerTiming:
    """Adds `Server-Timing: app;dur=MS` (time in the application, not in the network) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                milliseconds = (time.perf_counter() - started) * 1000.0
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={milliseconds:.2f}".encode()))
                for name, value in SECURITY_HEADERS.items():
                    headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


class BodyLimit:
    """Refuses request bodies over `limit` bytes (413) before they are read whole: the Content-Length is
    checked first and the bytes are counted as they arrive."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _plain(send, 413, b"request body too large")
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await _plain(send, 413, b"request body too large")


class BodyTooLarge(Exception):
    pass


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- the application


def create_app(config: WebConfig) -> FastAPI:
    """The web application over the archive at `config.db` (which must exist)."""
    open_archive(config.db, create=False).close()  # a missing or foreign archive fails now, in one line

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.intake_worker:
            app.state.worker.start()
        try:
            yield
        finally:
            app.state.worker.stop()
            app.state.stores.close_all()

    app = FastAPI(title="congvan", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="The congvan archive: search, documents, records, pages, tasks, corrections.")
    stores = Stores(config.db)
    app.state.config = config
    app.state.stores = stores
    app.state.templates = make_templates()
    app.state.results = ResultCache()
    app.state.images = PageImages()
    app.state.brake = auth.LoginBrake()
    app.state.worker = IntakeWorker(stores.fresh, config.db, jobs=config.jobs, stages=config.stages)
    app.mount("/static", StaticFiles(packages=[("pipeline.web", "static")]), name="static")

    from pipeline.web import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes + (1 << 16))
    app.add_middleware(ServerTiming)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, status: int, key: str, detail: str | None = None,
                    **fields: Any) -> Response:
    language = language_of(request.cookies.get(LANGUAGE_COOKIE))
    t = Translator(language)
    message = t(key, **fields)
    if _wants_json(request):
        return JSONResponse({"error": key, "message": message, "detail": detail}, status_code=status)
    env: Environment = request.app.state.templates
    try:
        store = request.app.state.stores.get()
        session = auth.find_session(store, request.cookies.get(auth.SESSION_COOKIE))
        user = store.user(session.user) if session else None
    except CongvanError:
        user = None
    page = env.get_template("error.html").render(
        t=t, lang=language, user=user, csrf="", may=lambda right: auth.may(user.role if user else None, right),
        request=request, path=request.url.path, here="/", params=request.query_params,
        with_params=lambda **c: with_params(request, **c), date=lambda v: format_date(v, language), review_count=0,
        status=status, message=message, detail=detail)
    return HTMLResponse(page, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, error: WebError) -> Response:
        if error.status == 401 and not _wants_json(request) and request.method == "GET":
            from fastapi.responses import RedirectResponse

            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(url("/login", next=target), status_code=303)
        return _error_response(request, error.status, error.key, **error.fields)

    @app.exception_handler(InputProblem)
    async def input_problem(request: Request, error: InputProblem) -> Response:
        return _error_response(request, 400, error.key, detail=error.value or None)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, error: NotFoundError) -> Response:
        return _error_response(request, 404, "error.not_found", detail=error.message)

    @app.exception_handler(CongvanError)
    async def congvan_error(request: Request, error: CongvanError) -> Response:
        return _error_response(request, 400 if isinstance(error, UsageError | InvalidCorrectionError) else 500, "error.archive",
                               detail=f"{error.label}: {error.message} [{error.code}]")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        key = {404: "error.not_found", 405: "error.method", 413: "error.too_large"}.get(error.status_code, "error.bad_request")
        return _error_response(request, error.status_code, key)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error_response(request, 400 if not _wants_json(request) else 422, "error.bad_request",
                               detail=f"{where}: {first.get('msg', '')}"[:200])

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> Response:
        return _error_response(request, 500, "error.internal", detail=type(error).__name__)


"""Deliver the archive's tasks to an HTTP endpoint: one keep-alive connection, retries with back-off, a circuit
breaker, no redirects followed for a POST except same-origin 307/308, credentials masked in every message."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import random
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline import __version__
from pipeline.archive.store import TaskRow
from pipeline.errors import UsageError

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
SAME_ORIGIN_REDIRECTS = frozenset({307, 308})  # the only redirects that keep method and body
MAX_REDIRECTS = 3
MAX_RETRY_AFTER = 60.0
# The circuit opens after this many failed requests in a row, or when requests have kept failing for this
# long: a dead endpoint is given up in well under 30 s instead of retrying every task (3 min for 110 tasks).
BREAKER_FAILURES = 5
BREAKER_SECONDS = 20.0
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_FORBIDDEN_HEADERS = frozenset({"content-length", "host", "transfer-encoding", "connection"})


# --------------------------------------------------------------------------- endpoint and headers


@dataclass(frozen=True)
class Endpoint:
    """A parsed webhook URL: where to connect, what to send, and how to name it without its secrets."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    authorization: str | None  # Basic credentials from user:password@ in the URL
    display: str  # the URL with its password and query values masked: safe in any message
    key: str  # the URL without credentials: the delivery record's name for this endpoint

    def same_origin(self, other: Endpoint) -> bool:
        return (self.scheme, self.host.lower(), self.port) == (other.scheme, other.host.lower(), other.port)


def mask_url(url: str) -> str:
    """`url` with the password of its user info and every query value replaced by ***.

    >>> mask_url("https://bot:s3cret@tracker.example/hook?token=abc&x=1")
    'https://bot:***@tracker.example/hook?token=***&x=***'
    """
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"***@{hostport}"
        query = "&".join(f"{pair.split('=', 1)[0]}=***" if pair else pair for pair in parts.query.split("&")) \
            if parts.query else ""
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "(unparsable URL)"


def parse_endpoint(url: str) -> Endpoint:
    """Check a webhook URL once, before anything is sent; UsageError names what is wrong (masked)."""
    if any(char.isspace() or ord(char) < 0x20 or char == "\x7f" for char in url):
        raise UsageError(f"webhook URL contains spaces or control characters: {mask_url(url)!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as error:
        raise UsageError(f"webhook URL is malformed ({error}): {mask_url(url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"webhook URL must be http:// or https://: {mask_url(url)}")
    if not host:
        raise UsageError(f"webhook URL has no host: {mask_url(url)}")
    authorization = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    hostport = f"[{host}]" if ":" in host else host
    if port is not None:
        hostport += f":{port}"
    return Endpoint(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), target=target,
                    authorization=authorization, display=mask_url(url),
                    key=urllib.parse.urlunsplit((scheme, hostport, parts.path or "/", parts.query, "")))


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """`--header "Name: value"` arguments as a dict; UsageError (without the value) when one is malformed."""
    headers: dict[str, str] = {}
    for value in values:
        name, separator, content = value.partition(":")
        name, content = name.strip(), content.strip()
        if not separator or not _TOKEN.match(name):
            raise UsageError(f"--header needs the form 'Name: value' (header {name[:40]!r})")
        if any((ord(char) < 0x20 and char != "\t") or char == "\x7f" for char in content):
            raise UsageError(f"--header {name}: the value contains control characters")
        if name.lower() in _FORBIDDEN_HEADERS:
            raise UsageError(f"--header {name}: congvan sets this header itself")
        headers[name] = content
    return headers


# --------------------------------------------------------------------------- delivery


@dataclass
class WebhookReport:
    sent: int = 0
    unchanged: int = 0  # already delivered to this endpoint with the same content: not sent again
    attempts: int = 0  # HTTP requests made
    failed: list[tuple[str, str]] = field(default_factory=list)  # (task uid, last reason)
    circuit_open: bool = False
    seconds: float = 0.0


def task_body(row: TaskRow) -> bytes:
    return json.dumps(row.to_dict(), ensure_ascii=False, sort_keys=True).encode("utf-8")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class _Failure(Exception):
    """A failed request: `retry` tells whether sending the same task again may help."""

    def __init__(self, reason: str, *, retry: bool, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.wait = wait


class _Session:
    """One persistent connection to the endpoint's server, reopened after an error."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def post(self, target: str, body: bytes, headers: Mapping[str, str],
             timeout: float) -> tuple[int, str, http.client.HTTPMessage]:
        """(status, reason, headers) of one POST; the response body is read so that the connection is reused."""
        if self._connection is None:
            endpoint = self._endpoint
            if endpoint.scheme == "https":
                self._connection = http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=timeout,
                                                               context=ssl.create_default_context())
            else:
                self._connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
        connection = self._connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            connection.request("POST", target, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise _Failure(_network_reason(error), retry=True) from None
        if response.will_close:
            self.close()
        return response.status, response.reason, response.headers


def _network_reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def post_tasks(rows: Iterable[TaskRow], url: str, *, headers: Mapping[str, str] | None = None, attempts: int = 5,
               backoff: float = 0.5, timeout: float = 10.0, breaker_failures: int = BREAKER_FAILURES,
               breaker_seconds: float = BREAKER_SECONDS, delivered: Mapping[str, str] | None = None,
               on_delivered: Callable[[str, str], None] | None = None, sleep: Callable[[float], None] | None = None,
               clock: Callable[[], float] = time.monotonic) -> WebhookReport:
    """POST each task as JSON over one connection, with an `Idempotency-Key` header (the task uid, the same on
    every retry and every run). Timeouts, connection errors, 408/429/5xx are retried with exponential back-off
    and jitter. After `breaker_failures` failed requests in a row, or `breaker_seconds` of failures without a
    success, the circuit opens: the remaining tasks are reported unsent. Tasks whose body digest is in
    `delivered` (uid → digest) are skipped; `on_delivered(uid, digest)` records each success."""
    endpoint = parse_endpoint(url)
    sleep = sleep or time.sleep
    delivered = delivered or {}
    base_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"congvan/{__version__}"}
    if endpoint.authorization:
        base_headers["Authorization"] = endpoint.authorization
    base_headers.update(headers or {})
    report = WebhookReport()
    started = clock()
    session = _Session(endpoint)
    streak, streak_start = 0, 0.0
    try:
        for row in rows:
            if report.circuit_open:
                report.failed.append((row.uid, "not sent: the endpoint is down (circuit breaker open)"))
                continue
            body = task_body(row)
            digest = body_digest(body)
            if delivered.get(row.uid) == digest:
                report.unchanged += 1
                continue
            request_headers = {**base_headers, "Idempotency-Key": row.uid}
            reason = ""
            for attempt in range(attempts):
                now = clock()
                if streak and now - streak_start >= breaker_seconds:
                    report.circuit_open = True
                    break
                budget = breaker_seconds - (now - streak_start) if streak else breaker_seconds
                report.attempts += 1
                try:
                    _send(session, endpoint, body, request_headers, min(timeout, budget), report)
                except _Failure as failure:
                    reason = failure.reason
                    if not streak:
                        streak_start = now
                    streak += 1
                    if streak >= breaker_failures or clock() - streak_start >= breaker_seconds:
                        report.circuit_open = True
                        break
                    if not failure.retry:
                        break
                    if attempt + 1 < attempts:
                        delay = backoff * (2 ** attempt) * (1.0 + random.random() * 0.25)
                        wait = failure.wait if failure.wait is not None else delay
                        sleep(min(wait, max(0.0, breaker_seconds - (clock() - streak_start))))
                    continue
                streak = 0
                report.sent += 1
                if on_delivered is not None:
                    on_delivered(row.uid, digest)
                break
            else:
                report.failed.append((row.uid, f"{reason} (after {attempts} attempts)"))
                continue
            if report.circuit_open:
                report.failed.append((row.uid, f"{reason or 'not sent'} (circuit breaker opened after {streak} "
                                                f"failed requests in {clock() - streak_start:.1f} s)"))
            elif reason and streak:
                report.failed.append((row.uid, reason))
    finally:
        session.close()
        report.seconds = clock() - started
    return report


def _send(session: _Session, endpoint: Endpoint, body: bytes, headers: Mapping[str, str], timeout: float,
          report: WebhookReport) -> None:
    """One delivery: a POST, following at most MAX_REDIRECTS same-origin 307/308 redirects with the body."""
    target = endpoint.target
    for _ in range(MAX_REDIRECTS + 1):
        status, reason, answer = session.post(target, body, headers, max(0.1, timeout))
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            location = answer.get("Location")
            moved = _redirect_target(endpoint, target, location)
            if status not in SAME_ORIGIN_REDIRECTS or moved is None:
                shown = mask_url(location) if location else "nowhere"
                raise _Failure(f"HTTP {status} redirect to {shown} not followed (a POST is only re-sent to the "
                               "same server, on 307/308)", retry=False)
            target = moved
            report.attempts += 1
            continue
        if status in RETRYABLE_STATUS:
            raise _Failure(f"HTTP {status} {reason}", retry=True, wait=_retry_after(answer.get("Retry-After")))
        raise _Failure(f"HTTP {status} {reason}", retry=False)
    raise _Failure(f"more than {MAX_REDIRECTS} redirects", retry=False)


def _redirect_target(endpoint: Endpoint, current: str, location: str | None) -> str | None:
    """The request target of a same-origin redirect, or None when it leaves the endpoint's server."""
    if not location:
        return None
    base = f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}{current}"
    try:
        moved = parse_endpoint(urllib.parse.urljoin(base, location))
    except UsageError:
        return None
    return moved.target if moved.same_origin(endpoint) and moved.authorization is None else None

"""Accounts of the web interface: argon2 password hashes, sessions (random token in an HttpOnly cookie, its
hash in the archive), per-session CSRF tokens, roles, and a brake on password guessing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.archive.store import ROLES, ArchiveStore, Session, User

SESSION_COOKIE = "congvan_session"
LOGIN_CSRF_COOKIE = "congvan_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
# Failed logins allowed per user name (and per client address) in the window before logins are refused.
LOGIN_FAILURES = 10
LOGIN_WINDOW_SECONDS = 15 * 60
# Who may do what: a role includes the rights of the roles before it in ROLES.
RIGHTS = {"read": "viewer", "edit": "editor", "admin": "admin"}

_hasher = PasswordHasher()
# Verifying against this keeps an unknown user name as slow as a wrong password (no user enumeration).
_DUMMY_HASH = _hasher.hash("congvan-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> str | None:
    """Why a new password is refused (a catalogue key), or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return "error.password_short"
    if len(password) > MAX_PASSWORD_CHARS:
        return "error.password_long"
    return None


def verify_password(user: User | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def may(role: str | None, right: str) -> bool:
    """Whether a user of `role` (None: anonymous) has `right` ("read", "edit", "admin")."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(RIGHTS[right])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def start_session(store: ArchiveStore, user: User, hours: float = SESSION_HOURS) -> tuple[str, Session]:
    """A new session for `user`: the cookie value (kept only by the browser) and the stored session."""
    token = new_token()
    now = datetime.now(UTC)
    session = Session(token_hash(token), user.name, new_token(), _iso(now), _iso(now + timedelta(hours=hours)))
    store.add_session(session)
    return token, session


def find_session(store: ArchiveStore, token: str | None) -> Session | None:
    if not token or len(token) > 200:
        return None
    return store.session(token_hash(token), _iso(datetime.now(UTC)))


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass
class LoginBrake:
    """Refuses logins for a name or an address after LOGIN_FAILURES failures within the window."""

    failures: int = LOGIN_FAILURES
    window: float = LOGIN_WINDOW_SECONDS

    def __post_init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] < now - self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= self.failures for key in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._seen.pop(key, None)

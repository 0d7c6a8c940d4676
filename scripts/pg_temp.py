"""A throw-away PostgreSQL server for the tests and benchmarks: initdb in a temporary folder, a server on a
unix socket there (no port to collide with), databases made from a template, everything removed on stop.

As root (CI), the server runs as the unprivileged `postgres` user (or `nobody`), as PostgreSQL requires.
Needs Debian's `postgresql` package (its binaries live in /usr/lib/postgresql/VERSION/bin).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

# Settings of a server whose data may be lost: tests run faster without durability.
DISPOSABLE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
START_SECONDS = 60.0


def find_binaries() -> Path | None:
    """The folder holding initdb and postgres: on PATH, or the newest /usr/lib/postgresql/*/bin."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("postgres"):
        return Path(initdb).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                     if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(folders):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
            return Path(folder)
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root, who may not run PostgreSQL."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account to run PostgreSQL as")


class TemporaryPostgres:
    """A PostgreSQL server in a temporary folder. `url(dbname)` gives a libpq URL for one of its databases."""

    def __init__(self, settings: Mapping[str, str] | None = None, *, superuser: str = "postgres") -> None:
        binaries = find_binaries()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL is not installed (Debian package 'postgresql')")
        self.binaries = binaries
        self.superuser = superuser
        self.settings = {**DISPOSABLE, **(settings or {})}
        self.folder = Path(tempfile.mkdtemp(prefix="congvan-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._user = _server_user()
        self._process: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------------------- lifecycle

    def start(self) -> TemporaryPostgres:
        if self._user is not None:
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        self.folder.chmod(0o755)
        self._run([str(self.binaries / "initdb"), "-D", str(self.data), "-U", self.superuser, "--auth=trust",
                   "--encoding=UTF8", "--no-locale", "--no-sync"])
        options = ["-c", "listen_addresses=", "-c", f"unix_socket_directories={self.folder}"]
        for name, value in self.settings.items():
            options += ["-c", f"{name}={value}"]
        with self.log.open("wb") as log:
            user, group, groups = self._identity()
            self._process = subprocess.Popen([str(self.binaries / "postgres"), "-D", str(self.data), *options],
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                             user=user, group=group, extra_groups=groups)
        self._wait_until_ready()
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown: ends sessions, no waiting for clients
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------- databases

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.superuser}@/{dbname}?host={self.folder}"

    def execute(self, statement: str, dbname: str = "postgres") -> None:
        """Run one SQL statement as the superuser, outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as connection:
            connection.execute(statement.encode())  # bytes: a statement built here, not a literal

    def create_database(self, name: str, template: str = "template0") -> str:
        """A new database copied from `template`; its URL."""
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name_or_url: str) -> None:
        """Drop a database (by name or by the URL `url()` gave), ending its sessions."""
        name = name_or_url.split("?")[0].rsplit("/", 1)[-1]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def size(self, dbname: str) -> int:
        """Bytes on disk of a database (tables, indexes, TOAST)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as connection:
            row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])

    # ----------------------------------------------------------------------- internals

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """user, group and supplementary groups for subprocess: the server account's, or ours unchanged."""
        if self._user is None:
            return None, None, None
        return self._user.pw_uid, self._user.pw_gid, []

    def _run(self, command: list[str]) -> None:
        user, group, groups = self._identity()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.folder, user=user,
                              group=group, extra_groups=groups)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _wait_until_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL not ready after {START_SECONDS:.0f} s") from None
                time.sleep(0.05)


@contextlib.contextmanager
def temporary_postgres(settings: Mapping[str, str] | None = None) -> Iterator[TemporaryPostgres]:
    server = TemporaryPostgres(settings)
    try:
        yield server.start()
    finally:
        server.stop()

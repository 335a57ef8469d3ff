"""A real PostgreSQL for the tests: initdb in a temporary directory, a server on 127.0.0.1.

initdb and postgres refuse to run as root, so as root (CI) both run as the
``postgres`` user that Debian's package creates (``scripts/install-postgres``).
The server is stopped by its PID; a test may kill it with SIGKILL and start
it again on the same data directory and port.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

_DATABASES = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} is missing: run scripts/install-postgres"
    return found[-1]


def _as_postgres() -> str | None:
    """Popen's ``user`` and ``group`` as root: the server's PID is then the postmaster's own."""
    return "postgres" if os.geteuid() == 0 else None


class PostgresServer:
    """One PostgreSQL cluster of our own, listening on 127.0.0.1 only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.root.chmod(0o755)
        for folder in (self.data, self.sockets):
            folder.mkdir(mode=0o700)
            if os.geteuid() == 0:
                shutil.chown(folder, "postgres", "postgres")
        subprocess.run(
            [_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"],
            check=True,
            capture_output=True,
            cwd=self.root,
            user=_as_postgres(),
            group=_as_postgres(),
        )

    def start(self, timeout: float = 60) -> None:
        """Start the server; after a crash, again until the old backends have let go."""
        deadline = time.monotonic() + timeout
        while not self._started():
            assert time.monotonic() < deadline, (self.root / "postgres.log").read_text()[-2000:]
            time.sleep(0.5)

    def _started(self) -> bool:
        log = (self.root / "postgres.log").open("ab")
        command = [
            _binary("postgres"),
            "-D", str(self.data),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", str(self.sockets),
            "-c", "fsync=off",  # a killed process loses nothing the OS already has
            "-c", "max_connections=60",
        ]  # fmt: skip
        with log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=log, cwd=self.root, user=_as_postgres(), group=_as_postgres()
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
            except psycopg.OperationalError:
                if self.process.poll() is not None:
                    return False
                time.sleep(0.1)
            else:
                return True
        self.stop()
        return False

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends notice and exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): sessions are ended, the data is clean."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        name = f"jwtseal_{os.getpid()}_{next(_DATABASES)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # a name made here, not input
        return self.url(name)

    def dump(self, url: str) -> str:
        """``pg_dump`` of one database, as plain SQL."""
        result = subprocess.run([_binary("pg_dump"), url], check=True, capture_output=True, text=True)
        return result.stdout


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started server in a temporary directory; stopped by PID and removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="jwtseal-pg-"))
    server = PostgresServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

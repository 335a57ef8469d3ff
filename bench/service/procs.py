"""Start pinned server processes, wait until they answer, stop every one of them by PID."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Launch:
    """How to start one server on 127.0.0.1:port: command, environment additions, working directory."""

    port: int
    argv: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass
class Server:
    """A started server process, reachable on 127.0.0.1:port."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class StartupError(RuntimeError):
    """A server exited or never answered."""


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv]


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One HTTP request on a fresh connection: (status, parsed JSON body or raw bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the worker processes when ``--workers`` > 1)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


class Processes:
    """Every process the bench starts; leaving the ``with`` block stops all of them by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._running: list[Server] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def start(self, name: str, launch: Launch, cpu: int, ready_path: str, timeout: float = 60.0) -> Server:
        """Start ``launch`` pinned to ``cpu`` and wait until GET ``ready_path`` answers 200.

        Raises:
            StartupError: the process exited or did not answer within ``timeout``.
        """
        server = self.start_unwaited(name, launch, cpu)
        wait_ready(server, ready_path, timeout)
        return server

    def start_unwaited(self, name: str, launch: Launch, cpu: int) -> Server:
        """Start ``launch`` pinned to ``cpu``; its output goes to ``<workdir>/<name>.log``."""
        log = self.workdir / f"{name}.log"
        env = {**_clean_environ(), **launch.env}
        with log.open("wb") as out:
            process = subprocess.Popen(
                pinned(cpu, launch.argv),
                cwd=launch.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops each server itself
            )
        server = Server(name, launch.port, process, log)
        self._running.append(server)
        return server

    def stop(self, server: Server) -> None:
        """SIGTERM the server's PID, SIGKILL it after a grace period."""
        if server in self._running:
            self._running.remove(server)
        process = server.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for server in reversed(list(self._running)):
            self.stop(server)


def wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise StartupError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            status, _ = request(server.port, "GET", path, timeout=1.0)
        except OSError:
            time.sleep(0.05)
            continue
        if status == 200:
            return
        time.sleep(0.05)
    raise StartupError(f"{server.name} did not answer GET {path} within {timeout} s:\n{server.log_tail()}")


def _clean_environ() -> dict[str, str]:
    """The bench's environment without settings that would change a server's behaviour."""
    prefixes = ("JWTSEAL_", "PEER_", "PROMETHEUS_MULTIPROC_DIR", "NODE_OPTIONS", "PYTHONPATH")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}

"""`jwtseal serve` as a real child process, for tests that need a whole process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import bound_socket


@dataclass
class ServeProcess:
    url: str
    process: subprocess.Popen[str]
    stderr_path: Path

    def logs(self) -> str:
        return self.stderr_path.read_text()


def free_port() -> int:
    sock = bound_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.1)


@contextmanager
def serve(tmp_path: Path, *args: str, **environ: str) -> Iterator[ServeProcess]:
    """Start `python -m jwtseal serve` on a free port; SIGTERM and wait on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWTSEAL_", "PROMETHEUS_"))}
    env.update({"JWTSEAL_DATA_DIR": str(tmp_path / "data"), **environ})
    tmp_path.mkdir(parents=True, exist_ok=True)
    stderr_path = tmp_path / f"serve-{port}.log"
    command = [sys.executable, "-m", "jwtseal", "serve", "--port", str(port), *args]
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield ServeProcess(url, process, stderr_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
        stdout: IO[str] | None = process.stdout
        if stdout is not None:
            stdout.close()

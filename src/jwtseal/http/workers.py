"""``serve --workers N``: N worker processes on one listening socket, kept alive.

Workers are fresh interpreters (running :func:`jwtseal.http.worker.main`) rather than
forks, so none inherits the parent's keys, threads or metric state; they share
keys through the store. The kernel spreads connections over the workers that
accept on the shared socket. SIGTERM or SIGINT is passed on to every worker,
which finish their in-flight requests.

A worker that dies is replaced. One that dies within :data:`START_WINDOW`
seconds of its start died *at start*; it is replaced after a delay that
doubles with each such death in a row (:data:`FIRST_DELAY` up to
:data:`MAX_DELAY`), and after :data:`MAX_START_FAILURES` in a row the server
gives up: a broken start (a corrupt store, a bad install) never becomes a
loop of restarts. A worker that outlives the window resets the count.
systemd's ``StartLimitBurst`` and gunicorn's boot-error exit make the same
call.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["FIRST_DELAY", "MAX_DELAY", "MAX_START_FAILURES", "START_WINDOW", "run_workers"]

logger = logging.getLogger("jwtseal.workers")

START_WINDOW: Final = 10.0
"""A worker that dies sooner than this many seconds after its start died at start."""
FIRST_DELAY: Final = 0.5
"""Seconds before the first restart after a death at start; doubled for each one in a row."""
MAX_DELAY: Final = 30.0
"""The longest wait between two restarts."""
MAX_START_FAILURES: Final = 5
"""Deaths at start in a row after which the server stops with exit code 1."""
_CHECK_INTERVAL: Final = 0.25


@dataclass
class _Slot:
    """One worker place: the process in it, or the time its replacement is due."""

    process: subprocess.Popen[bytes] | None
    started_at: float
    due_at: float = 0.0
    proven: bool = False


def _start(sock: socket.socket, environ: Mapping[str, str]) -> _Slot:
    fd = sock.fileno()
    command = [sys.executable, "-c", "from jwtseal.http.worker import main; main()", str(fd)]
    process = subprocess.Popen(command, pass_fds=[fd], env=dict(environ))  # noqa: S603 - our own interpreter and code
    return _Slot(process, time.monotonic())


class _Supervisor:
    """Keeps the slots filled and counts deaths at start; see the module docstring."""

    def __init__(self, count: int, sock: socket.socket, environ: Mapping[str, str]) -> None:
        self._sock = sock
        self._environ = environ
        self.slots = [_start(sock, environ) for _ in range(count)]
        self.failures = 0
        self._last_death = 0.0

    def check(self) -> bool:
        """Replace dead workers when due; ``False`` once workers keep dying at start."""
        now = time.monotonic()
        for index, slot in enumerate(self.slots):
            if slot.process is None:
                if now >= slot.due_at:
                    self.slots[index] = _start(self._sock, self._environ)
            elif slot.process.poll() is not None:
                if not self._died(slot, now):
                    return False
            elif not slot.proven and now - slot.started_at >= START_WINDOW:
                slot.proven = True
                if slot.started_at > self._last_death:  # started since the last death, and it lives
                    self.failures = 0
        return True

    def _died(self, slot: _Slot, now: float) -> bool:
        assert slot.process is not None
        fields: dict[str, object] = {"pid": slot.process.pid, "exit_code": slot.process.returncode}
        self._last_death = now
        self.failures = self.failures + 1 if now - slot.started_at < START_WINDOW else 0
        if self.failures >= MAX_START_FAILURES:
            fields["deaths_at_start_in_a_row"] = self.failures
            logger.error("workers keep dying at start; stopping the server", extra={"fields": fields})
            return False
        delay = min(FIRST_DELAY * 2 ** (self.failures - 1), MAX_DELAY) if self.failures else 0.0
        fields["restart_in_seconds"] = delay
        logger.warning("worker exited; starting another", extra={"fields": fields})
        slot.process, slot.due_at = None, now + delay
        return True

    def stop(self) -> None:
        """Ask every worker to finish its in-flight requests, and wait for all of them."""
        running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            process.terminate()
        for process in running:
            process.wait()  # each stops within its GRACE seconds


def run_workers(count: int, sock: socket.socket, environ: Mapping[str, str]) -> bool:
    """Run ``count`` workers on ``sock`` until SIGTERM or SIGINT, then stop them gracefully.

    Returns:
        ``True`` after a signal; ``False`` when workers kept dying at start.
    """
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    supervisor = _Supervisor(count, sock, environ)
    healthy = True
    while healthy and not stopping.wait(_CHECK_INTERVAL):
        healthy = supervisor.check()
    supervisor.stop()
    return healthy

"""``serve --workers N``: N worker processes on one listening socket, kept alive.

Workers are fresh interpreters (running :func:`jwtseal.http.worker.main`) rather than
forks, so none inherits the parent's keys, threads or metric state; they share
keys through the store. The kernel spreads connections over the workers that
accept on the shared socket. On SIGTERM or SIGINT the parent closes its copy
of the listening socket, then passes the signal on to every worker, which
close theirs and finish their in-flight requests.

A worker that dies is replaced. One that dies before it reported that it
serves (one byte on a pipe, written once its service is built) died *at
start*: it is replaced after a delay that doubles with each such death in a
row (:data:`FIRST_DELAY` up to :data:`MAX_DELAY`), and after
:data:`MAX_START_FAILURES` in a row the server gives up with exit code 1 and
one JSON line: a broken start (a corrupt store, a bad install) never becomes
a loop of restarts. A worker that reports it serves resets the count.
gunicorn stops on a worker's boot error in the same way; systemd's
``StartLimitBurst`` is the same idea.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["FIRST_DELAY", "MAX_DELAY", "MAX_START_FAILURES", "run_workers"]

logger = logging.getLogger("jwtseal.workers")

FIRST_DELAY: Final = 0.5
"""Seconds before the first restart after a death at start; doubled for each one in a row."""
MAX_DELAY: Final = 30.0
"""The longest wait between two restarts."""
MAX_START_FAILURES: Final = 5
"""Deaths at start in a row after which the server stops with exit code 1."""
_CHECK_INTERVAL: Final = 0.25


@dataclass
class _Slot:
    """One worker place: the process in it (or the time its replacement is due) and its ready pipe."""

    process: subprocess.Popen[bytes] | None
    ready_pipe: int
    due_at: float = 0.0
    ready: bool = False

    def became_ready(self) -> bool:
        """Whether the worker reported, since the last look, that it serves; never waits."""
        if self.ready or not select.select([self.ready_pipe], [], [], 0)[0]:
            return False
        self.ready = os.read(self.ready_pipe, 1) == b"1"  # b"" when it exited without a word
        return self.ready


def _start(sock: socket.socket, environ: Mapping[str, str]) -> _Slot:
    fd = sock.fileno()
    ready_pipe, ready_end = os.pipe()
    command = [sys.executable, "-c", "from jwtseal.http.worker import main; main()", str(fd), str(ready_end)]
    try:
        process = subprocess.Popen(command, pass_fds=[fd, ready_end], env=dict(environ))  # noqa: S603 - our own interpreter and code
    finally:
        os.close(ready_end)
    return _Slot(process, ready_pipe)


class _Supervisor:
    """Keeps the slots filled and counts deaths at start; see the module docstring."""

    def __init__(self, count: int, sock: socket.socket, environ: Mapping[str, str]) -> None:
        self._sock = sock
        self._environ = environ
        self.slots = [_start(sock, environ) for _ in range(count)]
        self.failures = 0

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
            elif slot.became_ready():
                self.failures = 0
        return True

    def _died(self, slot: _Slot, now: float) -> bool:
        assert slot.process is not None
        fields: dict[str, object] = {"pid": slot.process.pid, "exit_code": slot.process.returncode}
        slot.became_ready()  # a worker may report and die between two looks
        os.close(slot.ready_pipe)
        self.failures = 0 if slot.ready else self.failures + 1
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
        """Close the parent's copy of the socket, then ask every worker to finish, and wait for all.

        The parent's copy first: once the workers close theirs, new connections are refused.
        """
        self._sock.close()
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

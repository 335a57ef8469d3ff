"""``serve --workers N``: N worker processes on one listening socket, kept alive.

Workers are fresh interpreters (running :func:`jwtseal.http.worker.main`) rather than
forks, so none inherits the parent's keys, threads or metric state; they share
keys through the store. The kernel spreads connections over the workers that
accept on the shared socket. A worker that dies is replaced; on SIGTERM or
SIGINT the parent closes its copy of the listening socket, then passes the
signal on to every worker, which close theirs and finish their in-flight
requests.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Final

__all__ = ["run_workers"]

logger = logging.getLogger("jwtseal.workers")

_CHECK_INTERVAL: Final = 0.5


def _start(sock: socket.socket) -> subprocess.Popen[bytes]:
    fd = sock.fileno()
    environ = {**os.environ, "JWTSEAL_LISTEN_FD": str(fd)}
    command = [sys.executable, "-c", "from jwtseal.http.worker import main; main()"]
    return subprocess.Popen(command, pass_fds=[fd], env=environ)  # noqa: S603 - our own interpreter and code


def run_workers(count: int, sock: socket.socket) -> None:
    """Run ``count`` workers on ``sock`` until SIGTERM or SIGINT, then stop them gracefully."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    workers = [_start(sock) for _ in range(count)]
    while not stopping.wait(_CHECK_INTERVAL):
        for index, worker in enumerate(workers):
            if worker.poll() is not None:
                fields = {"pid": worker.pid, "exit_code": worker.returncode}
                logger.warning("worker exited; starting another", extra={"fields": fields})
                workers[index] = _start(sock)
    sock.close()  # the parent's copy first: once the workers close theirs, new connections are refused
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait()  # each stops within its GRACE seconds

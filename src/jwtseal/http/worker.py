"""One ``serve --workers N`` process, started by :mod:`jwtseal.http.workers`.

The parent binds the socket and passes its descriptor as the first argument,
and the write end of a pipe as the second: one byte there says "serving".
it also puts the resolved data dir, issuer and metrics directory into the
environment and shows a generated API key once, so every worker builds the
same service and finds the API key hashes in the shared store.

A worker that cannot start (say the key store turned corrupt since the parent
checked it) logs why in one JSON line and exits with :data:`START_FAILED`;
the parent decides whether to try again (see :mod:`jwtseal.http.workers`).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Final

from ..logs import configure_logging
from ..settings import Settings, environment
from ..stores import open_store
from .app import create_app
from .server import HttpServer

__all__ = ["START_FAILED", "main"]

START_FAILED: Final = 3
"""The exit code of a worker that failed before serving (gunicorn uses 3 for this too)."""

logger = logging.getLogger("jwtseal.worker")


def main() -> None:
    configure_logging()
    try:
        settings = Settings.load(environment())
        router = create_app(settings, store=open_store(settings.data_dir, environment()))
        sock = socket.socket(fileno=int(sys.argv[1]))
    except Exception:  # whatever stops a start is logged; the parent decides what next
        logger.exception("worker failed to start")
        sys.exit(START_FAILED)
    logger.info("worker started", extra={"fields": {"pid": os.getpid()}})
    ready = int(sys.argv[2])
    os.write(ready, b"1")
    os.close(ready)
    HttpServer(router, sock).run()

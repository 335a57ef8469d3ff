"""One ``serve --workers N`` process, started by :mod:`jwtseal.http.workers`.

The parent binds the socket and passes its descriptor in
``JWTSEAL_LISTEN_FD``; it also resolves the data dir and issuer into the
environment and shows a generated API key once, so every worker builds the
same service and finds the API key hashes in the shared store.
"""

from __future__ import annotations

import os
import socket

from ..logs import configure_logging
from ..settings import Settings
from ..stores import open_store
from .app import create_app
from .server import HttpServer

__all__ = ["main"]


def main() -> None:
    configure_logging()
    settings = Settings.load(os.environ)
    router = create_app(settings, store=open_store(settings.data_dir, os.environ))
    sock = socket.socket(fileno=int(os.environ["JWTSEAL_LISTEN_FD"]))
    HttpServer(router, sock).run()

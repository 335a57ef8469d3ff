"""The app factory each ``serve --workers N`` process calls: settings from its environment.

The parent process resolves the data dir and issuer into the environment and
shows a generated API key once, so every worker builds the same service and
finds the API key hashes in the shared store.
"""

from __future__ import annotations

import os

from ..logs import configure_logging
from ..settings import Settings
from ..stores import open_store
from .app import create_app
from .asgi import Router

__all__ = ["create_worker_app"]


def create_worker_app() -> Router:
    configure_logging()
    settings = Settings.load(os.environ)
    return create_app(settings, store=open_store(settings.data_dir, os.environ))

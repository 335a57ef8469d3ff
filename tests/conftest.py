"""Shared fixtures: real servers on 127.0.0.1, settings in temporary data dirs."""

from __future__ import annotations

import itertools
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import uvloop

from jwtseal.apikeys import ApiKeys
from jwtseal.http import create_app
from jwtseal.http.routing import Router
from jwtseal.http.server import HttpServer
from jwtseal.service import Service
from jwtseal.settings import Settings
from tests.postgres_fixtures import PostgresServer, running_postgres

API_KEY = "test-api-key-0123456789"


class Clock:
    """A clock the test moves by hand: ``clock.now += 3600``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ServedInThread:
    """An ``http.server`` (``self._server``) running on its own thread for a ``with`` block."""

    _server: socketserver.BaseServer

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


@contextmanager
def serve_in_thread(app: Router, sock: socket.socket, **limits: float) -> Iterator[str]:
    """Serve a router with jwtseal's own server on an already bound loopback socket; yields its URL."""
    sock.listen(128)
    server = HttpServer(app, sock, **limits)
    thread = threading.Thread(target=uvloop.run, args=(server.serve(),), daemon=True)
    thread.start()
    assert server.started.wait(10), "server did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.stop()
        thread.join(30)
        sock.close()


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class RunningService:
    url: str
    settings: Settings
    service: Service
    client: httpx.Client

    def encode(self, claims: Any, key: str = API_KEY) -> httpx.Response:
        return self.client.post("/encode", json=claims, headers={"authorization": f"Bearer {key}"})

    def token(self, claims: dict[str, Any] | None = None) -> str:
        response = self.encode(claims or {"groceryList": ["milk", "eggs"]})
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert isinstance(token, str)
        return token


@contextmanager
def running_service(data_dir: Path, **environ: str) -> Iterator[RunningService]:
    """jwtseal on a fresh loopback port; keyword arguments are JWTSEAL_* variables.

    The API key is :data:`API_KEY` unless ``JWTSEAL_API_KEYS`` is given.
    """
    sock = bound_socket()
    port = sock.getsockname()[1]
    settings = Settings.load({"JWTSEAL_DATA_DIR": str(data_dir), **environ}, port=port)
    service = Service.open(settings)
    given_keys = None if "JWTSEAL_API_KEYS" in environ else ApiKeys.from_keys([API_KEY])
    app = create_app(settings, service=service, api_keys=given_keys)
    url = f"http://127.0.0.1:{port}"
    with serve_in_thread(app, sock), httpx.Client(base_url=url, timeout=10) as client:
        yield RunningService(url, settings, service, client)


StartService = Callable[..., RunningService]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start as many services as a test needs; all stop when it ends."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(**environ: str) -> RunningService:
            data_dir = tmp_path / f"data-{next(numbers)}"
            return stack.enter_context(running_service(data_dir, **environ))

        yield start


@pytest.fixture
def running(start_service: StartService) -> RunningService:
    return start_service()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL on 127.0.0.1 for the session (tests/postgres_fixtures.py)."""
    with running_postgres() as server:
        yield server

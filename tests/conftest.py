"""Shared fixtures: real servers on 127.0.0.1, settings in temporary data dirs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from jwtseal import ApiKeys, Service, Settings
from jwtseal.http import create_app

API_KEY = "test-api-key-0123456789"


@contextmanager
def serve_in_thread(app: Any, sock: socket.socket) -> Iterator[None]:
    """Run an ASGI app under uvicorn on an already bound loopback socket."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
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


StartService = Callable[..., RunningService]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start jwtseal on a real loopback port; keyword arguments are JWTSEAL_* variables."""
    with_stack: list[Any] = []

    def start(**environ: str) -> RunningService:
        sock = bound_socket()
        port = sock.getsockname()[1]
        env = {"JWTSEAL_DATA_DIR": str(tmp_path / f"data-{port}"), **environ}
        settings = Settings.load(env, port=port)
        service = Service.open(settings)
        given_keys = None if "JWTSEAL_API_KEYS" in environ else ApiKeys.from_keys([API_KEY])
        app = create_app(settings, service=service, api_keys=given_keys)
        context = serve_in_thread(app, sock)
        context.__enter__()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        with_stack.append((context, client))
        return RunningService(f"http://127.0.0.1:{port}", settings, service, client)

    yield start
    for context, client in reversed(with_stack):
        client.close()
        context.__exit__(None, None, None)


@pytest.fixture
def running(start_service: StartService) -> RunningService:
    return start_service()

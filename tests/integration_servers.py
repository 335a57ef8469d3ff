"""Real servers for the framework guard tests: the example apps as child processes, test apps on threads.

The example apps run as their READMEs say: FastAPI and Starlette under
``uvicorn --factory``, Flask under ``waitress-serve --call``, configured by
environment variables. Apps built by a test run in this process, under
uvicorn or waitress on a thread. Everything listens on 127.0.0.1 only and is
stopped by the context manager that started it.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from waitress.server import TcpWSGIServer, create_server
from waitress.task import ThreadedTaskDispatcher

from jwtseal import SigningKey
from tests.conftest import bound_socket
from tests.servers import free_port
from tests.tokens import sign_claims

ROOT = Path(__file__).parent.parent
FRAMEWORKS = ("fastapi", "starlette", "flask")
ISSUER = "https://issuer.example"
AUDIENCE = "api://groceries"
SUBJECT = "alice"


def token_for(key: SigningKey, **claims: Any) -> str:
    """A token from ``ISSUER`` for ``AUDIENCE``, valid now for five minutes; ``None`` drops a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "iat": now,
        "exp": now + 300,
        "scope": "lists:read",
    }
    base.update(claims)
    return sign_claims(key, {name: value for name, value in base.items() if value is not None})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class ExampleApp:
    """An example app running in a child process; ``log`` is its stderr and stdout."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def example_command(framework: str, port: int) -> list[str]:
    """The command the example's docstring gives, on ``port`` of 127.0.0.1."""
    if framework == "flask":
        listen = f"--listen=127.0.0.1:{port}"
        return [
            sys.executable,
            "-m",
            "waitress",
            listen,
            "--threads=32",
            "--call",
            "examples.flask_app:create_app",
        ]
    factory = f"examples.{framework}_app:create_app"
    flags = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--ws", "none"]
    return [sys.executable, "-m", "uvicorn", "--factory", factory, *flags]


@contextmanager
def run_example(framework: str, log_dir: Path, jwks_uri: str) -> Iterator[ExampleApp]:
    """Start ``examples/<framework>_app.py`` trusting ``ISSUER`` with keys at ``jwks_uri``; stop it by PID."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("JWT_")}
    env.update(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, JWT_JWKS_URI=jwks_uri)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{framework}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            example_command(framework, port), cwd=ROOT, env=env, stdout=log, stderr=log
        )
    app = ExampleApp(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_answering(app)
        yield app
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def _wait_until_answering(app: ExampleApp, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert app.process.poll() is None, f"the example app exited:\n{app.log()}"
        try:
            httpx.get(f"{app.url}/me")
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"the example app did not start:\n{app.log()}"
            time.sleep(0.1)
        else:
            return


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a thread of this process (lifespan on); yields its URL."""
    sock = bound_socket()
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@dataclass
class WsgiServer:
    url: str
    dispatcher: ThreadedTaskDispatcher

    @property
    def busy(self) -> int:
        """How many of the server's threads are running a request now."""
        return self.dispatcher.active_count


@contextmanager
def serve_wsgi(app: Any, threads: int = 4) -> Iterator[WsgiServer]:
    """Serve a WSGI app with waitress and ``threads`` worker threads on a thread of this process."""
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, _dispatcher=dispatcher)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert isinstance(server, TcpWSGIServer)
        yield WsgiServer(f"http://127.0.0.1:{server.getsockname()[1]}", dispatcher)
    finally:
        # Let the worker threads finish their requests, then close every socket
        # from the server's own loop thread (a thunk of its trigger), which ends it.
        dispatcher.shutdown()
        internals: Any = server  # types-waitress types trigger and active_channels wrongly
        internals.trigger.pull_trigger(functools.partial(_close_all, internals))
        thread.join(30)


def _close_all(server: Any) -> None:
    for channel in list(server.active_channels.values()):
        channel.close()
    server.close()


class _GatedHandler(BaseHTTPRequestHandler):
    server: _GatedServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        origin = self.server.origin
        with origin.lock:
            origin.fetches += 1
        origin.gate.wait(20)
        body = json.dumps({"keys": [key.public.to_jwk() for key in origin.keys]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet."""


class _GatedServer(ThreadingHTTPServer):
    daemon_threads = True
    origin: GatedOrigin


class GatedOrigin:
    """A JWKS origin on 127.0.0.1 that holds every answer until ``gate`` is set, counting fetches.

    Holding the first fetch open lets a test put many requests in flight
    while the keys are still missing, so one fetch proves they shared it.
    """

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = keys
        self.fetches = 0
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self._server = _GatedServer(("127.0.0.1", 0), _GatedHandler)
        self._server.origin = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def __enter__(self) -> GatedOrigin:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.gate.set()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

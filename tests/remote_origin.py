"""Real JWKS origins on 127.0.0.1 for the remote tests: they count what they receive.

Each :class:`Origin` is a threaded HTTP server (optionally TLS) whose answer
is set by the test through :class:`Reply`, and which records every request,
so a test can prove that a refused URI received nothing.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jwtseal import SigningKey


@dataclass
class Reply:
    """What the origin answers; a 304 is sent when ``If-None-Match`` equals ``ETag``."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stall: bool = False
    trickle: bool = False


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    server_name: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    origin: Origin

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up on a huge or slow answer are expected here."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        origin = self.server.origin
        origin.record(self)
        reply = origin.reply
        if reply.stall:
            origin.released.wait(10)
            return
        if reply.headers.get("ETag") is not None and self.headers["If-None-Match"] == reply.headers["ETag"]:
            self._head(304, reply.headers)
            return
        self._head(reply.status, {"Content-Length": str(len(reply.body)), **reply.headers})
        if not reply.trickle:
            self.wfile.write(reply.body)
            return
        for byte in reply.body:
            if origin.released.wait(0.05):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: pytest shows stderr of failing tests only, and it should be ours."""


class Origin:
    """A running origin; ``requests`` is every request it received."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.reply = Reply()
        self.requests: list[Seen] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._server_names = threading.local()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.origin = self
        self.scheme = "https" if tls else "http"
        if tls is not None:
            tls.sni_callback = self._remember_sni
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def url(self, path: str = "/jwks.json", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def serve_keys(self, *keys: SigningKey, **headers: str) -> None:
        """Answer with a JWKS of the public ``keys``; keyword names use ``_`` for ``-``."""
        body = json.dumps({"keys": [key.public.to_jwk() for key in keys]}).encode()
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        self.reply = Reply(headers={"Content-Type": "application/json", **named}, body=body)

    def record(self, handler: _Handler) -> None:
        name = getattr(self._server_names, "name", None)
        with self._lock:
            self.requests.append(Seen(handler.path, dict(handler.headers.items()), name))

    def _remember_sni(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: Any) -> None:
        self._server_names.name = name

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving: afterwards the port refuses connections."""
        if self._thread.is_alive():
            self.released.set()
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

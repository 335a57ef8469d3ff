"""One HTTP/1.1 connection: httptools parses, the router answers, in request order.

Why not an ASGI server: measured on one core, uvicorn's ASGI path cost more
per request than everything jwtseal does to answer ``GET /.well-known/jwks.json``
(see bench/SERVICE.md). This protocol does only what the service needs:
keep-alive, pipelining answered in order, ``Expect: 100-continue``, bounded
heads and bodies, back-pressure, and a clean close for shutdown and timeouts.

Every refusal is problem+json, and every limit is checked before the bytes
are kept: a head over :data:`MAX_HEAD` bytes (431), a body over
:data:`~jwtseal.http.routing.MAX_BODY` whether announced or sent (413), more
than :data:`MAX_PIPELINED` requests waiting on one connection, or bytes that
are not HTTP/1.1 (400).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable
from email.utils import formatdate
from http import HTTPStatus
from typing import Final, cast

import httptools

from .problems import Problem, problem
from .routing import MAX_BODY, Deferred, Request, Response, Router

__all__ = ["INVALID", "MAX_HEAD", "MAX_HEADERS", "MAX_PIPELINED", "Connection", "ConnectionState"]

MAX_HEAD: Final = 16_384
MAX_HEADERS: Final = 100
MAX_PIPELINED: Final = 64
INVALID: Final = "invalid"
"""The route label of requests refused before routing (not HTTP, too large)."""

_STATUS_LINES: Final = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status, status.phrase.encode()) for status in HTTPStatus
}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHOD_NAMES: Final = {
    method.encode(): method for method in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS")
}
_TOO_LARGE: Final = problem(413, "payload_too_large", f"The request body may be at most {MAX_BODY} bytes.")
_HEAD_TOO_LARGE: Final = problem(
    431,
    "headers_too_large",
    f"The request line and headers may be at most {MAX_HEAD} bytes and {MAX_HEADERS} fields.",
)
_NOT_HTTP: Final = problem(400, "invalid_request", "The request is not valid HTTP/1.1.")
_TOO_MANY: Final = problem(400, "invalid_request", f"At most {MAX_PIPELINED} pipelined requests may wait.")


class _Date:
    """The ``Date`` header, formatted once a second rather than once a request."""

    def __init__(self) -> None:
        self._second = 0
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._line


_date = _Date()


def _encode(response: Response, close: bool, head: bool = False) -> bytes:
    """The answer's bytes; for ``HEAD`` without the body, whose length it still announces."""
    start = b"%scontent-type: %s\r\ncontent-length: %d\r\n%s" % (
        _STATUS_LINES[response.status],
        response.content_type,
        len(response.body),
        _date.line(),
    )
    end = b"connection: close\r\n\r\n" if close else b"\r\n"
    return start + response.header_lines() + end + (b"" if head else response.body)


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the problem is kept on the connection."""


class ConnectionState:
    """What the server knows of its open connections: for timeouts and shutdown."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Future[None]] = set()
        """Answers waiting on I/O, kept referenced until they finish."""
        self.closing = False
        self.drained = asyncio.Event()
        """Set when shutting down and the last connection has closed."""

    def close_stale(self, keep_alive: float, read_timeout: float) -> None:
        """Close connections idle over ``keep_alive`` seconds, or sending a request over ``read_timeout``."""
        now = time.monotonic()
        for connection in list(self.connections):
            connection.close_if_stale(now, keep_alive, read_timeout)

    def shut_down(self) -> None:
        """Answers from now on say ``connection: close``; idle connections close at once."""
        self.closing = True
        for connection in list(self.connections):
            connection.close_when_done()
        self._check_drained()

    def abort(self) -> None:
        """Drop what is left after the grace period."""
        for task in self.tasks:
            task.cancel()
        for connection in list(self.connections):
            connection.abort()

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        self._check_drained()

    def _check_drained(self) -> None:
        if self.closing and not self.connections:
            self.drained.set()


class Connection(asyncio.Protocol):
    """Parses requests as they arrive and answers each, one at a time, in order."""

    _transport: asyncio.Transport

    def __init__(self, state: ConnectionState) -> None:
        self._state = state
        self._router = state.router
        self._observers = state.router.observers
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[tuple[Request, bool]] = deque()
        self._busy = False
        self._writable = True
        self._closed = False
        self._close_after = False
        self._refusal: Problem | None = None
        self._in_head = True
        self._head_bytes = 0
        self._idle_since: float | None = time.monotonic()
        self._reading_since: float | None = None
        self._reset_message()

    def _reset_message(self) -> None:
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._header_count = 0
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self._state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._queue.clear()
        self._state.forget(self)

    def pause_writing(self) -> None:
        """The client is not reading its answers: stop reading its requests too."""
        self._writable = False
        self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._writable = True
        self._transport.resume_reading()
        self._answer_next()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.close_when_done()  # answered as plain HTTP; the upgraded bytes are not ours
        except httptools.HttpParserError:
            self._refuse(self._refusal or _NOT_HTTP)
            return
        if self._in_head and self._head_bytes > MAX_HEAD:
            self._refuse(_HEAD_TOO_LARGE)

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._idle_since = None
        self._reading_since = time.monotonic()
        self._reset_message()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_size += len(name) + len(value) + 4
        if self._header_count > MAX_HEADERS or self._head_size > MAX_HEAD:
            self._stop(_HEAD_TOO_LARGE)
        self._headers.setdefault(name.lower(), value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > MAX_HEAD:  # the URL alone
            self._stop(_HEAD_TOO_LARGE)
        if self._parser.should_upgrade():
            self._close_after = True  # the bytes after this request are another protocol's
        announced = self._headers.get(b"content-length")
        if announced is not None and int(announced) > MAX_BODY:  # llhttp lets only digits through
            self._stop(_TOO_LARGE)
        if self._headers.get(b"expect", b"").lower() == b"100-continue":
            self._transport.write(_CONTINUE)

    def on_body(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._body_size > MAX_BODY:
            self._stop(_TOO_LARGE)
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._reading_since = None
        method = self._parser.get_method()
        path = self._url.partition(b"?")[0].decode("latin-1")
        request = Request(
            _METHOD_NAMES.get(method) or method.decode("ascii"), path, self._headers, b"".join(self._body)
        )
        close = not self._parser.should_keep_alive()
        if self._busy or self._queue or not self._writable or self._closed:
            if len(self._queue) >= MAX_PIPELINED:
                self._stop(_TOO_MANY)
            self._queue.append((request, close))
        else:
            self._answer(request, close)

    # answering

    def _answer_next(self) -> None:
        """Start the oldest waiting request, unless one is being answered or the client is not reading."""
        if self._busy or not self._queue or not self._writable or self._closed:
            return
        self._answer(*self._queue.popleft())

    def _answer(self, request: Request, close: bool) -> None:
        self._busy = True
        started = time.perf_counter()
        route, answer = self._router.route(request)
        if isinstance(answer, Response):
            self._respond(request, route, answer, close, started)
        elif isinstance(answer, Deferred):
            answer.then(lambda response: self._respond(request, route, response, close, started))
        else:
            self._transport.pause_reading()  # no more pipelined requests while this one waits on I/O
            task = asyncio.ensure_future(self._respond_later(request, route, answer, close, started))
            self._state.tasks.add(task)
            task.add_done_callback(self._state.tasks.discard)

    async def _respond_later(
        self, request: Request, route: str, answer: Awaitable[Response], close: bool, started: float
    ) -> None:
        response = await answer
        if not self._closed:
            self._transport.resume_reading()
        self._respond(request, route, response, close, started)

    def _respond(self, request: Request, route: str, response: Response, close: bool, started: float) -> None:
        self._busy = False
        if self._closed:  # the client went away meanwhile
            return
        close = close or self._close_after or self._state.closing
        self._transport.write(_encode(response, close, request.method == "HEAD"))
        elapsed = time.perf_counter() - started
        for observe in self._observers:
            observe(route, request.method, response, elapsed)
        if close:
            self._close()
        elif self._queue:
            self._answer_next()
        else:
            self._idle_since = time.monotonic()

    def _stop(self, refusal: Problem) -> None:
        self._refusal = refusal
        raise _Refused

    def _refuse(self, refusal: Problem) -> None:
        """Answer a problem for a request no handler saw, then close."""
        self._queue.clear()
        if not self._busy:
            response = Response.problem(refusal)
            self._transport.write(_encode(response, close=True))
            for observe in self._observers:
                observe(INVALID, "-", response, 0.0)
        self._close()

    # closing

    def close_when_done(self) -> None:
        """Close after the answers already owed, or now when none is."""
        if self._busy or self._queue:
            self._close_after = True
        else:
            self._close()

    def close_if_stale(self, now: float, keep_alive: float, read_timeout: float) -> None:
        idle = self._idle_since is not None and now - self._idle_since > keep_alive
        slow = self._reading_since is not None and now - self._reading_since > read_timeout
        if idle or slow:
            self._close()

    def abort(self) -> None:
        self._closed = True
        self._transport.abort()

    def _close(self) -> None:
        self._closed = True
        self._transport.close()

"""One HTTP/1.1 connection: a :class:`RequestReader` reads, the router answers, one writer, in order.

Why not an ASGI server: measured on one core, uvicorn's ASGI path cost more
per request than everything jwtseal does to answer ``GET /.well-known/jwks.json``
(see bench/SERVICE.md). This protocol does only what the service needs:
keep-alive, pipelining, ``Expect: 100-continue``, bounded heads and bodies,
back-pressure, timeouts, and a clean close for shutdown.

As in h11, reading is a state machine apart from I/O (:mod:`.reader`): bytes
in, events out. This module holds the rest of a connection's state: the
requests read and not yet answered, the one being answered, a refusal owed
after them, and its phase (``open``, then ``closing``: nothing more is read,
what is owed is still answered, then ``closed``). Answers are written by one
method, in request order, never from inside a parser callback: whatever
happens to a later request, every earlier one is answered first.

The failure rule: an exception anywhere after a request is read (its
handler, the store under it, or writing its answer) becomes a logged 500
problem for that request alone. Each answer written is recorded in the
router's :class:`~.journal.Journal`; its observers (the access log, the
metrics) take the records in batches, best effort: one that fails is logged
and never changes an answer.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Final, Literal, cast

from .journal import MAX_RECORDS
from .reader import MAX_HEAD, MAX_HEADERS, Refused, RequestReader
from .routing import UNMATCHED, Deferred, Request, Response, Router, error_response

__all__ = [
    "INVALID",
    "MAX_HEAD",
    "MAX_HEADERS",
    "MAX_PIPELINED",
    "SEND_TIMEOUT",
    "Connection",
    "ConnectionState",
]

MAX_PIPELINED: Final = 64
"""Requests read and waiting for their answer on one connection before it stops reading."""
SEND_TIMEOUT: Final = 30.0
"""Seconds a client may leave its answers unread (the send buffer full) before it is dropped."""
INVALID: Final = "invalid"
"""The route label of requests refused before routing (not HTTP, too large)."""

_STATUS_LINES: Final = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status, status.phrase.encode()) for status in HTTPStatus
}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_CLOSE: Final = b"connection: close\r\n\r\n"
_KEEP_ALIVE_10: Final = b"connection: keep-alive\r\n\r\n"
_GO_ON: Final = b"\r\n"
_LINGER_NONE: Final = struct.pack("ii", 1, 0)

Phase = Literal["open", "closing", "closed"]


_date: list[Any] = [0.0, 0.0, b""]
"""The second the ``Date`` line was formatted for (its start and end) and the line: once a second."""


def _encode(response: Response, end: bytes, head: bool = False) -> bytes:
    """The answer's bytes; for ``HEAD`` without the body, whose length it still announces.

    Raises:
        KeyError: ``response.status`` is not an HTTP status.
    """
    now = time.time()
    if not _date[0] <= now < _date[1]:  # a new second, or the clock was set back
        second = int(now)
        _date[:] = second, second + 1, b"date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
    body = response.body
    return b"%scontent-type: %s\r\ncontent-length: %d\r\n%s%s%s%s" % (
        _STATUS_LINES[response.status],
        response.content_type,
        len(body),
        _date[2],
        response.header_lines() if response.headers else b"",
        end,
        b"" if head else body,
    )


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

    def close_stale(self, keep_alive: float, read_timeout: float, send_timeout: float = SEND_TIMEOUT) -> None:
        """Close connections idle, slow to send a request, or not reading their answers, for too long."""
        now = time.monotonic()
        for connection in list(self.connections):
            connection.close_if_stale(now, keep_alive, read_timeout, send_timeout)

    def shut_down(self) -> None:
        """Read nothing more; answer what was read (``connection: close``); idle connections close at once."""
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
    """One connection's state machine: requests read, answered one at a time, in order."""

    _transport: asyncio.Transport

    def __init__(self, state: ConnectionState) -> None:
        self._state = state
        self._router = state.router
        self._journal = state.router.journal
        self._records = self._journal.records
        self._reader = RequestReader()
        self._waiting: deque[Request] = deque()
        self._phase: Phase = "open"
        self._answering = False
        self._refusal: Response | None = None
        """Written after every request read before the refused bytes; then the connection closes."""
        self._continue_owed = False
        self._reading = True
        self._writable = True
        self._blocked_since: float | None = None
        self._idle_since: float | None = time.monotonic()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self._state.connections.add(self)
        if self._state.closing:
            self.close_when_done()

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = "closed"
        self._waiting.clear()
        self._state.forget(self)

    def pause_writing(self) -> None:
        """The client is not reading its answers: stop reading its requests too, and start the send clock."""
        self._writable = False
        self._blocked_since = time.monotonic()
        self._update_reading()

    def resume_writing(self) -> None:
        self._writable = True
        self._blocked_since = None
        self._answer_waiting()
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        for event in self._reader.feed(data):
            if type(event) is Request:
                self._waiting.append(event)
                self._continue_owed = False  # its body came: no need to ask for it
            elif type(event) is Refused:
                self._refusal = Response.problem(event.problem)
                self._continue_owed = False
            else:
                self._continue_owed = True
        if self._reader.stopped and self._phase == "open":
            self._phase = "closing"
        self._answer_waiting()
        if self._waiting or self._phase != "open" or not self._reading:  # else reading goes on as it was
            self._update_reading()

    # the one writer

    def _answer_waiting(self) -> None:
        """Answer the oldest waiting requests; when none is owed, write what comes after them."""
        while self._waiting and not self._answering and self._writable and self._phase != "closed":
            self._answering = True
            self._answer(self._waiting.popleft())
        if self._answering or self._waiting or self._phase == "closed":
            return
        if self._refusal is not None:
            refusal, self._refusal = self._refusal, None
            self._transport.write(_encode(refusal, _CLOSE))
            self._record(INVALID, "-", refusal)
            self._close()
        elif self._phase == "closing":
            self._close()
        elif self._continue_owed:  # every earlier answer is written: now the client may send its body
            self._continue_owed = False
            self._transport.write(_CONTINUE)
        elif self._reader.reading_since is None:
            self._idle_since = time.monotonic()

    def _answer(self, request: Request) -> None:
        started = time.perf_counter()
        try:
            route, answer = self._router.route(request)
        except Exception as exc:
            self._respond(request, UNMATCHED, error_response(exc, request.path), started)
            return
        if type(answer) is Response:
            self._respond(request, route, answer, started)
        elif type(answer) is Deferred:
            answer.then(self._respond_later, request, route, started)
        else:
            task = asyncio.ensure_future(
                self._await(request, route, cast(Awaitable[Response], answer), started)
            )
            self._state.tasks.add(task)
            task.add_done_callback(self._state.tasks.discard)

    async def _await(self, request: Request, route: str, answer: Awaitable[Response], started: float) -> None:
        self._respond_later(await answer, request, route, started)

    def _respond_later(self, response: Response, request: Request, route: str, started: float) -> None:
        self._respond(request, route, response, started)
        self._answer_waiting()
        if not self._reading:  # else nothing can have paused it: pause_writing updates it itself
            self._update_reading()

    def _respond(self, request: Request, route: str, response: Response, started: float) -> None:
        """Write one answer; the last one on the connection says ``connection: close``."""
        self._answering = False
        if self._phase == "closed":  # the client went away meanwhile
            return
        last = not request.keep_alive or (
            self._phase == "closing" and not self._waiting and self._refusal is None
        )
        end = _CLOSE if last else _KEEP_ALIVE_10 if request.http10 else _GO_ON
        head = request.method == "HEAD"
        try:
            data = _encode(response, end, head)
        except Exception as exc:
            response = error_response(exc, request.path)
            data = _encode(response, end, head)
        self._transport.write(data)
        records = self._records
        records.append((route, request.method, response, started, time.perf_counter()))
        if len(records) >= MAX_RECORDS:
            self._journal.flush()
        if last:
            self._close()

    def _record(self, route: str, method: str, response: Response) -> None:
        """Record an answer given without a request: it took no time of ours."""
        now = time.perf_counter()
        self._records.append((route, method, response, now, now))
        if len(self._records) >= MAX_RECORDS:
            self._journal.flush()

    def _update_reading(self) -> None:
        """Read while open, writable and not too far ahead of the answers."""
        wanted = self._phase == "open" and self._writable and len(self._waiting) < MAX_PIPELINED
        if wanted == self._reading or self._phase == "closed":
            return
        self._reading = wanted
        if wanted:
            if self._reader.reading_since is not None:
                self._reader.reading_since = time.monotonic()  # its time was ours, not the client's
            self._transport.resume_reading()
        else:
            self._transport.pause_reading()

    # closing

    def close_when_done(self) -> None:
        """Read no more; close after the answers already owed, or now when none is."""
        if self._phase == "open":
            self._phase = "closing"
            self._update_reading()
            self._answer_waiting()

    def close_if_stale(self, now: float, keep_alive: float, read_timeout: float, send_timeout: float) -> None:
        if self._blocked_since is not None and now - self._blocked_since > send_timeout:
            self._reset()
            return
        idle = self._idle_since is not None and now - self._idle_since > keep_alive
        since = self._reader.reading_since
        slow = self._reading and since is not None and now - since > read_timeout
        if idle or slow:
            self._close()

    def _reset(self) -> None:
        """Drop a client that does not read: RST, so the kernel drops its unread answers too.

        As nginx's ``send_timeout`` with ``reset_timedout_connection``.
        """
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_NONE)
        self.abort()

    def abort(self) -> None:
        self._phase = "closed"
        self._waiting.clear()
        self._transport.abort()

    def _close(self) -> None:
        self._phase = "closed"
        self._waiting.clear()
        self._transport.close()

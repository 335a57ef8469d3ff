"""Serve a router on a listening socket: background jobs, timeouts, graceful shutdown.

On SIGTERM or SIGINT (or :meth:`HttpServer.stop`) the server first closes its
listening socket (new connections are refused, not left to hang), answers
every request it has already read (the last with ``connection: close``),
closes idle connections at once, waits at most :data:`GRACE` seconds for the
rest, and only then stops its background jobs, so the access log's last lines
are written and no key store write is cut short.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final

from .protocol import SEND_TIMEOUT, Connection, ConnectionState
from .routing import Router

__all__ = [
    "GRACE",
    "KEEP_ALIVE_TIMEOUT",
    "READ_TIMEOUT",
    "SEND_TIMEOUT",
    "HttpServer",
    "event_loop_runner",
    "listen",
]

KEEP_ALIVE_TIMEOUT: Final = 5.0
"""Seconds an idle keep-alive connection stays open."""
READ_TIMEOUT: Final = 10.0
"""Seconds a client has to send one whole request, once it has started."""
GRACE: Final = 10.0
"""Seconds in-flight requests get to finish at shutdown."""
_SWEEP_INTERVAL: Final = 1.0


def event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop's ``run`` where uvloop is installed (it is not on Windows), else asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional: only where the platform has it
    except ImportError:
        return asyncio.run
    return uvloop.run


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound before any worker starts so all of them share it.

    Raises:
        OSError: the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


class HttpServer:
    """One event loop's server for ``router`` on an already listening ``sock``."""

    def __init__(
        self,
        router: Router,
        sock: socket.socket,
        *,
        keep_alive: float = KEEP_ALIVE_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        send_timeout: float = SEND_TIMEOUT,
        grace: float = GRACE,
    ) -> None:
        self._router = router
        self._sock = sock
        self._keep_alive = keep_alive
        self._read_timeout = read_timeout
        self._send_timeout = send_timeout
        self._grace = grace
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        """Set once the server accepts connections."""

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT (on uvloop when installed); returns after a graceful shutdown."""
        event_loop_runner()(self.serve(handle_signals=True))

    async def serve(self, *, handle_signals: bool = False) -> None:
        """Serve until :meth:`stop` (or a signal, with ``handle_signals``), then shut down gracefully."""
        self._loop = loop = asyncio.get_running_loop()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stopping.set)
        state = ConnectionState(self._router)
        jobs = [asyncio.create_task(job()) for job in self._router.background]
        server = await loop.create_server(lambda: Connection(state), sock=self._sock, backlog=2048)
        sweeper = asyncio.create_task(self._sweep(state))
        self.started.set()
        await self._stopping.wait()
        server.close()  # the listening socket first: new connections are refused from now on
        state.shut_down()
        try:
            await asyncio.wait_for(state.drained.wait(), self._grace)
        except TimeoutError:
            state.abort()
        for task in (sweeper, *jobs):
            task.cancel()
        await asyncio.gather(sweeper, *jobs, return_exceptions=True)

    def stop(self) -> None:
        """Ask a running server to shut down; safe to call from any thread."""
        assert self._loop is not None, "stop() before serve() started"
        self._loop.call_soon_threadsafe(self._stopping.set)

    async def _sweep(self, state: ConnectionState) -> None:
        """Close idle, too-slow and never-reading connections, checked on a timer rather than per request."""
        interval = min(_SWEEP_INTERVAL, self._keep_alive / 4, self._read_timeout / 4, self._send_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            state.close_stale(self._keep_alive, self._read_timeout, self._send_timeout)

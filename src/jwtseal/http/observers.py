"""The access log: one JSON line per answered request, written in batches.

It is the hot path's costliest side effect, so a request only appends its
facts to a list; lines are formatted and written together, at most every
:data:`FLUSH_INTERVAL` seconds or :data:`MAX_PENDING` requests. Formatting a
batch in one loop also keeps that code warm in the CPU's caches instead of
evicting the cryptography's between two requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from json.encoder import encode_basestring_ascii as _quote
from typing import Final, TextIO

from .routing import Response

__all__ = ["FLUSH_INTERVAL", "MAX_PENDING", "AccessLog"]

FLUSH_INTERVAL: Final = 0.2
MAX_PENDING: Final = 512

_Record = tuple[float, str, str, int, float, dict[str, str]]


class AccessLog:
    """One JSON line per request (route, status, duration, problem code, kid), batched.

    Lines have the shape of :class:`jwtseal.logs.JsonFormatter`'s, every
    string escaped as JSON, formatted by hand rather than through a ``dict``
    and ``json.dumps``.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._pending: list[_Record] = []

    def __call__(self, route: str, method: str, response: Response, seconds: float) -> None:
        self._pending.append((time.time(), route, method, response.status, seconds, response.facts))
        if len(self._pending) >= MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        records, self._pending = self._pending, []
        stream = self._stream or sys.stderr
        with contextlib.suppress(
            OSError, ValueError
        ):  # a full or closed sink: these lines are lost, no answer
            stream.write("".join(map(_line, records)))
            stream.flush()

    async def run(self) -> None:
        """Flush on a timer for the life of the server, and once more at shutdown."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL)
                self.flush()
        finally:
            self.flush()


def _line(record: _Record) -> str:
    at, route, method, status, seconds, facts = record
    second = int(at)
    extra = "".join([f', "{name}": {_quote(value)}' for name, value in facts.items()]) if facts else ""
    return (
        f'{{"ts": "{_iso_second(second)}.{int((at - second) * 1000):03d}+00:00", "level": "info", '
        f'"logger": "jwtseal.access", "event": "request", "route": {_quote(route)}, '
        f'"method": {_quote(method)}, "status": {status}, "duration_ms": {seconds * 1000:.3f}{extra}}}\n'
    )


_iso_cache: dict[int, str] = {}


def _iso_second(second: int) -> str:
    """ISO 8601 in UTC up to the second, formatted once per second seen."""
    text = _iso_cache.get(second)
    if text is None:
        _iso_cache.clear()  # lines come in time order: only the latest second is worth keeping
        text = _iso_cache[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return text

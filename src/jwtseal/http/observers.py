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
            stream.write(_lines(records))
            stream.flush()

    async def run(self) -> None:
        """Flush on a timer for the life of the server, and once more at shutdown."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL)
                self.flush()
        finally:
            self.flush()


def _lines(records: list[_Record]) -> str:
    """The records' lines, in one loop: the parts that repeat are formatted once and kept."""
    lines = []
    second, iso = -1, ""
    for at, route, method, status, seconds, facts in records:
        millis = int(at * 1000)
        if millis // 1000 != second:
            second = millis // 1000
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        middle = _middles.get((route, method, status)) or _middle(route, method, status)
        fact_items = tuple(facts.items())
        end = _ends.get(fact_items) or _end(fact_items)
        lines.append(f'{{"ts": "{iso}.{_THREE_DIGITS[millis % 1000]}{middle}{seconds * 1000:.3f}{end}')
    return "".join(lines)


_THREE_DIGITS: Final = [f"{n:03d}" for n in range(1000)]  # a format spec is parsed on every use
_middles: dict[tuple[str, str, int], str] = {}
_ends: dict[tuple[tuple[str, str], ...], str] = {}
_MAX_KEPT: Final = 1024  # routes are few, but kids and problem codes in facts could grow


def _middle(route: str, method: str, status: int) -> str:
    """From the timestamp's end to ``duration_ms``'s value: the same for every request of a route."""
    if len(_middles) >= _MAX_KEPT:
        _middles.clear()
    text = _middles[route, method, status] = (
        '+00:00", "level": "info", "logger": "jwtseal.access", "event": "request", '
        f'"route": {_quote(route)}, "method": {_quote(method)}, "status": {status}, "duration_ms": '
    )
    return text


def _end(facts: tuple[tuple[str, str], ...]) -> str:
    """The facts (problem ``code``, ``kid``, ``alg``) as members, and the line's end."""
    if len(_ends) >= _MAX_KEPT:
        _ends.clear()
    text = _ends[facts] = "".join([f", {_quote(name)}: {_quote(value)}" for name, value in facts]) + "}\n"
    return text

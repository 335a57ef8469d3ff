"""The access log: one JSON line per answered request, written a batch of the journal at a time.

Formatting a batch in one loop keeps that code warm in the CPU's caches
instead of evicting the cryptography's between two requests, and lets the
parts that repeat (a kind of answer's, a millisecond's timestamp) be
formatted once.
"""

from __future__ import annotations

import contextlib
import sys
import time
from json.encoder import encode_basestring_ascii as _quote
from typing import Final, TextIO

from .journal import Record
from .routing import Facts

__all__ = ["AccessLog"]


class AccessLog:
    """One JSON line per request (route, status, duration, problem code, kid): a journal observer.

    Lines have the shape of :class:`jwtseal.logs.JsonFormatter`'s, every
    string escaped as JSON, formatted by hand rather than through a ``dict``
    and ``json.dumps``.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def __call__(self, records: list[Record]) -> None:
        stream = self._stream or sys.stderr
        with contextlib.suppress(OSError, ValueError):  # a full or closed sink: these lines are lost
            stream.write(_lines(records, time.time() - time.perf_counter()))
            stream.flush()


def _lines(records: list[Record], wall_offset: float) -> str:
    """The records' lines; ``wall_offset`` turns their ``perf_counter`` times into wall-clock times.

    Records come oldest first, so a timestamp is formatted once per
    millisecond: ``edge`` is when the next one begins.
    """
    lines = []
    second, iso, stamp, edge = -1, "", "", float("-inf")
    for route, method, response, started, ended in records:
        if ended >= edge:
            millis = int((ended + wall_offset) * 1000)
            edge = (millis + 1) / 1000 - wall_offset
            if millis // 1000 != second:
                second = millis // 1000
                iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            stamp = f'{{"ts": "{iso}.{_THREE_DIGITS[millis % 1000]}'
        kind = route, method, response.status, response.facts
        middle, end = _kinds.get(kind) or _kind(kind)
        lines.append(f"{stamp}{middle}{(ended - started) * 1000:.3f}{end}")
    return "".join(lines)


_THREE_DIGITS: Final = [f"{n:03d}" for n in range(1000)]  # a format spec is parsed on every use
_kinds: dict[tuple[str, str, int, Facts], tuple[str, str]] = {}
"""A kind of answer's line around its duration: the part before (from the timestamp's end) and after."""
_MAX_KEPT: Final = 1024  # routes are few, but kids and problem codes in facts could grow


def _kind(kind: tuple[str, str, int, Facts]) -> tuple[str, str]:
    if len(_kinds) >= _MAX_KEPT:
        _kinds.clear()
    route, method, status, facts = kind
    middle = (
        '+00:00", "level": "info", "logger": "jwtseal.access", "event": "request", '
        f'"route": {_quote(route)}, "method": {_quote(method)}, "status": {status}, "duration_ms": '
    )
    end = "".join([f", {_quote(name)}: {_quote(value)}" for name, value in facts.items()]) + "}\n"
    _kinds[kind] = middle, end
    return middle, end

"""The access log: one JSON line per answered request, written a batch of the journal at a time.

Formatting a batch in one loop keeps that code warm in the CPU's caches
instead of evicting the cryptography's between two requests, and lets the
parts that repeat (a route's, a response's facts, a millisecond's timestamp)
be formatted once.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _quote
from typing import Final, TextIO

from .journal import Record

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
        middle = _middles.get((route, method, response.status)) or _middle(route, method, response.status)
        facts = response.facts
        kept = _ends.get(id(facts))
        end = kept[1] if kept is not None and kept[0] is facts else _end(facts)
        lines.append(f"{stamp}{middle}{(ended - started) * 1000:.3f}{end}")
    return "".join(lines)


_THREE_DIGITS: Final = [f"{n:03d}" for n in range(1000)]  # a format spec is parsed on every use
_middles: dict[tuple[str, str, int], str] = {}
_ends: dict[int, tuple[Mapping[str, str], str]] = {}
"""Facts' formatted ends by the facts' identity: answers share their facts (see ``Response``).

The entry holds the facts, so their ``id`` cannot be reused while it is kept.
"""
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


def _end(facts: Mapping[str, str]) -> str:
    """The facts (problem ``code``, ``kid``, ``alg``) as members, and the line's end."""
    if len(_ends) >= _MAX_KEPT:
        _ends.clear()
    text = "".join([f", {_quote(name)}: {_quote(value)}" for name, value in facts.items()]) + "}\n"
    _ends[id(facts)] = (facts, text)
    return text

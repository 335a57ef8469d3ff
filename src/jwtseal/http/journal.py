"""What the observers (the access log, the metrics) learn of each answer: a record now, a batch later.

Why batches: calling the access log and the metrics for each answer was the
costliest part of what the server adds to a decode (22k of its 60k
instructions, bench/SERVICE.md), so the server only appends one :data:`Record` to
:attr:`Journal.records`, calling nothing; the observers take the records
together, every :data:`FLUSH_INTERVAL` seconds, at :data:`MAX_RECORDS`
records, before a metrics scrape and at shutdown.

Observers are best effort: one that raises is logged once for its batch and
changes no answer and no other observer's batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from .failures import log_failure

if TYPE_CHECKING:
    from .routing import Response

__all__ = ["FLUSH_INTERVAL", "MAX_RECORDS", "Journal", "Observer", "Record"]

FLUSH_INTERVAL: Final = 0.2
MAX_RECORDS: Final = 64
"""Small on purpose: records (and the answers in them) that live for 64 requests die young, so
the garbage collector never runs under a steady load; at 512 they outlived a collection or two
and brought on full ones (measured in-process: 93 collections, 40 ms, per 24,000 requests)."""

Record = tuple[str, str, "Response", float, float]
"""(route, method, response, started, ended): ``time.perf_counter()`` when reading ended and writing did."""
Observer = Callable[[list[Record]], None]
"""Takes a batch of records, oldest first."""


class Journal:
    """The answered requests' records, until the observers take them."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self.observers = tuple(observers)
        self.records: list[Record] = []
        """Appended to by the server; always this list, so a connection may keep it."""

    def flush(self) -> None:
        """Hand the records to every observer; one that fails is logged and the others still run."""
        if not self.records:
            return
        records = self.records.copy()
        self.records.clear()
        for observe in self.observers:
            try:
                observe(records)
            except Exception as exc:
                log_failure("observer failed", exc, ", ".join(sorted({record[0] for record in records})))

    async def run(self) -> None:
        """Flush on a timer for the life of the server, and once more at shutdown."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL)
                self.flush()
        finally:
            self.flush()

"""Prometheus metrics: requests, tokens issued, verifications, remote JWKS, key ages.

Counted in plain integers, a journal batch at a time, and written out in
the text format at scrape time (the journal is flushed first, so a scrape
counts every answer before it): prometheus_client's labelled counters and
histogram cost about as much per request as the rest of a JWKS answer, and
in multiprocess mode each increment is a locked write to a memory-mapped
file.

With several workers (``jwtseal serve --workers N``) each process also keeps
a snapshot of its counts in ``JWTSEAL_METRICS_DIR`` (one JSON file per
process, replaced atomically every :data:`SAVE_INTERVAL` seconds when it
changed, and at every scrape), and a scrape of any worker adds them all up:
other workers' counts are at most that interval behind, plus the journal's
:data:`~jwtseal.http.journal.FLUSH_INTERVAL`. A worker that exits
leaves its last snapshot, so totals never go down. Key ages are read from
the shared store at scrape time and need no adding up.

Metrics are best effort: a directory that was removed is made again (and
logged once), a snapshot that cannot be written or read is left out, and a
scrape always answers with at least this process's own counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import compress
from operator import add, attrgetter, sub
from pathlib import Path
from typing import Any, Final

from ..keyring import KeyRing
from .journal import Record

__all__ = ["CONTENT_TYPE", "SAVE_INTERVAL", "Metrics"]

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
SAVE_INTERVAL: Final = 0.2
BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# name: (help, label names), in the order they are written
_COUNTERS: Final = {
    "jwtseal_http_requests": ("HTTP requests by route, method and status.", ("route", "method", "status")),
    "jwtseal_tokens_issued": ("Tokens issued by kid and alg.", ("kid", "alg")),
    "jwtseal_verifications": ("Verifications by result: ok or the problem code.", ("result",)),
    "jwtseal_remote_jwks_events": (
        "Remote JWKS fetches, cache hits, revalidations, stale serves and cooldown refusals.",
        ("event", "origin"),
    ),
}
_LATENCY: Final = "jwtseal_http_request_duration_seconds"

logger = logging.getLogger("jwtseal.metrics")

Labels = tuple[str, ...]
Counts = dict[str, dict[Labels, int]]
Histogram = dict[Labels, tuple[list[int], float]]


_status: Final = attrgetter("status")
_facts: Final = attrgetter("facts")


def _add(counts: dict[Labels, int], labels: Labels, n: int) -> None:
    counts[labels] = counts.get(labels, 0) + n


def _bucket_counts(durations: list[float]) -> list[int]:
    """How many ``durations`` fall in each of :data:`BUCKETS` (upper bounds included), then above."""
    durations.sort()
    below = [bisect_right(durations, bound) for bound in BUCKETS]
    return [n - before for n, before in zip([*below, len(durations)], [0, *below], strict=True)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Iterable[str], values: Iterable[str]) -> str:
    pairs = ",".join(f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True))
    return "{" + pairs + "}" if pairs else ""


class Metrics:
    """The service's metrics; one instance per process."""

    def __init__(self, clock: Callable[[], float] = time.time, directory: Path | None = None) -> None:
        self._clock = clock
        self._directory = directory
        self._latency: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = {}
        self._counts: Counts = {name: {} for name in _COUNTERS}
        self._keyring: KeyRing | None = None
        self._dirty = False
        self._troubles: set[str] = set()

    # counting: a journal observer, so counts are made in batches

    def __call__(self, records: list[Record]) -> None:
        """Count a batch of answered requests.

        Each request's own step is taken in C (``zip``, ``map``, ``Counter``,
        ``sort``); Python then loops over the batch's kinds of answer (route,
        method, status and facts: a handful) rather than over its requests,
        which matters at ten thousand requests a second.
        """
        routes, methods, responses, starts, ends = zip(*records, strict=True)
        kinds = Counter(zip(routes, methods, map(_status, responses), map(_facts, responses), strict=True))
        counts = self._counts
        for (route, method, status, facts), n in kinds.items():
            labels = (route, method if method in _METHODS else "OTHER", str(status))
            _add(counts["jwtseal_http_requests"], labels, n)
            if route == "/decode":
                _add(counts["jwtseal_verifications"], (facts.get("code", "ok"),), n)
            elif route == "/encode" and status == 200:
                _add(counts["jwtseal_tokens_issued"], (facts["kid"], facts["alg"]), n)
        seconds = list(map(sub, ends, starts))
        distinct = set(routes)
        for route in distinct:
            durations = seconds if len(distinct) == 1 else list(compress(seconds, map(route.__eq__, routes)))
            buckets = self._latency.setdefault(route, [0] * (len(BUCKETS) + 1))
            self._latency[route] = list(map(add, buckets, _bucket_counts(durations)))
            self._latency_sum[route] = self._latency_sum.get(route, 0.0) + sum(durations)
        self._dirty = True

    def remote_event(self, event: str, origin: str) -> None:
        self._count("jwtseal_remote_jwks_events", (event, origin))

    def _count(self, name: str, labels: Labels) -> None:
        counts = self._counts[name]
        counts[labels] = counts.get(labels, 0) + 1
        self._dirty = True

    def track_keys(self, keyring: KeyRing) -> None:
        """Export the key ring's ages and schedule at every scrape."""
        self._keyring = keyring

    # sharing between workers

    def snapshot(self) -> dict[str, Any]:
        """This process's counts, as JSON-ready lists."""
        counts = {
            name: [[list(labels), n] for labels, n in found.items()] for name, found in self._counts.items()
        }
        latency = [[route, buckets, self._latency_sum[route]] for route, buckets in self._latency.items()]
        return {"counts": counts, "latency": latency}

    def save(self) -> None:
        """Replace this process's snapshot file, if metrics are shared; never raises."""
        if self._directory is not None:
            self._save(self._directory, self.snapshot())

    def _save(self, directory: Path, snapshot: dict[str, Any]) -> None:
        path = directory / f"{os.getpid()}.json"
        temporary = path.with_suffix(".tmp")
        try:
            if not directory.is_dir():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._trouble("metrics directory was missing; made it again", directory)
            temporary.write_text(json.dumps(snapshot))
            temporary.replace(path)
        except OSError:
            self._trouble("metrics snapshot not written; scrapes count this process from memory", directory)
            return
        self._dirty = False

    def _trouble(self, event: str, directory: Path) -> None:
        """Log each kind of trouble once per process, with the exception if there is one."""
        if event not in self._troubles:
            self._troubles.add(event)
            logger.warning(event, exc_info=True, extra={"fields": {"directory": str(directory)}})

    async def run(self) -> None:
        """Save the snapshot on a timer for the life of the server, and once more at shutdown."""
        try:
            while True:
                await asyncio.sleep(SAVE_INTERVAL)
                if self._dirty:
                    self.save()
        finally:
            self.save()

    def _snapshots(self) -> list[dict[str, Any]]:
        """This process's counts from memory, and every other process's from its file."""
        own = self.snapshot()
        if self._directory is None:
            return [own]
        self._save(self._directory, own)
        others = []
        for path in self._directory.glob("*.json"):
            if path.stem == str(os.getpid()):
                continue
            try:
                others.append(json.loads(path.read_text()))
            except (OSError, ValueError):  # gone since the listing, or torn by hand: left out
                continue
        return [own, *others]

    # the text format

    def exposition(self) -> bytes:
        """The text format for one scrape: every process's counts added up, and the key gauges."""
        counts: dict[str, dict[Labels, int]] = {name: {} for name in _COUNTERS}
        latency: Histogram = {}
        for snapshot in self._snapshots():
            for name, found in snapshot["counts"].items():
                for labels, n in found:
                    key = tuple(labels)
                    counts[name][key] = counts[name].get(key, 0) + n
            for route, buckets, total in snapshot["latency"]:
                known, known_total = latency.get((route,), ([0] * len(buckets), 0.0))
                latency[(route,)] = (
                    [a + b for a, b in zip(known, buckets, strict=True)],
                    known_total + total,
                )
        lines: list[str] = []
        for name, (help_text, label_names) in _COUNTERS.items():
            lines += [f"# HELP {name}_total {help_text}", f"# TYPE {name}_total counter"]
            lines += [
                f"{name}_total{_labels(label_names, key)} {n}" for key, n in sorted(counts[name].items())
            ]
        lines += _histogram_lines(latency)
        lines += self._key_lines()
        return ("\n".join(lines) + "\n").encode()

    def _key_lines(self) -> list[str]:
        assert self._keyring is not None, "track_keys() is called when the service is built"
        keyset = self._keyring.view().keyset
        now = self._clock()
        lines = [
            "# HELP jwtseal_current_key_age_seconds Seconds since the current signing key started signing.",
            "# TYPE jwtseal_current_key_age_seconds gauge",
            f"jwtseal_current_key_age_seconds {now - keyset.current.activates_at}",
            "# HELP jwtseal_seconds_until_rotation Seconds until the next key is due to start signing.",
            "# TYPE jwtseal_seconds_until_rotation gauge",
            f"jwtseal_seconds_until_rotation {keyset.current.retires_at - now}",
            "# HELP jwtseal_published_keys Keys in the JWKS, by state.",
            "# TYPE jwtseal_published_keys gauge",
        ]
        for state in ("current", "next", "retired"):
            published = sum(record.state == state for record in keyset.keys)
            lines.append(f'jwtseal_published_keys{{state="{state}"}} {published}')
        return lines


def _histogram_lines(latency: Histogram) -> list[str]:
    name = _LATENCY
    lines = [f"# HELP {name} HTTP request latency by route.", f"# TYPE {name} histogram"]
    for (route,), (buckets, total) in sorted(latency.items()):
        cumulative = 0
        for bound, n in zip((*map(str, BUCKETS), "+Inf"), buckets, strict=True):
            cumulative += n
            lines.append(f'{name}_bucket{{route="{_escape(route)}",le="{bound}"}} {cumulative}')
        lines.append(f'{name}_sum{{route="{_escape(route)}"}} {total}')
        lines.append(f'{name}_count{{route="{_escape(route)}"}} {cumulative}')
    return lines

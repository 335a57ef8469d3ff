"""Prometheus metrics: requests, tokens issued, verifications, remote JWKS, key ages.

With several workers (``jwtseal serve --workers N``) each process writes its
counters to ``PROMETHEUS_MULTIPROC_DIR`` and a scrape of any worker adds them
up. Key ages are read from the shared store at scrape time, so they need no
aggregation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ..keyring import KeyRing

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _KeyCollector(Collector):
    """Key ages and the rotation schedule, computed from the key ring at scrape time."""

    def __init__(self, keyring: KeyRing, clock: Callable[[], float]) -> None:
        self._keyring = keyring
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        keyset = self._keyring.view().keyset
        now = self._clock()
        yield GaugeMetricFamily(
            "jwtseal_current_key_age_seconds",
            "Seconds since the current signing key started signing.",
            value=now - keyset.current.activates_at,
        )
        yield GaugeMetricFamily(
            "jwtseal_seconds_until_rotation",
            "Seconds until the next key is due to start signing.",
            value=keyset.current.retires_at - now,
        )
        published = GaugeMetricFamily(
            "jwtseal_published_keys", "Keys in the JWKS, by state.", labels=["state"]
        )
        for state in ("current", "next", "retired"):
            published.add_metric([state], sum(record.state == state for record in keyset.keys))
        yield published


class Metrics:
    """The service's metrics; one instance per process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        own = None if self._multiprocess else self.registry
        self.requests = Counter(
            "jwtseal_http_requests", "HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=own,
        )  # fmt: skip
        self.latency = Histogram(
            "jwtseal_http_request_duration_seconds", "HTTP request latency by route.",
            ["route"], buckets=_BUCKETS, registry=own,
        )  # fmt: skip
        self.issued = Counter(
            "jwtseal_tokens_issued", "Tokens issued by kid and alg.", ["kid", "alg"], registry=own
        )
        self.verifications = Counter(
            "jwtseal_verifications",
            "Verifications by result: ok or the problem code.",
            ["result"],
            registry=own,
        )
        self.remote = Counter(
            "jwtseal_remote_jwks_events",
            "Remote JWKS fetches, cache hits, revalidations, stale serves and cooldown refusals.",
            ["event", "origin"],
            registry=own,
        )
        if self._multiprocess:
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._counters: dict[tuple[Counter, tuple[str, ...]], Counter] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request; labelled children are looked up once, then reused."""
        key = (route, method if method in _METHODS else "OTHER", status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(key[0], key[1], str(status)), self.latency.labels(route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def token_issued(self, kid: str, alg: str) -> None:
        self._child(self.issued, kid, alg).inc()

    def verification(self, result: str) -> None:
        self._child(self.verifications, result).inc()

    def _child(self, metric: Counter, *labels: str) -> Counter:
        key = (metric, labels)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = metric.labels(*labels)
        return child

    def track_keys(self, keyring: KeyRing) -> None:
        """Export the key ring's ages and schedule at every scrape."""
        self.registry.register(_KeyCollector(keyring, self._clock))

    def remote_event(self, event: str, origin: str) -> None:
        self._child(self.remote, event, origin).inc()

    def exposition(self) -> bytes:
        """The text format for one scrape."""
        return generate_latest(self.registry)

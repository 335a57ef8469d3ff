"""What every answered request feeds: the access log and the metrics."""

from __future__ import annotations

import logging

from .asgi import Observer, Response
from .metrics import Metrics

__all__ = ["access_log", "metrics_observer"]

_access = logging.getLogger("jwtseal.access")


def access_log(route: str, method: str, response: Response, seconds: float) -> None:
    """One JSON line per request: route, status, duration, problem code, kid."""
    if _access.isEnabledFor(logging.INFO):
        fields = {"route": route, "method": method, "status": response.status}
        fields["duration_ms"] = round(seconds * 1000, 3)
        _access.info("request", extra={"fields": {**fields, **response.facts}})


def metrics_observer(metrics: Metrics) -> Observer:
    def observe(route: str, method: str, response: Response, seconds: float) -> None:
        metrics.requests.labels(route, method, str(response.status)).inc()
        metrics.latency.labels(route).observe(seconds)
        facts = response.facts
        if route == "/encode" and response.status == 200:
            metrics.issued.labels(facts["kid"], facts["alg"]).inc()
        elif route == "/decode":
            metrics.verifications.labels(facts.get("code", "ok")).inc()

    return observe

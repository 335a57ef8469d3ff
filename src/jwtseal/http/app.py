"""The HTTP service: ``create_app(settings)`` builds the router every server process runs."""

from __future__ import annotations

import asyncio
import logging

from ..apikeys import ApiKeys
from ..errors import KeyStoreError
from ..keyring import KeyRing
from ..service import Service
from ..settings import Settings
from ..stores.base import KeyStore
from .endpoints import Endpoints
from .journal import Journal
from .metrics import Metrics
from .observers import AccessLog
from .page import page_routes
from .routing import Router

__all__ = ["create_app"]

logger = logging.getLogger("jwtseal.keys")


async def _maintain_keys(keyring: KeyRing, interval: float) -> None:
    """Rotate and remove keys on schedule, off the request path."""
    while True:
        await asyncio.sleep(interval)
        try:
            changed = await asyncio.to_thread(keyring.maintain)
        except KeyStoreError as exc:
            logger.warning("key maintenance failed", extra={"fields": {"detail": exc.detail}})
            continue
        if changed is not None:
            fields = {"version": changed.version, "current": changed.current.kid, "next": changed.next.kid}
            logger.info("key set changed", extra={"fields": fields})


def create_app(
    settings: Settings,
    *,
    store: KeyStore | None = None,
    service: Service | None = None,
    api_keys: ApiKeys | None = None,
    maintenance_interval: float = 1.0,
) -> Router:
    """The router for ``settings``, on ``store`` (default: the data dir).

    A ready ``service`` may be handed in instead (tests do); its remote JWKS
    events then bypass the metrics.

    Raises:
        KeyStoreError: the key store is unreadable or corrupt.
    """
    metrics = Metrics(directory=settings.metrics_dir)
    service = service or Service.open(settings, store, on_remote_event=metrics.remote_event)
    keyring = service.keyring
    metrics.track_keys(keyring)
    if api_keys is None:
        configured = settings.api_keys
        api_keys = ApiKeys.from_keys(configured) if configured else ApiKeys.from_store(keyring.store)[0]
    journal = Journal([AccessLog(), metrics])
    endpoints = Endpoints(service, api_keys, metrics, journal)
    return Router(
        {
            "/.well-known/jwks.json": {"GET": endpoints.jwks},
            "/.well-known/openid-configuration": {"GET": endpoints.openid_configuration},
            "/encode": {"POST": endpoints.encode},
            "/decode": {"POST": endpoints.decode},
            "/keys": {"GET": endpoints.keys},
            "/healthz": {"GET": endpoints.healthz},
            "/readyz": {"GET": endpoints.readyz},
            "/metrics": {"GET": endpoints.metrics_text},
            "/openapi.json": {"GET": endpoints.openapi_json},
            **page_routes(),
        },
        background=[lambda: _maintain_keys(keyring, maintenance_interval), metrics.run],
        journal=journal,
    )

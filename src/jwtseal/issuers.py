"""TrustedIssuer: which issuers an application trusts, and where their keys are.

A token's ``iss`` picks one of the configured issuers by exact match before
any key is looked up, so a token can never choose which URL is fetched, and
a key of issuer A never verifies a token that claims issuer B. An issuer
without a ``jwks_uri`` is discovered once from its OpenID metadata, which is
refused unless its ``issuer`` equals the configured one exactly.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from ._netguard import AddressGuard
from ._token import KeySource
from .errors import JwksUnavailable
from .jwks_cache import JWKSCache, RemoteKeys, _flight

__all__ = ["TrustedIssuer"]

DISCOVERY_PATH = "/.well-known/openid-configuration"
_WEB = ("http://", "https://")


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer whose tokens are accepted: by its ``iss``, with its keys.

    Give exactly one of ``jwks_uri`` (a remote key set), ``keys`` (local
    keys: a key ring or a parsed JWKS file), or neither to discover the key
    set from ``{issuer}/.well-known/openid-configuration``.
    """

    issuer: str
    jwks_uri: str | None = None
    keys: KeySource | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer:
            raise TypeError("issuer must be a non-empty string")
        if self.jwks_uri is not None and self.keys is not None:
            raise TypeError("give jwks_uri or keys, not both")

    @property
    def discovery_uri(self) -> str:
        return self.issuer.rstrip("/") + DISCOVERY_PATH


class IssuerKeys:
    """One configured issuer's key source, discovered at first use when it has no ``jwks_uri``."""

    def __init__(self, trusted: TrustedIssuer, cache: JWKSCache, *, retry_after: float = 30.0) -> None:
        self.trusted = trusted
        self._cache = cache
        configured = (trusted.issuer, trusted.jwks_uri)  # an iss need not be a URL (RFC 7519: StringOrURI)
        self._guard = AddressGuard(tuple(uri for uri in configured if uri and uri.startswith(_WEB)))
        self._source: KeySource | RemoteKeys | None = trusted.keys
        if trusted.jwks_uri is not None:
            self._source = cache.at(trusted.jwks_uri, self._guard)
        self._lock = threading.Lock()
        self._discovery: Future[None] | None = None
        self._failure: JwksUnavailable | None = None
        self._failed_at, self._retry_after = -math.inf, retry_after

    def source(self) -> KeySource | RemoteKeys:
        """The key source, discovering it first when needed: blocks a thread.

        Raises:
            JwksUnavailable: the metadata could not be fetched or is refused.
            JwksUriNotAllowed: the guard refused a URI.
        """
        if self._source is None:
            future = self._start_discovery()
            if future is not None:
                _flight.wait(future, 2 * self._cache.fetcher.timeout + 1)
        return self._discovered()

    async def asource(self) -> KeySource | RemoteKeys:
        """:meth:`source` for asyncio.

        Raises:
            JwksUnavailable, JwksUriNotAllowed: see :meth:`source`.
        """
        if self._source is None:
            future = self._start_discovery()
            if future is not None:
                await _flight.await_(future, 2 * self._cache.fetcher.timeout + 1)
        return self._discovered()

    def _discovered(self) -> KeySource | RemoteKeys:
        if self._source is None:
            raise self._failure or JwksUnavailable("The issuer's metadata could not be fetched.")
        return self._source

    def _start_discovery(self) -> Future[None] | None:
        """The discovery to wait for; None while a failed one waits to be retried.

        A discovery that finished just before the lock was taken costs one
        more metadata fetch, once, at start-up: cheaper than another check.
        """
        with self._lock:
            if self._discovery is None and time.monotonic() >= self._failed_at + self._retry_after:
                self._discovery = _flight.start(self._discover, self._discovered_done)
            return self._discovery

    def _discovered_done(self) -> None:
        with self._lock:
            self._discovery = None

    def _discover(self) -> None:
        """On the fetch thread: read the metadata, check its issuer, keep its ``jwks_uri``."""
        try:
            jwks_uri = self._fetch_jwks_uri()
        except JwksUnavailable as exc:
            self._failure, self._failed_at = exc, time.monotonic()
            return
        under_issuer = jwks_uri.startswith(self.trusted.issuer.rstrip("/") + "/")
        self._source = self._cache.at(jwks_uri, self._guard if under_issuer else None)

    def _fetch_jwks_uri(self) -> str:
        """Raises JwksUnavailable: no metadata, another issuer's, or no ``jwks_uri`` in it."""
        document = self._cache.fetcher.get(self.trusted.discovery_uri, self._guard).document or {}
        if document.get("issuer") != self.trusted.issuer:
            raise JwksUnavailable("The issuer's metadata names another issuer; it is refused.")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise JwksUnavailable("The issuer's metadata has no jwks_uri.")
        return jwks_uri

"""RemoteJWKS: verify against a JWKS URI that is fetched rarely and never abused.

One key set is cached per URI, parsed once per fetch, so the hot path is a
dict lookup. Its lifetime follows ``Cache-Control`` within bounds and is
renewed with ``If-None-Match``. An unknown ``kid`` refetches at most once per
cooldown, concurrent misses share one fetch, and a failed refresh keeps the
last good set serving for a bounded time instead of wiping it (pyjwt#1162).
Every fetch passes the :class:`~jwtseal._netguard.AddressGuard` first and
connects to the address it checked; it follows no redirects, ignores proxy
settings, and is capped in time and bytes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import ssl
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final, Literal
from urllib.parse import urlsplit

import httpx

from ._json import loads_object
from ._netguard import AddressGuard, Target
from .claims import Claims
from .errors import JwksUnavailable, UnknownKid
from .jwks import PublicKeySet
from .keys import VerifyingKey
from .verifier import PendingToken, begin, finish, inspect

__all__ = ["RemoteEvent", "RemoteJWKS", "RemoteStats"]

logger = logging.getLogger("jwtseal.remote")
RemoteEvent = Literal["fetch", "hit", "revalidation", "stale", "cooldown", "failure"]
_COUNTERS: Final[dict[str, str]] = {
    "fetch": "fetches",
    "hit": "hits",
    "revalidation": "revalidations",
    "stale": "stale",
    "cooldown": "cooldowns",
    "failure": "failures",
}
_MAX_AGE: Final = re.compile(r'max-age\s*=\s*"?([0-9]+)"?')
_ETAG: Final = re.compile(r'(?:W/)?"[\x21\x23-\x7e]*"')


@dataclass(frozen=True, slots=True)
class RemoteStats:
    """Counters by origin host: what the cache saved and what it cost."""

    fetches: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)
    revalidations: Counter[str] = field(default_factory=Counter)
    stale: Counter[str] = field(default_factory=Counter)
    cooldowns: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    def add(self, event: RemoteEvent, origin: str) -> None:
        counter: Counter[str] = getattr(self, _COUNTERS[event])
        counter[origin] += 1


@dataclass(frozen=True, slots=True)
class _Entry:
    keys: PublicKeySet
    etag: str | None
    lifetime: float
    fresh_until: float
    stale_until: float


@dataclass(frozen=True, slots=True)
class _Fetched:
    keys: PublicKeySet | None  # None: 304, the cached set is still current
    etag: str | None
    lifetime: float | None  # None: the origin said nothing


class _Slot:
    """One URI's cache entry, its single-flight lock and its cooldown."""

    __slots__ = ("entry", "lock", "origin", "retry_at")

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.lock = asyncio.Lock()
        self.entry: _Entry | None = None
        self.retry_at = -math.inf


class RemoteJWKS:
    """Finds verifying keys in remote key sets, one cache entry per URI."""

    def __init__(
        self,
        *,
        guard: AddressGuard | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        cooldown: float = 30.0,
        min_ttl: float = 60.0,
        max_ttl: float = 86_400.0,
        default_ttl: float = 600.0,
        stale_for: float = 3_600.0,
        timeout: float = 5.0,
        max_bytes: int = 512 * 1024,
        max_entries: int = 1_000,
        on_event: Callable[[RemoteEvent, str], None] | None = None,
    ) -> None:
        """``on_event(event, origin host)`` mirrors :attr:`stats`, e.g. into metrics.

        Raises ValueError when the lifetimes are out of order or a limit is not positive.
        """
        if not 0 <= min_ttl <= default_ttl <= max_ttl or min(timeout, max_bytes, max_entries) <= 0:
            raise ValueError("need 0 <= min_ttl <= default_ttl <= max_ttl and positive limits")
        from . import __version__  # noqa: PLC0415 - the package imports this module

        self.stats = RemoteStats()
        self._guard = guard or AddressGuard()
        self._ssl_context = ssl_context  # built at the first https fetch: it costs start-up time
        self._clock, self._on_event = clock, on_event
        self._cooldown, self._stale_for = cooldown, stale_for
        self._ttls = (min_ttl, default_ttl, max_ttl)
        self._timeout, self._max_bytes, self._max_entries = timeout, max_bytes, max_entries
        self._headers = {
            "User-Agent": f"jwtseal/{__version__}",
            "Accept": "application/jwk-set+json, application/json",
            "Accept-Encoding": "identity",  # no decompression bombs
        }
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._origins: set[str] = set()

    async def verify(
        self,
        token: str,
        uri: str,
        *,
        now: float,
        leeway: float,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> Claims:
        """The claims of ``token`` once every check passes against the JWKS at ``uri``.

        Raises:
            TokenError: the first failed check, with API.md's code; a token
                refused before the key lookup never causes a fetch.
            JwksUriNotAllowed: the guard refused ``uri``; nothing was sent.
            JwksUnavailable: no usable key set could be fetched or served.
        """
        unverified = inspect(token)
        key = await self.find(uri, unverified.kid)
        return finish(unverified, key, now=now, leeway=leeway, audience=audience, issuer=issuer)

    def begin_cached(self, token: str, uri: str, *, now: float, leeway: float) -> PendingToken | None:
        """:meth:`verify` in steps without waiting: None when the key is not in a fresh cached set.

        The common case (a known URI, a known ``kid``) needs no I/O, so a
        server can answer it without scheduling a task; on None it awaits
        :meth:`verify`.

        Raises:
            MalformedToken, MissingKid, AlgNotAllowed: before any key lookup.
        """
        slot = self._slots.get(uri)
        try:
            pending = begin(token, lambda kid: self._fresh(slot, kid), now=now, leeway=leeway)
        except UnknownKid:
            return None
        self._slots.move_to_end(uri)
        return pending

    async def find(self, uri: str, kid: str) -> VerifyingKey | None:
        """The key ``kid`` of the JWKS at ``uri``, or None when the set has none.

        Raises:
            JwksUriNotAllowed: the guard refused ``uri``; nothing was sent.
            JwksUnavailable: no usable key set could be fetched or served.
        """
        slot = self._slot(uri)
        key = self._fresh(slot, kid)
        if key is not None:
            return key
        async with slot.lock:
            return await self._find_locked(slot, uri, kid)

    def _fresh(self, slot: _Slot | None, kid: str) -> VerifyingKey | None:
        """The key from the slot's set while it is fresh, counted as a cache hit."""
        if slot is None or slot.entry is None or self._clock() >= slot.entry.fresh_until:
            return None
        key = slot.entry.keys.find(kid)
        if key is not None:
            self._note("hit", slot.origin)
        return key

    def _note(self, event: RemoteEvent, origin: str) -> None:
        """Count an event; hosts beyond ``max_entries`` share one label, bounding memory."""
        if origin not in self._origins:
            origin = origin if len(self._origins) < self._max_entries else "(other)"
            self._origins.add(origin)
        self.stats.add(event, origin)
        if self._on_event is not None:
            self._on_event(event, origin)

    def _slot(self, uri: str) -> _Slot:
        """The URI's slot, most recently used last; the oldest goes beyond the bound."""
        slot = self._slots.get(uri)
        if slot is None:
            slot = self._slots[uri] = _Slot(_origin_of(uri))
            if len(self._slots) > self._max_entries:
                self._slots.popitem(last=False)
        else:
            self._slots.move_to_end(uri)
        return slot

    async def _find_locked(self, slot: _Slot, uri: str, kid: str) -> VerifyingKey | None:
        """Decide under the URI's lock, so waiters reuse the fetch they waited for."""
        if (key := self._fresh(slot, kid)) is not None:  # fetched by the request we waited for
            return key
        now = self._clock()
        if now < slot.retry_at:
            self._note("cooldown", slot.origin)
        else:
            try:
                await self._refresh(slot, uri)
            except JwksUnavailable as exc:
                self._note("failure", slot.origin)
                logger.warning("Fetching the JWKS at %s failed: %s", uri, exc.detail)
                if slot.entry is None or now >= slot.entry.stale_until:
                    raise
        return self._cached(slot, now, kid)

    def _cached(self, slot: _Slot, now: float, kid: str) -> VerifyingKey | None:
        """The key from the cached set while it is fresh or within the stale bound.

        Raises:
            JwksUnavailable: no set, or past its stale bound, and no fetch allowed yet.
        """
        entry = slot.entry
        if entry is None or now >= entry.stale_until:
            raise JwksUnavailable("The JWKS could not be fetched; retrying after the cooldown.")
        if now >= entry.fresh_until:
            self._note("stale", slot.origin)
        return entry.keys.find(kid)

    async def _refresh(self, slot: _Slot, uri: str) -> None:
        """Fetch or revalidate the set; the cooldown starts when a request leaves.

        Raises:
            JwksUriNotAllowed: the guard refused ``uri``.
            JwksUnavailable: the fetch failed or took longer than the timeout.
        """
        etag = slot.entry.etag if slot.entry else None
        try:
            async with asyncio.timeout(self._timeout):
                target = await self._guard.check(uri)
                slot.retry_at = self._clock() + self._cooldown
                self._note("fetch", slot.origin)
                fetched = await self._fetch(target, etag)
        except TimeoutError as exc:
            raise JwksUnavailable(f"The JWKS fetch took longer than {self._timeout} s.") from exc
        self._store(slot, fetched)

    async def _fetch(self, target: Target, etag: str | None) -> _Fetched:
        """GET the key set from the checked address, TLS still verified for the host name.

        Raises:
            JwksUnavailable: a network error, or see :meth:`_read`.
        """
        url = httpx.URL(
            scheme=target.scheme, host=target.address, port=target.port, raw_path=target.path.encode()
        )
        headers = {**self._headers, "Host": target.authority}
        if etag is not None:
            headers["If-None-Match"] = etag
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        transport = httpx.AsyncHTTPTransport(verify=self._ssl_context, trust_env=False)
        client = httpx.AsyncClient(
            transport=transport, trust_env=False, follow_redirects=False, timeout=self._timeout
        )
        extensions = {"sni_hostname": target.host}
        try:
            async with client, client.stream("GET", url, headers=headers, extensions=extensions) as response:
                return await self._read(response, revalidating=etag is not None)
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"The JWKS could not be fetched ({type(exc).__name__}).") from exc

    async def _read(self, response: httpx.Response, *, revalidating: bool) -> _Fetched:
        """Read at most ``max_bytes`` of a 200 answer, or accept a 304 to a revalidation.

        Raises:
            JwksUnavailable: another status (redirects included), too large,
                not a JSON object, or not a key set.
        """
        lifetime, etag = _lifetime(response.headers), response.headers.get("ETag", "")
        etag = etag if _ETAG.fullmatch(etag) else None  # it is sent back: ASCII only
        if revalidating and response.status_code == 304:
            return _Fetched(None, etag, lifetime)
        if response.status_code != 200:
            raise JwksUnavailable(f"The JWKS URI answered with status {response.status_code}.")
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self._max_bytes:
                raise JwksUnavailable(f"The JWKS is larger than {self._max_bytes} bytes.")
        try:
            document = loads_object(bytes(body))
        except ValueError as exc:
            raise JwksUnavailable("The JWKS is not a JSON object.") from exc
        return _Fetched(PublicKeySet.from_document(document), etag, lifetime)

    def _store(self, slot: _Slot, fetched: _Fetched) -> None:
        """Cache a new set, or extend the cached one after a 304."""
        keys, etag, lifetime = fetched.keys, fetched.etag, fetched.lifetime
        previous = slot.entry
        if keys is None:
            assert previous is not None  # a 304 is only accepted when revalidating
            self._note("revalidation", slot.origin)
            keys, etag = previous.keys, etag or previous.etag
            lifetime = previous.lifetime if lifetime is None else lifetime
        min_ttl, default_ttl, max_ttl = self._ttls
        ttl = min(max(default_ttl if lifetime is None else lifetime, min_ttl), max_ttl)
        now = self._clock()
        slot.entry = _Entry(keys, etag, ttl, now + ttl, now + ttl + self._stale_for)


def _lifetime(headers: httpx.Headers) -> float | None:
    """Seconds of freshness granted by ``max-age``, else ``Expires - Date``; None when silent."""
    directives = [directive.strip().lower() for directive in headers.get("Cache-Control", "").split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        if max_age := _MAX_AGE.fullmatch(directive):
            return float(max_age[1])
    expires, date = headers.get("Expires"), headers.get("Date")
    if expires is None or date is None:
        return None
    try:
        return (parsedate_to_datetime(expires) - parsedate_to_datetime(date)).total_seconds()
    except (TypeError, ValueError):
        return 0.0  # RFC 9111 section 5.3: an invalid Expires means already expired


def _origin_of(uri: str) -> str:
    """The host that counters are kept by; guarded URIs may still be unparsable."""
    try:
        return urlsplit(uri).hostname or ""
    except ValueError:
        return ""

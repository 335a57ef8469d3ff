"""JWKSCache: remote key sets fetched rarely, shared widely, never abused.

One key set per URI, parsed once per fetch, so the hot path is a dict
lookup. Its lifetime follows ``Cache-Control`` within bounds and is renewed
with ``If-None-Match`` before it ends, so a hot path never waits. An unknown
``kid`` refetches at most once per cooldown; concurrent misses, from threads
or tasks, share one fetch; a failed refresh keeps the last good set serving
for a bounded time instead of wiping it (pyjwt#1162). With a directory, the
processes of a host share all of this (see :mod:`._shared`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import ssl
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeGuard
from urllib.parse import urlsplit

from .._netguard import AddressGuard
from ..errors import JwksUnavailable
from ..jwks import PublicKeySet
from ..keys import VerifyingKey
from . import _flight
from ._http import Fetched, Fetcher
from ._shared import SharedDirectory

__all__ = ["CacheEvent", "CacheStats", "JWKSCache", "RemoteKeys"]

logger = logging.getLogger("jwtseal.jwks_cache")
CacheEvent = Literal["fetch", "hit", "revalidation", "stale", "cooldown", "failure"]
_COUNTERS: Final[dict[str, str]] = {
    "fetch": "fetches",
    "hit": "hits",
    "revalidation": "revalidations",
    "stale": "stale",
    "cooldown": "cooldowns",
    "failure": "failures",
}
_REFRESH_AHEAD: Final = 0.75
"""Share of a set's lifetime after which a hit also starts a background refresh."""
SNAPSHOT_FORMAT: Final = "jwtseal-jwks-cache/1"


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters by origin host: what the cache saved and what it cost."""

    fetches: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)
    revalidations: Counter[str] = field(default_factory=Counter)
    stale: Counter[str] = field(default_factory=Counter)
    cooldowns: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    def add(self, event: CacheEvent, origin: str) -> None:
        counter: Counter[str] = getattr(self, _COUNTERS[event])
        counter[origin] += 1


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached set and its times, all on the wall clock so processes can share them."""

    document: dict[str, Any]
    keys: PublicKeySet
    etag: str | None
    lifetime: float
    fetched_at: float
    fresh_until: float
    refresh_at: float
    stale_until: float


class _Slot:
    """One URI's entry, its cooldown, and the fetch in flight for it."""

    __slots__ = ("attempted_at", "entry", "failure", "guard", "inflight", "lock", "origin", "uri")

    def __init__(self, uri: str, guard: AddressGuard) -> None:
        self.uri, self.guard, self.origin = uri, guard, _origin_of(uri)
        self.lock = threading.Lock()
        self.entry: _Entry | None = None
        self.attempted_at = -math.inf
        self.inflight: Future[None] | None = None
        self.failure: JwksUnavailable | None = None


class JWKSCache:
    """Verifying keys of remote key sets, one cache entry per URI, for threads and tasks alike."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        guard: AddressGuard | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        cooldown: float = 30.0,
        min_ttl: float = 60.0,
        max_ttl: float = 86_400.0,
        default_ttl: float = 600.0,
        stale_for: float = 3_600.0,
        timeout: float = 5.0,
        max_bytes: int = 512 * 1024,
        max_entries: int = 1_000,
        on_event: Callable[[CacheEvent, str], None] | None = None,
    ) -> None:
        """``directory`` shares the cache between processes and restarts; None keeps it in memory.

        ``guard`` checks every URI this cache fetches unless a call names its
        own; ``on_event(event, origin host)`` mirrors :attr:`stats`, e.g. into metrics.

        Raises:
            ValueError: lifetimes out of order, a limit not positive, or a
                directory that other users may write.
        """
        if not 0 <= min_ttl <= default_ttl <= max_ttl or min(timeout, max_bytes, max_entries) <= 0:
            raise ValueError("need 0 <= min_ttl <= default_ttl <= max_ttl and positive limits")
        from .. import __version__  # noqa: PLC0415 - the package imports this module

        self.stats = CacheStats()
        self._shared = None if directory is None else SharedDirectory(directory)
        self._guard = guard or AddressGuard()
        self._fetcher = Fetcher(
            timeout=timeout, max_bytes=max_bytes, ssl_context=ssl_context, user_agent=f"jwtseal/{__version__}"
        )
        self._clock, self._on_event = clock, on_event
        self._cooldown, self._stale_for = cooldown, stale_for
        self._ttls = (min_ttl, default_ttl, max_ttl)
        self._wait_limit = 2 * timeout + 1  # another process's fetch, then ours
        self._max_entries = max_entries
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._slots_lock = threading.Lock()
        self._origins: set[str] = set()

    @property
    def fetcher(self) -> Fetcher:
        """The guarded GET this cache fetches with; discovery documents use it too."""
        return self._fetcher

    def at(self, uri: str, guard: AddressGuard | None = None) -> RemoteKeys:
        """The key set at ``uri`` as a key source for :class:`~jwtseal.Verifier`."""
        return RemoteKeys(self, uri, guard)

    def cached(self, uri: str, kid: str) -> VerifyingKey | None:
        """The key from a fresh cached set, without any I/O; None when that needs a fetch."""
        slot = self._slots.get(uri) or (self._slot(uri, None) if self._shared is not None else None)
        return None if slot is None else self._fresh(slot, kid)

    def find(self, uri: str, kid: str, guard: AddressGuard | None = None) -> VerifyingKey | None:
        """The key ``kid`` of the set at ``uri``, fetching when needed: for threads.

        Returns None when the set has no such key (after at most one refetch per cooldown).

        Raises:
            JwksUriNotAllowed: the guard refused ``uri``; nothing was sent.
            JwksUnavailable: no usable key set could be fetched or served.
        """
        slot = self._slot(uri, guard)
        key = self._fresh(slot, kid)
        if key is not None:
            return key
        future = self._start_refresh(slot, kid)
        if future is not None:
            _flight.wait(future, self._wait_limit)
        return self._settle(slot, kid, attempted=future is not None)

    async def afind(self, uri: str, kid: str, guard: AddressGuard | None = None) -> VerifyingKey | None:
        """:meth:`find` for asyncio: waits for a fetch without blocking the event loop.

        Raises:
            JwksUriNotAllowed: the guard refused ``uri``; nothing was sent.
            JwksUnavailable: no usable key set could be fetched or served.
        """
        slot = self._slot(uri, guard)
        key = self._fresh(slot, kid)
        if key is not None:
            return key
        future = self._start_refresh(slot, kid)
        if future is not None:
            await _flight.await_(future, self._wait_limit)
        return self._settle(slot, kid, attempted=future is not None)

    def hydrate(self, uris: Iterable[str], guard: AddressGuard | None = None) -> None:
        """Make sure every set is cached, fetching those that are not: call it at start-up.

        Raises:
            JwksUriNotAllowed, JwksUnavailable: as :meth:`find`.
        """
        for future, slot in self._start_hydration(uris, guard):
            if future is not None:
                _flight.wait(future, self._wait_limit)
            self._settle(slot, None, attempted=future is not None)

    async def ahydrate(self, uris: Iterable[str], guard: AddressGuard | None = None) -> None:
        """:meth:`hydrate` for asyncio; the sets are fetched concurrently.

        Raises:
            JwksUriNotAllowed, JwksUnavailable: as :meth:`find`.
        """
        for future, slot in self._start_hydration(uris, guard):
            if future is not None:
                await _flight.await_(future, self._wait_limit)
            self._settle(slot, None, attempted=future is not None)

    def export(self) -> dict[str, Any]:
        """Every cached set as a JSON-able snapshot, for :meth:`load` in another process or offline."""
        sets = [
            {"uri": slot.uri, **_record(slot.entry, slot.attempted_at)}
            for slot in list(self._slots.values())
            if slot.entry is not None
        ]
        return {"format": SNAPSHOT_FORMAT, "sets": sets}

    def load(self, snapshot: Any) -> None:
        """Seed the cache from :meth:`export`'s snapshot; a set already newer here is kept.

        Raises:
            ValueError: not a snapshot of this format.
        """
        is_snapshot = isinstance(snapshot, dict) and snapshot.get("format") == SNAPSHOT_FORMAT
        sets = snapshot.get("sets") if is_snapshot else None
        if not isinstance(sets, list):
            raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")  # noqa: TRY004 - a bad value, not a misuse
        for record in sets:
            uri = record.get("uri") if isinstance(record, dict) else None
            if not isinstance(uri, str):
                raise ValueError("every set needs its uri")  # noqa: TRY004 - a bad value, not a misuse
            slot = self._slot(uri, None)
            with slot.lock:
                if not self._adopt(slot, record):
                    raise ValueError(f"the set of {uri} is not a cached key set")

    # Lookups

    def _slot(self, uri: str, guard: AddressGuard | None) -> _Slot:
        """The URI's slot, most recently used last; the oldest goes beyond the bound."""
        slot = self._slots.get(uri)
        if slot is not None:
            with contextlib.suppress(KeyError):  # evicted by another thread meanwhile
                self._slots.move_to_end(uri)
            if guard is not None:
                slot.guard = guard  # refreshes ahead of time go through the latest caller's guard
            return slot
        slot = _Slot(uri, guard or self._guard)
        if self._shared is not None and (record := self._shared.read(uri)) is not None:
            self._adopt(slot, record)
        with self._slots_lock:
            slot = self._slots.setdefault(uri, slot)
            if len(self._slots) > self._max_entries:
                self._slots.popitem(last=False)
        return slot

    def _fresh(self, slot: _Slot, kid: str) -> VerifyingKey | None:
        """The key from the slot's set while it is fresh, counted as a hit; refreshes ahead."""
        entry = slot.entry
        if entry is None:
            return None
        now = self._clock()
        if now >= entry.fresh_until:
            return None
        key = entry.keys.find(kid)
        if key is not None:
            self._note("hit", slot.origin)
            if now >= entry.refresh_at:
                self._refresh_ahead(slot, now)
        return key

    def _settle(self, slot: _Slot, kid: str | None, *, attempted: bool) -> VerifyingKey | None:
        """After the fetch this call waited for, if any: the key from a fresh or stale-bound set.

        Raises:
            JwksUnavailable: no set, or past its stale bound: why the fetch
                failed when this call waited for it, else that it is cooling down.
        """
        entry, now = slot.entry, self._clock()
        if entry is None or now >= entry.stale_until:
            if attempted and slot.failure is not None:
                raise JwksUnavailable(slot.failure.detail)  # a new one: many callers may raise it
            raise JwksUnavailable("The JWKS could not be fetched; retrying after the cooldown.")
        if now >= entry.fresh_until:
            self._note("stale", slot.origin)
        return None if kid is None else entry.keys.find(kid)

    # Refreshes

    def _start_refresh(self, slot: _Slot, kid: str | None) -> Future[None] | None:
        """The fetch to wait for, started if none runs; None when none is allowed or needed."""
        with slot.lock:
            if self._satisfied(slot, kid, self._clock(), ahead=False):
                return None  # another caller's fetch brought it meanwhile
            if slot.inflight is not None:
                return slot.inflight
            if self._clock() < slot.attempted_at + self._cooldown:
                self._note("cooldown", slot.origin)
                return None
            return self._spawn(slot, kid, ahead=False)

    def _refresh_ahead(self, slot: _Slot, now: float) -> None:
        """Renew a set that is still fresh in the background, so no caller waits for it."""
        with slot.lock:
            if slot.inflight is None and now >= slot.attempted_at + self._cooldown:
                self._spawn(slot, None, ahead=True)

    def _start_hydration(
        self, uris: Iterable[str], guard: AddressGuard | None
    ) -> list[tuple[Future[None] | None, _Slot]]:
        slots = [self._slot(uri, guard) for uri in uris]
        return [(self._start_refresh(slot, None), slot) for slot in slots]

    def _spawn(self, slot: _Slot, kid: str | None, *, ahead: bool) -> Future[None]:
        """Start the slot's one fetch; called with ``slot.lock`` held."""

        def done() -> None:
            with slot.lock:
                slot.inflight = None

        slot.inflight = _flight.start(lambda: self._refresh(slot, kid, ahead=ahead), done)
        return slot.inflight

    def _refresh(self, slot: _Slot, kid: str | None, *, ahead: bool) -> None:
        """On the fetch thread: under the shared lock, adopt another process's set or fetch.

        Raises:
            JwksUriNotAllowed: the guard refused the URI (a failed fetch is
                kept in ``slot.failure`` instead, for the stale bound to judge).
        """
        try:
            with self._shared_lock(slot.uri):
                self._refresh_locked(slot, kid, ahead=ahead)
        except JwksUnavailable as exc:
            slot.failure = exc
            logger.warning("Fetching the JWKS at %s failed: %s", slot.uri, exc.detail)
            self._note("failure", slot.origin)

    def _refresh_locked(self, slot: _Slot, kid: str | None, *, ahead: bool) -> None:
        if self._shared is not None and (record := self._shared.read(slot.uri)) is not None:
            with slot.lock:
                self._adopt(slot, record)
        now = self._clock()
        if self._satisfied(slot, kid, now, ahead=ahead):
            return  # another process fetched it
        if now < slot.attempted_at + self._cooldown:
            self._note("cooldown", slot.origin)
            return
        entry = slot.entry
        try:
            fetched = self._fetcher.get(
                slot.uri,
                slot.guard,
                etag=None if entry is None else entry.etag,
                on_checked=lambda: self._attempting(slot),
            )
            new_entry = self._entry(slot, fetched)
        except JwksUnavailable:
            self._persist(slot)  # the attempt: the other processes keep its cooldown
            raise
        with slot.lock:
            slot.entry, slot.failure = new_entry, None
        self._persist(slot)

    def _attempting(self, slot: _Slot) -> None:
        """The guard let the URI through: the cooldown starts as the request leaves."""
        slot.attempted_at = self._clock()
        self._note("fetch", slot.origin)

    def _satisfied(self, slot: _Slot, kid: str | None, now: float, *, ahead: bool) -> bool:
        """Whether the cached set already answers: fresh (not yet due ahead), and holding ``kid``."""
        entry = slot.entry
        if entry is None or now >= (entry.refresh_at if ahead else entry.fresh_until):
            return False
        return kid is None or entry.keys.find(kid) is not None

    def _entry(self, slot: _Slot, fetched: Fetched) -> _Entry:
        """The entry for a fetched set, or the cached one extended after a 304.

        Raises:
            JwksUnavailable: the document is not a key set.
        """
        document, etag, lifetime = fetched.document, fetched.etag, fetched.lifetime
        previous = slot.entry
        if document is None:
            assert previous is not None  # a 304 is only accepted when revalidating
            self._note("revalidation", slot.origin)
            document, etag = previous.document, etag or previous.etag
            lifetime = previous.lifetime if lifetime is None else lifetime
            keys = previous.keys
        else:
            keys = PublicKeySet.from_document(document)
        min_ttl, default_ttl, max_ttl = self._ttls
        ttl = min(max(default_ttl if lifetime is None else lifetime, min_ttl), max_ttl)
        return self._make_entry(document, keys, etag, ttl, self._clock())

    def _make_entry(
        self, document: dict[str, Any], keys: PublicKeySet, etag: str | None, ttl: float, fetched_at: float
    ) -> _Entry:
        fresh_until = fetched_at + ttl
        return _Entry(
            document,
            keys,
            etag,
            ttl,
            fetched_at,
            fresh_until,
            fetched_at + ttl * _REFRESH_AHEAD,
            fresh_until + self._stale_for,
        )

    # Sharing

    def _shared_lock(self, uri: str) -> contextlib.AbstractContextManager[None]:
        if self._shared is None:
            return contextlib.nullcontext()
        return self._shared.lock(uri, self._fetcher.timeout)

    def _persist(self, slot: _Slot) -> None:
        """Write the slot for the other processes; a failed write costs them a fetch, nothing more."""
        if self._shared is None:
            return
        try:
            self._shared.write(slot.uri, _record(slot.entry, slot.attempted_at))
        except OSError as exc:
            logger.warning("Writing the JWKS cache for %s failed: %s", slot.uri, exc)

    def _adopt(self, slot: _Slot, record: dict[str, Any]) -> bool:
        """Take a shared or exported record when it is newer than the slot's; False when unusable."""
        attempted_at, document = record.get("attempted_at"), record.get("jwks")
        if not _is_number(attempted_at):
            return False
        slot.attempted_at = max(slot.attempted_at, attempted_at)
        if document is None:
            return True  # an attempt that failed: only its cooldown counts
        etag, lifetime, fetched_at = record.get("etag"), record.get("lifetime"), record.get("fetched_at")
        if not (_is_number(lifetime) and _is_number(fetched_at) and (etag is None or isinstance(etag, str))):
            return False
        if slot.entry is not None and slot.entry.fetched_at >= fetched_at:
            return True
        try:
            keys = PublicKeySet.from_document(document)
        except JwksUnavailable:
            return False
        slot.entry = self._make_entry(document, keys, etag, lifetime, fetched_at)
        return True

    def _note(self, event: CacheEvent, origin: str) -> None:
        """Count an event; hosts beyond ``max_entries`` share one label, bounding memory."""
        if origin not in self._origins:
            origin = origin if len(self._origins) < self._max_entries else "(other)"
            self._origins.add(origin)
        self.stats.add(event, origin)
        if self._on_event is not None:
            self._on_event(event, origin)


class RemoteKeys:
    """The key set at one URI of a :class:`JWKSCache`: a key source that may need I/O."""

    __slots__ = ("_cache", "_guard", "uri")

    def __init__(self, cache: JWKSCache, uri: str, guard: AddressGuard | None = None) -> None:
        self._cache, self.uri, self._guard = cache, uri, guard

    def cached(self, kid: str) -> VerifyingKey | None:
        """The key when a fresh set holds it, with no I/O; None when a fetch is needed."""
        return self._cache.cached(self.uri, kid)

    def find(self, kid: str) -> VerifyingKey | None:
        """Raises JwksUriNotAllowed, JwksUnavailable: see :meth:`JWKSCache.find`."""
        return self._cache.find(self.uri, kid, self._guard)

    async def afind(self, kid: str) -> VerifyingKey | None:
        """Raises JwksUriNotAllowed, JwksUnavailable: see :meth:`JWKSCache.afind`."""
        return await self._cache.afind(self.uri, kid, self._guard)

    def hydrate(self) -> None:
        """Raises JwksUriNotAllowed, JwksUnavailable: see :meth:`JWKSCache.hydrate`."""
        self._cache.hydrate([self.uri], self._guard)

    async def ahydrate(self) -> None:
        """Raises JwksUriNotAllowed, JwksUnavailable: see :meth:`JWKSCache.ahydrate`."""
        await self._cache.ahydrate([self.uri], self._guard)


def _record(entry: _Entry | None, attempted_at: float) -> dict[str, Any]:
    record: dict[str, Any] = {"attempted_at": attempted_at if math.isfinite(attempted_at) else 0.0}
    if entry is not None:
        record |= {
            "jwks": entry.document,
            "etag": entry.etag,
            "lifetime": entry.lifetime,
            "fetched_at": entry.fetched_at,
        }
    return record


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _origin_of(uri: str) -> str:
    """The host that counters are kept by; guarded URIs may still be unparsable."""
    try:
        return urlsplit(uri).hostname or ""
    except ValueError:
        return ""

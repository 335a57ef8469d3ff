"""The one guarded GET behind every remote document jwtseal reads: a JWKS or OpenID metadata.

It connects to the address the :class:`~jwtseal._netguard.AddressGuard`
checked, verifies TLS for the host name, follows no redirects, ignores proxy
settings, reads at most ``max_bytes`` and gives up after ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from .._json import loads_object
from .._netguard import AddressGuard
from ..errors import JwksUnavailable

__all__ = ["Fetched", "Fetcher"]

_MAX_AGE: Final = re.compile(r'max-age\s*=\s*"?([0-9]+)"?')
_ETAG: Final = re.compile(r'(?:W/)?"[\x21\x23-\x7e]*"')


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answer: the document, or None for a 304 to a revalidation."""

    document: dict[str, Any] | None
    etag: str | None
    lifetime: float | None  # None: the origin said nothing about freshness


class Fetcher:
    """Guarded, bounded GETs of JSON documents, run to completion on the calling thread."""

    def __init__(
        self, *, timeout: float, max_bytes: int, ssl_context: ssl.SSLContext | None, user_agent: str
    ) -> None:
        self.timeout, self.max_bytes = timeout, max_bytes
        self._ssl_context = ssl_context  # built at the first https fetch: it costs start-up time
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "application/jwk-set+json, application/json",
            "Accept-Encoding": "identity",  # no decompression bombs
        }

    def get(
        self,
        uri: str,
        guard: AddressGuard,
        *,
        etag: str | None = None,
        on_checked: Callable[[], None] = lambda: None,
    ) -> Fetched:
        """GET ``uri`` once the guard let it through; ``on_checked`` runs between the two.

        Blocks the calling thread, for at most ``timeout`` seconds in all:
        callers run it on a thread of its own.

        Raises:
            JwksUriNotAllowed: the guard refused ``uri``; nothing was sent.
            JwksUnavailable: the fetch failed, took too long, or the answer is not a JSON object.
        """
        deadline = time.monotonic() + self.timeout
        try:
            target = asyncio.run(asyncio.wait_for(guard.check(uri), self.timeout))
        except TimeoutError as exc:
            raise JwksUnavailable(f"The fetch took longer than {self.timeout} s.") from exc
        on_checked()
        url = httpx.URL(
            scheme=target.scheme, host=target.address, port=target.port, raw_path=target.path.encode()
        )
        headers = {**self._headers, "Host": target.authority}
        if etag is not None:
            headers["If-None-Match"] = etag
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        transport = httpx.HTTPTransport(verify=self._ssl_context, trust_env=False)
        remaining = max(deadline - time.monotonic(), 0.001)
        client = httpx.Client(transport=transport, trust_env=False, follow_redirects=False, timeout=remaining)
        extensions = {"sni_hostname": target.host}
        try:
            with client, client.stream("GET", url, headers=headers, extensions=extensions) as answer:
                return self._read(answer, deadline, revalidating=etag is not None)
        except httpx.TimeoutException as exc:
            raise JwksUnavailable(f"The fetch took longer than {self.timeout} s.") from exc
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"The document could not be fetched ({type(exc).__name__}).") from exc

    def _read(self, response: httpx.Response, deadline: float, *, revalidating: bool) -> Fetched:
        """Read at most ``max_bytes`` of a 200 answer by ``deadline``, or accept a 304 to a revalidation.

        Raises:
            JwksUnavailable: another status (redirects included), too large,
                too slow, not a JSON object.
        """
        lifetime, etag = _lifetime(response.headers), response.headers.get("ETag", "")
        etag = etag if _ETAG.fullmatch(etag) else None  # it is sent back: ASCII only
        if revalidating and response.status_code == 304:
            return Fetched(None, etag, lifetime)
        if response.status_code != 200:
            raise JwksUnavailable(f"The URI answered with status {response.status_code}.")
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > self.max_bytes:
                raise JwksUnavailable(f"The document is larger than {self.max_bytes} bytes.")
            if time.monotonic() > deadline:  # a trickle: every read in time, the whole too slow
                raise JwksUnavailable(f"The fetch took longer than {self.timeout} s.")
        try:
            return Fetched(loads_object(bytes(body)), etag, lifetime)
        except ValueError as exc:
            raise JwksUnavailable("The document is not a JSON object.") from exc


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

"""The address guard: which JWKS URIs jwtseal may fetch, and at which address.

A verifier that fetches any URI a caller names is an SSRF tool: it can be
pointed at a cloud metadata service, an admin port on loopback or a host on
the private network. The guard parses the URI strictly, matches it against
the trusted prefixes, resolves the host once and checks every address. The
fetch then connects to the address the guard returned, never resolving again,
so DNS rebinding between check and use is impossible.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Final
from urllib.parse import unquote, urlsplit

from ._special import is_special, is_special_name
from .errors import JwksUnavailable, JwksUriNotAllowed

__all__ = ["AddressGuard", "Resolver", "Target", "is_public"]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP address strings``: the one DNS lookup of a fetch."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# RFC 3986 unreserved and reserved characters plus "%"; "#" is left out, so
# fragments, spaces, backslashes and control characters are all refused.
_URI_CHARS: Final = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_AUTHORITY: Final = re.compile(
    r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?"
)
_LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# WHATWG URL: a host whose last label is a number is an IPv4 address. This
# catches every lenient inet_aton spelling (2130706433, 0x7f.1, 017700000001,
# 127.1) and more, and no real domain ends in a numeric label.
_NUMERIC_LABEL: Final = re.compile(r"0x[0-9a-f]*|[0-9]+")


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URI, split into what the fetch needs, and the address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def authority(self) -> str:
        """The ``Host`` header: the host, bracketed when IPv6, and a non-default port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if _DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class _Uri:
    scheme: str
    host: str
    port: int
    path: str

    def is_under(self, prefix: _Uri) -> bool:
        same_origin = (self.scheme, self.host, self.port) == (prefix.scheme, prefix.host, prefix.port)
        return same_origin and self.path.startswith(prefix.path)


async def resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard:
    """Decides whether a JWKS URI may be fetched, and pins the address to use.

    With ``trusted_prefixes``, only URIs under one of them are allowed, and
    they may use plain http and private addresses. Without, any https URI
    whose host resolves only to public addresses is allowed.
    """

    def __init__(self, trusted_prefixes: tuple[str, ...] = (), resolver: Resolver | None = None) -> None:
        """Raises ValueError naming a prefix that is not a plain http(s) URI without a query."""
        self._prefixes = tuple(_prefix(prefix) for prefix in trusted_prefixes)
        self._resolve = resolver or resolve

    async def check(self, uri: str) -> Target:
        """The target to connect to for ``uri``, after every rule passed.

        Raises:
            JwksUriNotAllowed: the URI breaks a rule; nothing was sent to it.
            JwksUnavailable: the host could not be resolved.
        """
        parsed = _parse(uri)
        trusted = any(parsed.is_under(prefix) for prefix in self._prefixes)
        if self._prefixes and not trusted:
            raise JwksUriNotAllowed("The JWKS URI is not under a trusted JWKS URI prefix.")
        if not trusted and parsed.scheme != "https":
            raise JwksUriNotAllowed("The JWKS URI must use https.")
        if not trusted and is_special_name(parsed.host):  # before any lookup: nothing leaves the host
            raise JwksUriNotAllowed("The JWKS URI host is a special-use name, never a public host.")
        addresses = await self._addresses(parsed)
        if not trusted and not all(map(is_public, addresses)):
            raise JwksUriNotAllowed(
                "The JWKS URI host resolves to a loopback, private, link-local or reserved address."
            )
        return Target(parsed.scheme, parsed.host, parsed.port, parsed.path, str(addresses[0]))

    async def _addresses(self, uri: _Uri) -> list[IPv4Address | IPv6Address]:
        """The host itself when it is an address literal, else its one resolution."""
        try:
            return [ip_address(uri.host)]
        except ValueError:
            pass
        try:
            resolved = await self._resolve(uri.host, uri.port)
        except OSError as exc:
            raise JwksUnavailable("The JWKS URI host could not be resolved.") from exc
        if not resolved:
            raise JwksUnavailable("The JWKS URI host could not be resolved.")
        try:
            return [ip_address(address) for address in resolved]
        except ValueError as exc:
            raise JwksUriNotAllowed(
                "The JWKS URI host resolved to something that is not an address."
            ) from exc


def is_public(address: IPv4Address | IPv6Address) -> bool:
    """Whether ``address`` is outside every range of jwtseal's own IANA tables (see :mod:`._special`).

    Never Python's ``is_global``: its answer differs between interpreter versions.
    """
    return not is_special(address)


def _parse(uri: str) -> _Uri:
    """Split ``uri`` strictly; anything two parsers could read differently is refused.

    Raises:
        JwksUriNotAllowed: a rule of the URI syntax is broken.
    """
    if not _URI_CHARS.fullmatch(uri) or _BAD_PERCENT.search(uri):
        raise JwksUriNotAllowed("The JWKS URI has characters that are not allowed.")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # brackets that do not hold an IPv6 address
        raise JwksUriNotAllowed("The JWKS URI has no valid host.") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise JwksUriNotAllowed("The JWKS URI must use http or https.")
    if "@" in parts.netloc:
        raise JwksUriNotAllowed("The JWKS URI must not carry user information.")
    authority = _AUTHORITY.fullmatch(parts.netloc.lower())
    if authority is None:
        raise JwksUriNotAllowed("The JWKS URI has no valid host.")
    host = _host(authority["ipv6"] or authority["name"])
    port = int(authority["port"] or _DEFAULT_PORTS[scheme])
    if not 0 < port < 65536:
        raise JwksUriNotAllowed("The JWKS URI port is out of range.")
    path = parts.path or "/"
    if any(segment in (".", "..") for segment in unquote(path).replace("\\", "/").split("/")):
        raise JwksUriNotAllowed("The JWKS URI path must not contain dot segments.")
    return _Uri(scheme, host, port, f"{path}?{parts.query}" if parts.query else path)


def _host(literal: str) -> str:
    """The host, refusing any spelling that is not a plain name or a canonical address."""
    try:
        return str(ip_address(literal))
    except ValueError:
        pass
    labels = literal.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise JwksUriNotAllowed("The JWKS URI host is an IPv4 address in a non-standard spelling.")
    if len(literal) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise JwksUriNotAllowed("The JWKS URI host is not a valid host name.")
    return literal


def _prefix(prefix: str) -> _Uri:
    try:
        parsed = _parse(prefix)
    except JwksUriNotAllowed as exc:
        raise ValueError(f"Trusted JWKS URI prefix {prefix!r}: {exc.detail}") from exc
    if "?" in parsed.path:
        raise ValueError(f"Trusted JWKS URI prefix {prefix!r} must not have a query.")
    return parsed

"""Compact JWS (RFC 7515 section 7.1), strictly, and nothing else.

Parsing happens before any key is looked up, so it must never trust the
header: ``crit`` and ``b64`` are refused, key-carrying members (``jku``,
``x5u``, ``jwk``, ``x5c``) are never read, and sizes are bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from ._b64 import b64url_decode, b64url_decode_bytes, b64url_encode
from ._json import dumps_compact, loads_object
from .errors import MalformedToken

MAX_TOKEN_LENGTH: Final = 65_536
MAX_HEADER_LENGTH: Final = 4_096
_REFUSED_HEADERS: Final = ("crit", "b64")


@dataclass(frozen=True, slots=True)
class Header:
    """The members of a protected header that verification relies on."""

    alg: Any
    kid: Any
    members: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CompactJws:
    header: Header
    payload: bytes
    signing_input: bytes
    signature: bytes


def split(token: object) -> tuple[Header, bytes, bytes, bytes]:
    """Split and decode a compact JWS without trusting any of it.

    Returns the header, payload, signing input and signature as a plain
    tuple: the verifier's hot path builds no object it does not need.

    Raises:
        MalformedToken: not three canonical base64url segments, a header
            that is not a strict JSON object, or ``crit``/``b64`` present.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken
    header = parse_header(parts[0])  # first, so its errors win as before
    try:
        data = token.encode("ascii")  # the header is ASCII already; the rest must be too
        payload_end = len(parts[0]) + 1 + len(parts[1])
        payload = b64url_decode_bytes(data[len(parts[0]) + 1 : payload_end])
        signature = b64url_decode_bytes(data[payload_end + 1 :])
    except ValueError as exc:
        raise MalformedToken from exc
    return header, payload, data[:payload_end], signature


@lru_cache(maxsize=512)
def parse_header(segment: str) -> Header:
    """Decode a header segment; cached because every token of a key shares one.

    Raises:
        MalformedToken: see :func:`split`.
    """
    if len(segment) > MAX_HEADER_LENGTH:
        raise MalformedToken
    try:
        members = loads_object(b64url_decode(segment))
    except ValueError as exc:
        raise MalformedToken from exc
    if any(name in members for name in _REFUSED_HEADERS):
        raise MalformedToken("The token uses crit or b64, which are not supported.")
    return Header(members.get("alg"), members.get("kid"), MappingProxyType(members))


def encode_header(alg: str, kid: str) -> str:
    """The header segment of every token a key signs, computed once per key."""
    return b64url_encode(dumps_compact({"alg": alg, "kid": kid, "typ": "JWT"}))

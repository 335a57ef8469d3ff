"""Claims policy: what the server sets when issuing, what it checks when verifying.

Kept apart from JWS parsing and signing so each rule can be read in one
place and tested with an injected ``now``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ._b64 import b64url_encode
from .errors import (
    Expired,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    MalformedToken,
    NotYetValid,
    ReservedClaim,
    TtlTooLong,
)

__all__ = ["Claims", "ClaimsPolicy"]

Claims = dict[str, Any]
RESERVED_CLAIMS: Final = ("iss", "iat", "jti")
TIME_CLAIMS: Final = ("exp", "nbf", "iat")
_RESERVED: Final = frozenset(RESERVED_CLAIMS)
_NUMBER: Final = (int, float)  # a tuple: ``int | float`` would build a union on every call


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """How tokens are issued: by whom, for how long, with what clock slack."""

    issuer: str
    token_ttl: int = 86_400
    max_token_ttl: int = 86_400
    leeway: int = 60

    def __post_init__(self) -> None:
        if not 0 < self.token_ttl <= self.max_token_ttl:
            raise ValueError("token_ttl must be positive and at most max_token_ttl")
        if self.leeway < 0:
            raise ValueError("leeway must not be negative")

    def issue(self, claims: Mapping[str, Any], now: float) -> Claims:
        """The claims of a new token: the client's, plus ``iss``, ``iat``, ``exp``, ``jti``.

        Raises:
            ReservedClaim: the client set ``iss``, ``iat`` or ``jti``.
            InvalidClaim: ``exp`` or ``nbf`` is not a number, or ``exp`` has passed.
            TtlTooLong: ``exp`` lies beyond the maximum token lifetime.
        """
        if not _RESERVED.isdisjoint(claims):
            reserved = [name for name in RESERVED_CLAIMS if name in claims]
            raise ReservedClaim(f"The server sets {', '.join(reserved)}; do not send it.")
        for name in ("exp", "nbf"):
            if name in claims and not _is_number(claims[name]):
                raise InvalidClaim(f"The claim {name!r} must be a number.")
        iat = int(now)
        exp = claims.get("exp", iat + self.token_ttl)
        if exp <= now:
            raise InvalidClaim("The claim 'exp' lies in the past.")
        if exp > iat + self.max_token_ttl:
            raise TtlTooLong(f"The token lifetime may be at most {self.max_token_ttl} seconds.")
        return {**claims, "iss": self.issuer, "iat": iat, "exp": exp, "jti": new_jti()}


def new_jti() -> str:
    """128 random bits: unique without coordination between processes."""
    return b64url_encode(os.urandom(16))


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def require_numeric_times(claims: Claims) -> None:
    """Raises MalformedToken when ``exp``, ``nbf`` or ``iat`` is not a number.

    ``claims`` come from JSON, where a number is exactly an ``int`` or a
    ``float`` (``True`` is a ``bool``), so the type alone decides.
    """
    for name in TIME_CLAIMS:
        if type(claims.get(name, 0)) not in _NUMBER:  # an absent claim is fine
            raise MalformedToken(f"The claim {name!r} is not a number.")


def check_times(claims: Claims, now: float, leeway: float) -> None:
    """Raises Expired or NotYetValid, allowing ``leeway`` seconds of clock skew."""
    if "exp" in claims and claims["exp"] + leeway <= now:
        raise Expired
    if "nbf" in claims and claims["nbf"] - leeway > now:
        raise NotYetValid
    if "iat" in claims and claims["iat"] - leeway > now:
        raise NotYetValid("The token was issued in the future.")


def check_audience(claims: Claims, audience: str) -> None:
    """Raises InvalidAudience unless ``aud`` is or contains ``audience``."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise InvalidAudience


def check_issuer(claims: Claims, issuer: str) -> None:
    if claims.get("iss") != issuer:
        raise InvalidIssuer

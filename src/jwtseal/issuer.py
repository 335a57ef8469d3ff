"""Issuer: claims policy, then the key ring's current key, then a compact JWS."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._b64 import b64url_encode_bytes
from ._json import dumps_compact
from .claims import Claims, ClaimsPolicy
from .errors import InvalidClaim
from .keyring import KeyRing
from .keys import SigningKey

__all__ = ["IssuedToken", "Issuer"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: Claims
    kid: str
    alg: str


class Issuer:
    """Signs claims with the current key of a key ring."""

    def __init__(
        self,
        keyring: KeyRing,
        policy: ClaimsPolicy,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyring = keyring
        self.policy = policy
        self._clock = clock

    def issue(self, claims: Mapping[str, Any]) -> IssuedToken:
        """Sign ``claims`` after the server adds ``iss``, ``iat``, ``exp`` and ``jti``.

        Raises:
            TypeError: ``claims`` is not a mapping.
            ReservedClaim, InvalidClaim, TtlTooLong: see :meth:`ClaimsPolicy.issue`;
                InvalidClaim also for claims that cannot be written as UTF-8 JSON.
            KeyStoreError: the key store is unreadable or corrupt.
        """
        token, full, key = self._sign(claims)
        return IssuedToken(token, full, key.kid, key.alg)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact token for ``claims``; see :meth:`issue`."""
        return self._sign(claims)[0]

    def _sign(self, claims: Mapping[str, Any]) -> tuple[str, Claims, SigningKey]:
        if type(claims) is not dict and not isinstance(claims, Mapping):  # a dict skips the ABC check
            raise TypeError("claims must be a mapping of claim names to values")
        full = self.policy.issue(claims, self._clock())
        try:
            payload = dumps_compact(full)
        except ValueError as exc:  # a lone surrogate, or nesting too deep to write
            raise InvalidClaim("The claims cannot be written as UTF-8 JSON.") from exc
        key = self.keyring.view().signing_key
        signing_input = key.header_prefix + b64url_encode_bytes(payload)
        token = signing_input + b"." + b64url_encode_bytes(key.sign(signing_input))
        return token.decode("ascii"), full, key

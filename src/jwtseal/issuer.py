"""Issuer: claims policy, then the key ring's current key, then a compact JWS."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._b64 import b64url_encode
from ._jws import encode_payload
from .claims import Claims, ClaimsPolicy
from .keyring import KeyRing

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
            ReservedClaim, InvalidClaim, TtlTooLong: see :meth:`ClaimsPolicy.issue`.
            KeyStoreError: the key store is unreadable or corrupt.
        """
        if not isinstance(claims, Mapping):
            raise TypeError("claims must be a mapping of claim names to values")
        full = self.policy.issue(claims, self._clock())
        key = self.keyring.view().signing_key
        signing_input = f"{key.header_segment}.{encode_payload(full)}"
        signature = b64url_encode(key.sign(signing_input.encode("ascii")))
        return IssuedToken(f"{signing_input}.{signature}", full, key.kid, key.alg)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact token for ``claims``; see :meth:`issue`."""
        return self.issue(claims).token

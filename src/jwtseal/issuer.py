"""Issuer: claims policy, then the key ring's current key, then a compact JWS."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._b64 import b64url_encode_bytes
from ._json import MAX_DEPTH, dumps_compact, too_deep
from .claims import Claims, ClaimsPolicy
from .errors import InvalidClaim
from .keyring import KeyRing
from .keys import SigningKey

__all__ = ["IssuedToken", "Issuer", "UnsignedToken"]


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
                InvalidClaim also for claims that cannot be written as UTF-8 JSON,
                or that nest deeper than a token's payload may (``MAX_DEPTH``).
            KeyStoreError: the key store is unreadable or corrupt.
        """
        signing_input, full, key = self._prepare(claims)
        return IssuedToken(_signed(signing_input, key), full, key.kid, key.alg)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact token for ``claims``; see :meth:`issue`."""
        signing_input, _, key = self._prepare(claims)
        return _signed(signing_input, key)

    def prepare(self, claims: Mapping[str, Any]) -> UnsignedToken:
        """Everything of :meth:`issue` but the signature, which :meth:`UnsignedToken.sign` adds.

        A server signing many tokens at once prepares each, then signs them
        back to back: the signing code stays in the CPU's caches.

        Raises:
            See :meth:`issue`; signing itself then cannot fail on the request's account.
        """
        return UnsignedToken(*self._prepare(claims))

    def _prepare(self, claims: Mapping[str, Any]) -> tuple[bytes, Claims, SigningKey]:
        if type(claims) is not dict and not isinstance(claims, Mapping):  # a dict skips the ABC check
            raise TypeError("claims must be a mapping of claim names to values")
        full = self.policy.issue(claims, self._clock())
        try:
            payload = dumps_compact(full)
        except ValueError as exc:  # a lone surrogate, or nesting too deep to write
            raise InvalidClaim("The claims cannot be written as UTF-8 JSON.") from exc
        if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH and too_deep(payload.decode()):
            raise InvalidClaim(f"The claims nest objects and arrays deeper than {MAX_DEPTH} levels.")
        key = self.keyring.view().signing_key
        return key.header_prefix + b64url_encode_bytes(payload), full, key


@dataclass(frozen=True, slots=True)
class UnsignedToken:
    """Claims checked and encoded, with the key that is to sign them; see :meth:`Issuer.prepare`."""

    signing_input: bytes
    claims: Claims
    key: SigningKey

    def sign(self) -> IssuedToken:
        key = self.key
        return IssuedToken(_signed(self.signing_input, key), self.claims, key.kid, key.alg)


def _signed(signing_input: bytes, key: SigningKey) -> str:
    return (signing_input + b"." + b64url_encode_bytes(key.sign(signing_input))).decode("ascii")

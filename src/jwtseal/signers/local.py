"""Local signing: jwtseal holds the private keys, as its key store keeps them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..keys import SigningKey
from .base import KeySigner

__all__ = ["LocalSigner"]


class LocalSigner(KeySigner):
    """Keys made here, kept by the key store as private JWKs, signed with in memory."""

    def generate(self, alg: str) -> SigningKey:
        """Raises InvalidKey: ``alg`` is not a supported algorithm."""
        return SigningKey.generate(alg)

    def load(self, jwk: dict[str, Any]) -> SigningKey:
        """Raises InvalidKey: ``jwk`` is not a consistent private key."""
        return SigningKey.from_private_jwk(jwk)

    def release(self, kids: Collection[str]) -> None:
        """Nothing to do: a key that left the key set is gone with its stored record."""

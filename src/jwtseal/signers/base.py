"""Who holds the private half of each key: the one seam between the key ring and a signer.

A store says where the key ring's records live; a signer says who holds the
private keys. The key ring asks its signer for a new key when one becomes
the next key, to rebuild the signing keys from their stored form, and tells
it which keys left the key set for good, so a signer that keeps keys in a
service of its own (a KMS) can let them go.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Any

from ..keys import SigningKey

__all__ = ["KeySigner"]


class KeySigner(ABC):
    """Makes, rebuilds and lets go of the keys of one key ring."""

    @abstractmethod
    def generate(self, alg: str) -> SigningKey:
        """A new key for ``alg``, ready to sign.

        Raises:
            InvalidKey: this signer cannot make keys for ``alg``.
            SigningUnavailable: the service that makes keys is out of reach.
        """

    @abstractmethod
    def load(self, jwk: dict[str, Any]) -> SigningKey:
        """The signing key a key store kept as ``jwk`` (what ``to_private_jwk`` wrote).

        Raises:
            InvalidKey: the stored form is not a key this signer can use.
            SigningUnavailable: the service that holds the key is out of reach.
        """

    @abstractmethod
    def release(self, kids: Collection[str]) -> None:
        """These keys left the published key set for good: nothing signs or verifies with them again."""

"""What every key store offers: a lock, the key set document, the public JWKS.

A store moves documents, it does not interpret them: parsing and validation
live in :mod:`jwtseal.keyset`, so every backend refuses the same corruption.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from .._jwk import Jwks
from ..errors import KeyStoreError

__all__ = ["KeyStore", "StoreUnreachable"]


class StoreUnreachable(KeyStoreError):
    """The store could not be reached just now (a network store): worth waiting for.

    Unlike a corrupt store, this is not a reason to stop: a service keeps
    its last good key set and tries again.
    """


class KeyStore(ABC):
    """A place that keeps one key set and the hashes of the API keys.

    ``networked`` stores answer over the network: a service checks them from
    a background task, never on the request path, and keeps serving from
    memory while they are unreachable. ``needs_key_encryption`` stores refuse
    to hold a private key in the clear.
    """

    networked: ClassVar[bool] = False
    needs_key_encryption: ClassVar[bool] = False

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]:
        """Exclusive access across processes for a read-modify-write."""

    @abstractmethod
    def load(self) -> Any | None:
        """The stored key set document, or ``None`` when there is none yet.

        Raises:
            KeyStoreError: the store exists but cannot be read as JSON.
        """

    @abstractmethod
    def save(self, document: Any) -> None:
        """Replace the key set document atomically: readers see old or new."""

    @abstractmethod
    def publish(self, jwks: Jwks) -> None:
        """Make the public key set available where verifiers fetch it."""

    @abstractmethod
    def revision(self) -> Hashable:
        """A cheap token that changes whenever the key set document changes."""

    @abstractmethod
    def load_api_key_hashes(self) -> list[str] | None:
        """SHA-256 hex digests of the bearer API keys, or ``None`` when unset."""

    @abstractmethod
    def save_api_key_hashes(self, hashes: list[str]) -> None:
        """Keep API key hashes (never the keys) privately."""

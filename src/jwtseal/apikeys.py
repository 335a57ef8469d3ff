"""Bearer API keys for ``POST /encode``: only SHA-256 hashes are kept.

Generated keys carry 256 random bits, so a fast hash is enough (no password
stretching needed), and comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from .stores.base import KeyStore

__all__ = ["ApiKeys"]

PREFIX = "jws_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKeys:
    """The set of bearer keys allowed to issue tokens."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self._hashes = tuple(hashes)

    def __repr__(self) -> str:
        return f"ApiKeys(count={len(self._hashes)})"

    @classmethod
    def from_keys(cls, keys: Iterable[str]) -> ApiKeys:
        return cls(_digest(key) for key in keys)

    @classmethod
    def from_store(cls, store: KeyStore) -> tuple[ApiKeys, str | None]:
        """The store's keys; on first use, a new key that the caller shows once.

        Returns:
            The keys, and the new plain key when one was just generated.
        """
        with store.lock():
            hashes = store.load_api_key_hashes()
            if hashes is not None:
                return cls(hashes), None
            key = PREFIX + secrets.token_urlsafe(32)
            store.save_api_key_hashes([_digest(key)])
        return cls([_digest(key)]), key

    def check(self, presented: str) -> bool:
        """Whether ``presented`` is one of the keys, in constant time per key."""
        digest = _digest(presented)
        matches = [hmac.compare_digest(digest, known) for known in self._hashes]
        return any(matches)

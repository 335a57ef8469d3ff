"""With KMS signing on Lambda: the key ring's public record in S3, so the encoder reads no secret.

A KMS key ring's key set holds states, times, public JWKs and KMS key ARNs,
never a private key, so the encoder need not read Secrets Manager at all:

- the rotation function keeps the key set where it always lives (the
  secret, with its compare-and-swap writes) and, after every publication,
  copies it with the API key hashes into the private object
  ``keyring.json`` (:class:`KeyRingCopy`). The copy refuses a key set that
  holds a private key;
- the encoder reads that object (:class:`KeyRingObject`) at most once per
  ``cache_ttl`` seconds, and can write nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from .._jwk import PRIVATE_MEMBERS, Jwks
from ..errors import KeyStoreError
from ..stores.base import KeyStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["KEYRING_KEY", "KeyRingCopy", "KeyRingObject"]

KEYRING_KEY: Final = "keyring.json"
FORMAT: Final = "jwtseal/keyring-object-v1"
MAX_SIZE: Final = 1_048_576


class KeyRingCopy(KeyStore):
    """``store`` as it is, plus a public copy of its key set in ``keyring.json`` after each publication."""

    def __init__(self, store: KeyStore, s3: S3Client, bucket: str) -> None:
        self.store = store
        self._s3 = s3
        self._bucket = bucket

    def lock(self) -> AbstractContextManager[None]:
        return self.store.lock()

    def load(self) -> Any | None:
        return self.store.load()

    def save(self, document: Any) -> None:
        self.store.save(document)

    def revision(self) -> Hashable:
        return self.store.revision()

    def load_api_key_hashes(self) -> list[str] | None:
        return self.store.load_api_key_hashes()

    def publish(self, jwks: Jwks) -> None:
        """Publish the JWKS, then copy the key set for the encoder.

        Raises:
            KeyStoreError: the key set holds a private key, or S3 refused.
        """
        self.store.publish(jwks)
        self._copy()

    def save_api_key_hashes(self, hashes: list[str]) -> None:
        self.store.save_api_key_hashes(hashes)
        self._copy()

    def _copy(self) -> None:
        keyset = self.store.load()
        for entry in (keyset or {}).get("keys", ()):
            if PRIVATE_MEMBERS & set(entry["jwk"]):
                raise KeyStoreError("The key set holds a private key; it is not copied for the encoder.")
        body = {"format": FORMAT, "keyset": keyset, "apiKeyHashes": self.store.load_api_key_hashes()}
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=KEYRING_KEY,
                Body=json.dumps(body).encode(),
                ContentType="application/json",
                CacheControl="no-store",
            )
        except (ClientError, BotoCoreError) as exc:
            raise KeyStoreError("The key ring could not be copied for the encoder.") from exc


@dataclass(frozen=True, slots=True)
class _Snapshot:
    etag: str | None
    body: dict[str, Any]
    read_at: float


class KeyRingObject(KeyStore):
    """The encoder's read-only view of ``keyring.json``, read at most once per ``cache_ttl`` seconds."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        *,
        cache_ttl: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._snapshot: _Snapshot | None = None

    def lock(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def load(self) -> Any | None:
        """Raises KeyStoreError: the object cannot be read or is not a key ring copy."""
        return self._read()["keyset"]

    def revision(self) -> Hashable:
        self._read()
        assert self._snapshot is not None
        return self._snapshot.etag

    def load_api_key_hashes(self) -> list[str] | None:
        hashes: list[str] | None = self._read()["apiKeyHashes"]
        return hashes

    def save(self, document: Any) -> None:
        raise KeyStoreError("The encoder's key ring is read-only; the rotation function writes it.")

    def publish(self, jwks: Jwks) -> None:
        raise KeyStoreError("The encoder's key ring is read-only; the rotation function writes it.")

    def save_api_key_hashes(self, hashes: list[str]) -> None:
        raise KeyStoreError("The encoder's key ring is read-only; the rotation function writes it.")

    def _read(self) -> dict[str, Any]:
        """The cached copy, read again once ``cache_ttl`` has passed.

        Raises:
            KeyStoreError: S3 refused, or the object is too large or not a key ring copy.
        """
        now = self._clock()
        if self._snapshot is not None and now - self._snapshot.read_at < self._cache_ttl:
            return self._snapshot.body
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=KEYRING_KEY)
            with answer["Body"] as stream:
                raw = stream.read(MAX_SIZE + 1)
        except (ClientError, BotoCoreError) as exc:
            raise KeyStoreError("The key ring copy could not be read.") from exc
        try:
            body = json.loads(raw) if len(raw) <= MAX_SIZE else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise KeyStoreError("The key ring copy is not one jwtseal wrote; refusing to use it.")
        self._snapshot = _Snapshot(answer.get("ETag"), body, now)
        return body

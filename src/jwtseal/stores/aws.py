"""The AWS key store: the private key set in Secrets Manager, the public JWKS in S3.

The secret holds one JSON envelope, ``{"format", "keyset", "apiKeyHashes"}``,
so a signer needs one ``GetSecretValue`` for both its keys and its API key
hashes. Reads are cached for ``cache_ttl`` seconds: a warm Lambda container
or a ``jwtseal serve`` replica makes at most one Secrets Manager call per
TTL however much it signs.

Secrets Manager has no lock, so :meth:`AwsKeyStore.lock` is only a scope and
writers are made safe by optimistic concurrency instead. A write:

1. puts the new envelope as a version labelled ``JWTSEAL_PENDING`` (not
   current), with a ``ClientRequestToken`` derived from the version it was
   computed from and its content, so a retried request is idempotent;
2. moves the ``AWSCURRENT`` label to it with ``UpdateSecretVersionStage``,
   naming the version the change was computed from in
   ``RemoveFromVersionId``. Secrets Manager refuses the move when the label
   is on another version: that is the compare-and-swap.

A writer that loses raises :class:`ConcurrentUpdate` (a ``KeyStoreError``)
and has overwritten nothing; its cache is dropped, so a retry reads the
winner's key set. The very first version of an empty secret becomes current
on its own; a second writer racing for it is refused the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:
    raise ImportError("The AWS key store needs boto3: pip install 'jwtseal[aws]'") from exc

from .._jwk import Jwks
from ..errors import ConcurrentUpdate, KeyStoreError
from .base import KeyStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["AwsKeyStore", "ConcurrentUpdate"]

logger = logging.getLogger("jwtseal.stores.aws")

FORMAT: Final = "jwtseal/aws-secret-v1"
CURRENT: Final = "AWSCURRENT"
PENDING: Final = "JWTSEAL_PENDING"
JWKS_KEY: Final = "jwks.json"
_TOKENS: Final = uuid.UUID("6f1d3c5e-8a57-4d0e-9b0c-4a7f2f8e1c22")
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One read of the secret: its current version (None: no value yet) and envelope."""

    version_id: str | None
    envelope: dict[str, Any]
    read_at: float


def _empty(read_at: float) -> _Snapshot:
    return _Snapshot(None, {"format": FORMAT, "keyset": None, "apiKeyHashes": None}, read_at)


def _failure(what: str, exc: Exception) -> KeyStoreError:
    """A store error naming the AWS error code only: no ARN or account reaches a response."""
    code = exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else "network"
    logger.warning("%s failed: %s", what, exc)
    return KeyStoreError(f"The key store could not be used: {what} failed ({code}).")


class AwsKeyStore(KeyStore):
    """The key set in a Secrets Manager secret, its public JWKS in an S3 bucket.

    ``secrets`` and ``s3`` are boto3 clients (injected, never made here).
    A ``read_only`` store (the signer's) refuses every write. Without a
    bucket nothing is published: a ``jwtseal serve`` replica serves the JWKS
    itself.
    """

    def __init__(
        self,
        secrets: SecretsManagerClient,
        secret_id: str,
        *,
        s3: S3Client | None = None,
        bucket: str | None = None,
        jwks_key: str = JWKS_KEY,
        max_age: int = 300,
        cache_ttl: float = 0.0,
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self.bucket = bucket
        self._secrets = secrets
        self._s3 = s3
        self._jwks_key = jwks_key
        self._cache_control = f"public, max-age={max_age}"
        self._cache_ttl = cache_ttl
        self._read_only = read_only
        self._clock = clock
        self._cached: _Snapshot | None = None
        self._keyset_base: _Snapshot | None = None
        self._hashes_base: _Snapshot | None = None

    def __repr__(self) -> str:
        return f"AwsKeyStore(secret_id={self.secret_id!r}, bucket={self.bucket!r})"

    def lock(self) -> AbstractContextManager[None]:
        """Only a scope: writes are compare-and-swap (see the module docstring)."""
        return contextlib.nullcontext()

    def load(self) -> Any | None:
        self._keyset_base = self._snapshot()
        return self._keyset_base.envelope.get("keyset")

    def save(self, document: Any) -> None:
        """Replace the key set if the secret is still the version it was loaded from.

        Raises:
            ConcurrentUpdate: another writer changed the secret first.
            KeyStoreError: read-only, or Secrets Manager refused the write.
        """
        base = self._keyset_base or self._snapshot()
        self._write(base, {**base.envelope, "keyset": document})

    def publish(self, jwks: Jwks) -> None:
        """Write the public JWKS to the bucket (if any) with its ``Cache-Control``.

        Raises:
            KeyStoreError: read-only, or S3 refused the write.
        """
        self._writable()
        if self._s3 is None or self.bucket is None:
            return
        body = json.dumps(jwks, separators=(",", ":")).encode()
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self._jwks_key,
                Body=body,
                ContentType="application/json",
                CacheControl=self._cache_control,
            )
        except (BotoCoreError, ClientError) as exc:
            raise _failure("publishing the JWKS", exc) from exc

    def revision(self) -> Hashable:
        """The ``AWSCURRENT`` version id: one call per ``cache_ttl`` at most."""
        return self._snapshot().version_id

    def load_api_key_hashes(self) -> list[str] | None:
        """Raises KeyStoreError when the stored hashes are not SHA-256 hex digests."""
        self._hashes_base = self._snapshot()
        hashes = self._hashes_base.envelope.get("apiKeyHashes")
        if hashes is None:
            return None
        if not isinstance(hashes, list) or not all(
            isinstance(h, str) and _SHA256_HEX.fullmatch(h) for h in hashes
        ):
            raise KeyStoreError("The API key hashes in the secret are corrupt; refusing to use them.")
        return hashes

    def save_api_key_hashes(self, hashes: list[str]) -> None:
        """Raises ConcurrentUpdate or KeyStoreError, as :meth:`save` does."""
        base = self._hashes_base or self._snapshot()
        self._write(base, {**base.envelope, "apiKeyHashes": list(hashes)})

    def _snapshot(self) -> _Snapshot:
        """The cached read while fresh; an empty secret is read again each time until it fills."""
        cached = self._cached
        if (
            cached is not None
            and cached.version_id is not None
            and self._clock() - cached.read_at < self._cache_ttl
        ):
            return cached
        self._cached = self._read()
        return self._cached

    def _read(self) -> _Snapshot:
        """Raises KeyStoreError: unreadable, or not a jwtseal envelope."""
        now = self._clock()
        try:
            answer = self._secrets.get_secret_value(SecretId=self.secret_id, VersionStage=CURRENT)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return _empty(now)  # no value yet; a missing secret fails on the first write
            raise _failure("reading the secret", exc) from exc
        except BotoCoreError as exc:
            raise _failure("reading the secret", exc) from exc
        try:
            envelope = json.loads(answer["SecretString"])
        except (KeyError, ValueError) as exc:
            raise KeyStoreError("The secret does not hold JSON; refusing to use it.") from exc
        if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
            raise KeyStoreError("The secret does not hold a jwtseal key store; refusing to use it.")
        return _Snapshot(answer["VersionId"], envelope, now)

    def _writable(self) -> None:
        if self._read_only:
            raise KeyStoreError(
                "This key store is read-only here: the key generator creates and rotates the keys."
            )

    def _write(self, base: _Snapshot, envelope: dict[str, Any]) -> None:
        """Put ``envelope`` as a pending version, then swap ``AWSCURRENT`` onto it."""
        self._writable()
        text = json.dumps(envelope, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        token = str(uuid.uuid5(_TOKENS, f"{base.version_id}:{digest}"))
        try:
            put = self._secrets.put_secret_value(
                SecretId=self.secret_id, SecretString=text, ClientRequestToken=token, VersionStages=[PENDING]
            )
        except (BotoCoreError, ClientError) as exc:
            raise _failure("writing the secret", exc) from exc
        version_id = put["VersionId"]
        if CURRENT not in put.get("VersionStages", []):
            self._make_current(version_id, base.version_id)
        self._cached = self._keyset_base = self._hashes_base = _Snapshot(version_id, envelope, self._clock())

    def _make_current(self, version_id: str, base: str | None) -> None:
        """The compare-and-swap: move ``AWSCURRENT`` from ``base`` to ``version_id``.

        Raises:
            ConcurrentUpdate: ``AWSCURRENT`` is no longer on ``base``.
            KeyStoreError: the move failed for another reason.
        """
        if base is None:  # another writer's first version became current before ours
            self._cached = None
            raise ConcurrentUpdate
        try:
            self._secrets.update_secret_version_stage(
                SecretId=self.secret_id,
                VersionStage=CURRENT,
                MoveToVersionId=version_id,
                RemoveFromVersionId=base,
            )
        except (BotoCoreError, ClientError) as exc:
            current = self._read().version_id
            if current == version_id:  # an earlier attempt of this same write got through
                return
            self._cached = None
            if current != base:
                raise ConcurrentUpdate from exc
            raise _failure("making the new secret version current", exc) from exc

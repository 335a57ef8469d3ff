"""The key generator: a CloudFormation custom resource, and the daily maintenance.

Events, from ``custom_resources.Provider`` or the EventBridge schedule:

- ``Create``: make the key set when the secret has none (an existing one is
  kept), publish ``jwks.json``, store the API key hashes;
- ``Update`` with a new ``Version``: rotate with the library's rotation. The
  next key (published a whole period ago) becomes current, a new next key
  is made, the old current key is retired but stays published until every
  token it signed has expired. No key is wiped, so no token in flight breaks.
  An ``Update`` that keeps ``Version`` rotates nothing: it republishes and
  applies ``ApiKeyHashes``;
- ``Delete``: nothing. The keys outlive the resource, so a replacement or a
  rolled-back update never destroys keys that tokens still need; the
  secret's and bucket's removal policies decide what a stack deletion does;
- ``{"jwtseal": "maintain"}`` (daily): rotate when the period is over and
  remove retired keys past their time, as ``jwtseal serve`` does in the
  background.

Writes are compare-and-swap (see :mod:`jwtseal.stores.aws`); a write that
loses to a concurrent one is retried on the winner's key set.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..keyring import KeyRing
from ..keys import SigningKey
from ..keyset import KeySet
from ..rotation import RotationPolicy
from ..settings import Settings
from ..signers import KeySigner, open_signer
from ..stores.aws import AwsKeyStore, ConcurrentUpdate
from ..stores.base import KeyStore
from ._config import AwsSettings, s3_client, secrets_client
from ._events import Entry, Event
from .keyring_object import KeyRingCopy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["KeysHandler", "handler"]

logger = logging.getLogger("jwtseal.aws.keys")

PHYSICAL_ID: Final = "jwtseal-key-set"
MAINTAIN: Final = {"jwtseal": "maintain"}
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
T = TypeVar("T")


def rotation_policy(settings: Settings) -> RotationPolicy:
    """The same policy :meth:`jwtseal.Service.open` builds from the same settings."""
    return RotationPolicy(
        algorithm=settings.algorithm,
        period=settings.rotation_period,
        max_token_ttl=settings.max_token_ttl,
        leeway=settings.leeway,
        jwks_max_age=settings.jwks_max_age,
    )


def api_key_hashes(value: Any) -> list[str] | None:
    """The ``ApiKeyHashes`` property: absent (leave the stored hashes) or SHA-256 hex digests.

    Raises:
        ValueError: anything else; CloudFormation shows the message.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(h, str) and _SHA256_HEX.fullmatch(h) for h in value):
        raise ValueError("ApiKeyHashes must be a list of lower-case SHA-256 hex digests of the API keys.")
    return value


class KeysHandler:
    """Creates, rotates, maintains and publishes the key set of one secret and bucket.

    The key ring writes through ``ring_store``: ``store`` itself, or for KMS
    keys a :class:`KeyRingCopy` of it that also feeds the encoder.
    """

    def __init__(
        self,
        policy: RotationPolicy,
        store: AwsKeyStore,
        *,
        clock: Callable[[], float] = time.time,
        make_key: Callable[[str], SigningKey] | None = None,
        attempts: int = 3,
        clients: tuple[SecretsManagerClient, S3Client] | None = None,
        signer: KeySigner | None = None,
        ring_store: KeyStore | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.ring_store = ring_store or store
        self.signer = signer
        self._clock = clock
        self._make_key = make_key
        self._attempts = attempts
        self._clients = clients

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KeysHandler:
        """Raises SettingsError: a variable is missing or not valid.

        With ``JWTSEAL_SIGNER=aws-kms`` the keys are KMS keys and the key set
        is copied to ``keyring.json`` for the encoder (see :mod:`.keyring_object`).
        """
        settings = Settings.load(environ)
        aws = AwsSettings.load(environ, need_bucket=True)
        assert aws.bucket is not None
        secrets, s3 = secrets_client(), s3_client()
        store = AwsKeyStore(secrets, aws.secret_id, s3=s3, bucket=aws.bucket, max_age=settings.jwks_max_age)
        copy = KeyRingCopy(store, s3, aws.bucket) if settings.signer == "aws-kms" else None
        signer = open_signer(settings)
        return cls(rotation_policy(settings), store, clients=(secrets, s3), signer=signer, ring_store=copy)

    def __call__(self, event: Event, context: object = None) -> dict[str, Any]:
        """Raises ValueError (an unknown event or bad property) or KeyStoreError: the event failed."""
        if dict(event) == MAINTAIN:
            return self._maintain()
        kind = event.get("RequestType")
        if kind == "Delete":
            return {"PhysicalResourceId": event["PhysicalResourceId"]}
        if kind not in ("Create", "Update"):
            raise ValueError(f"Not a key generator event: RequestType={kind!r}.")
        properties = event.get("ResourceProperties") or {}
        hashes = api_key_hashes(properties.get("ApiKeyHashes"))
        old = event.get("OldResourceProperties") or {}
        if kind == "Update" and properties.get("Version") != old.get("Version"):
            keyset = self._retry(self._rotate)
        else:
            keyset = self._retry(self._publish)
        if hashes is not None:
            self._retry(lambda: self._save_hashes(hashes))
        logger.info("%s: key set v%d, current key %s", kind, keyset.version, keyset.current.kid)
        return {
            "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
            "Data": {"CurrentKid": keyset.current.kid, "KeySetVersion": str(keyset.version)},
        }

    def close(self) -> None:
        for client in self._clients or ():
            client.close()

    def _keyring(self) -> KeyRing:
        return KeyRing(
            self.ring_store, self.policy, clock=self._clock, make_key=self._make_key, signer=self.signer
        )

    def _publish(self) -> KeySet:
        """The stored key set (made when there is none), published again."""
        keyset = self._keyring().view().keyset
        self.ring_store.publish(keyset.jwks())
        return keyset

    def _rotate(self) -> KeySet:
        keyring = self._keyring()
        ahead = keyring.now() - keyring.view().keyset.next.created_at
        if ahead < self.policy.jwks_max_age:
            logger.warning(
                "The next key was published %d s ago, less than the JWKS max-age (%d s): verifiers "
                "holding an older JWKS refetch it on first sight of the new kid.",
                ahead,
                self.policy.jwks_max_age,
            )
        return keyring.rotate()

    def _maintain(self) -> dict[str, Any]:
        changed = self._retry(lambda: self._keyring().maintain())
        if changed is not None:
            logger.info("maintenance: key set v%d, current key %s", changed.version, changed.current.kid)
        return {"changed": changed is not None}

    def _save_hashes(self, hashes: list[str]) -> None:
        if self.ring_store.load_api_key_hashes() != hashes:
            self.ring_store.save_api_key_hashes(hashes)

    def _retry(self, step: Callable[[], T]) -> T:
        """Run ``step``, again on the winner's key set when a concurrent write won."""
        for attempt in range(1, self._attempts):
            try:
                return step()
            except ConcurrentUpdate:
                logger.warning("a concurrent write won (attempt %d); retrying on its key set", attempt)
        return step()


handler = Entry(KeysHandler.from_environ)

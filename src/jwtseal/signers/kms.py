"""AWS KMS signing: each key of the ring is an asymmetric KMS key whose private half never leaves KMS.

- A new key is ``CreateKey`` (RSA_2048, ECC_NIST_P256 or ECC_NIST_P384),
  tagged ``jwtseal:managed=true``, ``jwtseal:ring=<ring>`` and, once its
  public key is read, ``jwtseal:kid=<thumbprint>``: jwtseal finds its own
  keys by these tags and touches nothing else.
- The key store keeps the key's ARN beside its public JWK, never more.
- A signature is one ``Sign`` call: the signing input itself (``RAW``) up to
  KMS's 4096 bytes, its hash (``DIGEST``) above. ECDSA answers come as DER
  and are turned into the fixed-size ``r || s`` of JWS, and every answer is
  verified with the public key before a token carries it.
- The public JWK comes from ``GetPublicKey`` (DER SubjectPublicKeyInfo),
  once per key; ``DescribeKey`` is asked whenever a key is loaded, so a
  disabled or deleted key is never used, and a ``Sign`` refused because the
  key is disabled or pending deletion stops every later use of that key.
- A key that leaves the JWKS (after the rotation's retention) is scheduled
  for deletion with KMS's waiting period (7 to 30 days).

Throttling, KMS errors and network failures raise :class:`SigningUnavailable`
(``503 signing_unavailable`` with ``Retry-After`` at the HTTP edge): never a
500, never a token from a key that should not sign.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:
    raise ImportError("The aws-kms signer needs boto3: pip install 'jwtseal[aws]'") from exc

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .._algorithms import Signer
from .._jwk import PRIVATE_MEMBERS, public_members
from ..errors import InvalidKey, SigningUnavailable
from ..keys import SigningKey, VerifyingKey
from .base import KeySigner

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_kms.literals import KeySpecType, SigningAlgorithmSpecType

__all__ = ["MAX_RAW_MESSAGE", "KmsSigner"]

logger = logging.getLogger("jwtseal.signers.kms")

MAX_RAW_MESSAGE: Final = 4096
"""The largest message KMS signs as ``RAW``; longer signing inputs go as their digest."""
MANAGED_TAG: Final = "jwtseal:managed"
RING_TAG: Final = "jwtseal:ring"
KID_TAG: Final = "jwtseal:kid"
_BUSY: Final = frozenset(
    {
        "ThrottlingException",
        "LimitExceededException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
    }
)
"""Errors that pass: retry after a second."""
_REFUSED_KEY: Final = frozenset({"DisabledException", "KMSInvalidStateException", "NotFoundException"})
"""Errors that say the key must not sign again."""
_RETRY_SOON: Final = 1
_RETRY_LATER: Final = 60


@dataclass(frozen=True, slots=True)
class _Spec:
    """What KMS calls one JWS algorithm: the key spec, the signing algorithm, the hash, the r/s size."""

    key_spec: KeySpecType
    signing_algorithm: SigningAlgorithmSpecType
    hash_name: str
    ecdsa_size: int | None = None


SPECS: Final = {
    "RS256": _Spec("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", "sha256"),
    "PS256": _Spec("RSA_2048", "RSASSA_PSS_SHA_256", "sha256"),
    "ES256": _Spec("ECC_NIST_P256", "ECDSA_SHA_256", "sha256", 32),
    "ES384": _Spec("ECC_NIST_P384", "ECDSA_SHA_384", "sha384", 48),
}
"""The algorithms KMS signs as JWS needs them (KMS's PSS salt is the digest's length, as RFC 7518 asks)."""


def _spec(alg: str) -> _Spec:
    """Raises InvalidKey: KMS cannot sign ``alg`` as jwtseal needs it."""
    if alg not in SPECS:
        raise InvalidKey(f"The aws-kms signer supports {', '.join(SPECS)}, not {alg!r}.")
    return SPECS[alg]


def _error_code(exc: ClientError | BotoCoreError) -> str:
    return exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else "network"


class KmsSigner(KeySigner):
    """The keys of the key ring ``ring``, each one an asymmetric KMS key.

    Args:
        client: a boto3 KMS client (region and credentials are the caller's).
        ring: the name the keys are tagged with, so rings sharing an account
            never touch each other's keys.
        deletion_window_days: KMS's waiting period before a scheduled
            deletion happens, 7 to 30 days.

    Raises:
        ValueError: ``deletion_window_days`` is outside 7..30 or ``ring`` is empty.
    """

    def __init__(self, client: KMSClient, *, ring: str = "jwtseal", deletion_window_days: int = 30) -> None:
        if not 7 <= deletion_window_days <= 30:
            raise ValueError("KMS deletion waiting period must be 7 to 30 days")
        if not ring:
            raise ValueError("the key ring's name must not be empty")
        self.client = client
        self.ring = ring
        self.deletion_window_days = deletion_window_days
        self._public: dict[tuple[str, str], VerifyingKey] = {}
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def generate(self, alg: str) -> SigningKey:
        """``CreateKey`` for ``alg``, tagged as this ring's, then its public key.

        Raises:
            InvalidKey: KMS offers no key for ``alg``.
            SigningUnavailable: KMS refused or could not be reached.
        """
        spec = _spec(alg)
        tags = [
            {"TagKey": MANAGED_TAG, "TagValue": "true"},
            {"TagKey": RING_TAG, "TagValue": self.ring},
        ]
        created = self._call(
            "CreateKey",
            lambda: self.client.create_key(
                KeyUsage="SIGN_VERIFY",
                KeySpec=spec.key_spec,
                Description=f"jwtseal {alg} signing key of key ring {self.ring}",
                Tags=tags,  # type: ignore[arg-type]
            ),
        )
        arn = created["KeyMetadata"]["Arn"]
        key = self._signing_key(arn, alg)
        kid_tag = [{"TagKey": KID_TAG, "TagValue": key.kid}]
        self._call("TagResource", lambda: self.client.tag_resource(KeyId=arn, Tags=kid_tag))  # type: ignore[arg-type]
        logger.info("KMS key created", extra={"fields": {"kid": key.kid, "alg": alg, "ring": self.ring}})
        return key

    def load(self, jwk: dict[str, Any]) -> SigningKey:
        """The KMS key a key store kept as its public JWK plus ``held_by``, when KMS may sign with it.

        Raises:
            InvalidKey: not a KMS key's record (a private key, no ARN), or
                KMS's public key is not the stored one.
            SigningUnavailable: KMS says the key is disabled or going, or
                cannot be reached.
        """
        arn = jwk.get("held_by")
        if not isinstance(arn, str) or not arn or PRIVATE_MEMBERS & set(jwk):
            raise InvalidKey("The stored key is not a KMS key; the aws-kms signer holds no private keys.")
        alg = jwk.get("alg")
        if not isinstance(alg, str):
            raise InvalidKey("The stored KMS key names no algorithm.")
        described = self._call("DescribeKey", lambda: self.client.describe_key(KeyId=arn))["KeyMetadata"]
        state = described.get("KeyState")
        if state != "Enabled" or described.get("KeyUsage") != "SIGN_VERIFY":
            self._refuse(arn)
            raise SigningUnavailable(
                f"The KMS signing key is {state}; it is not used.", retry_after=_RETRY_LATER
            )
        with self._lock:
            self._refused.discard(arn)
        key = self._signing_key(arn, alg)
        if jwk.get("kid") != key.kid:
            raise InvalidKey("The KMS key's public key is not the stored one.")
        return key

    def release(self, kids: Collection[str]) -> None:
        """Schedule the deletion of this ring's keys for ``kids``, after KMS's waiting period.

        A failure is logged, never raised: the key set has changed already,
        and a key left behind is found again by its tags.
        """
        try:
            for arn, key_id, kid in self._own_keys():
                if kid in kids:
                    self._schedule_deletion(arn, key_id, kid)
        except SigningUnavailable as exc:
            logger.warning(
                "KMS key deletion not scheduled",
                extra={"fields": {"kids": sorted(kids), "detail": exc.detail}},
            )

    def _schedule_deletion(self, arn: str, key_id: str, kid: str) -> None:
        self._refuse(arn)
        try:
            self.client.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=self.deletion_window_days)
        except ClientError as exc:
            if _error_code(exc) != "KMSInvalidStateException":  # already pending deletion: nothing to do
                raise self._unavailable("ScheduleKeyDeletion", exc) from exc
        fields = {"kid": kid, "ring": self.ring, "days": self.deletion_window_days}
        logger.info("KMS key deletion scheduled", extra={"fields": fields})

    def _own_keys(self) -> Iterator[tuple[str, str, str]]:
        """(ARN, key id, kid) of every KMS key tagged as this ring's."""
        pages = self.client.get_paginator("list_keys").paginate()
        for page in self._call("ListKeys", lambda: list(pages)):
            for entry in page["Keys"]:
                arn = entry["KeyArn"]
                answer = self._call("ListResourceTags", partial(self.client.list_resource_tags, KeyId=arn))
                tags = {tag["TagKey"]: tag["TagValue"] for tag in answer["Tags"]}
                if tags.get(MANAGED_TAG) == "true" and tags.get(RING_TAG) == self.ring and KID_TAG in tags:
                    yield arn, entry["KeyId"], tags[KID_TAG]

    def _signing_key(self, arn: str, alg: str) -> SigningKey:
        public = self._public_key(arn, alg)
        return SigningKey.held_elsewhere(public, self._signer(arn, public, _spec(alg)), arn)

    def _public_key(self, arn: str, alg: str) -> VerifyingKey:
        """The key's public half, asked of KMS once per key.

        Raises:
            InvalidKey: not a public key ``alg`` can use (an RSA key for ES256, say).
        """
        with self._lock:
            cached = self._public.get((arn, alg))
        if cached is not None:
            return cached
        answer = self._call("GetPublicKey", lambda: self.client.get_public_key(KeyId=arn))
        try:
            members = public_members(load_der_public_key(answer["PublicKey"]))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            raise InvalidKey("KMS answered with a public key jwtseal cannot read.") from exc
        public = VerifyingKey.from_jwk({**members, "alg": alg})
        with self._lock:
            self._public[arn, alg] = public
        return public

    def _signer(self, arn: str, public: VerifyingKey, spec: _Spec) -> Signer:
        """The ``sign`` of one KMS key: ``Sign``, JWS form, then checked against the public key."""
        hash_name, size = spec.hash_name, spec.ecdsa_size

        def sign(signing_input: bytes) -> bytes:
            if arn in self._refused:
                raise SigningUnavailable("The KMS signing key is no longer usable.", retry_after=_RETRY_LATER)
            if len(signing_input) <= MAX_RAW_MESSAGE:
                message, kind = signing_input, "RAW"
            else:
                message, kind = hashlib.new(hash_name, signing_input).digest(), "DIGEST"
            answer = self._call(
                "Sign",
                lambda: self.client.sign(
                    KeyId=arn,
                    Message=message,
                    MessageType=kind,  # type: ignore[arg-type]
                    SigningAlgorithm=spec.signing_algorithm,
                ),
                arn,
            )
            signature: bytes = answer["Signature"]
            if size is not None:
                r, s = decode_dss_signature(signature)
                signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
            if not public.verify(signing_input, signature):
                logger.error("KMS signature does not verify", extra={"fields": {"kid": public.kid}})
                raise SigningUnavailable("The KMS answer did not verify; nothing was signed.")
            return signature

        return sign

    def _refuse(self, arn: str) -> None:
        with self._lock:
            self._refused.add(arn)

    def _call(self, operation: str, call: Any, arn: str | None = None) -> Any:
        """``call()``, with every KMS or network failure turned into SigningUnavailable.

        Raises:
            SigningUnavailable: KMS throttled, failed, refused, or was out of reach.
        """
        try:
            return call()
        except (ClientError, BotoCoreError) as exc:
            if arn is not None and _error_code(exc) in _REFUSED_KEY:
                self._refuse(arn)
            raise self._unavailable(operation, exc) from exc

    def _unavailable(self, operation: str, exc: ClientError | BotoCoreError) -> SigningUnavailable:
        code = _error_code(exc)
        logger.warning("KMS call failed", extra={"fields": {"operation": operation, "code": code}})
        retry_after = _RETRY_SOON if code in _BUSY or code == "network" else _RETRY_LATER
        return SigningUnavailable(f"KMS {operation} failed ({code}); retry later.", retry_after=retry_after)

"""The stack's settings, from CDK context (``cdk.json``, or ``-c key=value``).

- ``jwtseal:keyVersion`` (``"1"``): the key custom resource's ``Version``;
  change it to rotate. Keep it in cdk.json: any change, back included,
  rotates once.
- ``jwtseal:apiKeyHashes`` (none): SHA-256 hex digests of the bearer keys
  allowed to call ``POST /encode``, a list or comma-separated. None: the
  encoder refuses everyone.
- ``jwtseal:bundle`` (``true``): bundle the Lambda code with its
  dependencies for the Lambda platform. ``false`` synthesizes offline with
  the bare sources: never deploy that.
- ``jwtseal:retainKeys`` (``true``): keep the secret and the bucket when the
  stack is deleted.
- ``jwtseal:signer`` (``local``): ``aws-kms`` makes every key an asymmetric
  KMS key that never leaves KMS (see ``kms.py``); the encoder then reads no
  secret.
- ``jwtseal:kmsKeyRing`` (``jwtseal``): the ``jwtseal:ring`` tag of the KMS
  keys, so stacks sharing an account keep apart.
- ``jwtseal:kmsDeletionDays`` (``30``): KMS's waiting period, 7 to 30 days,
  before a key that left the JWKS is deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from constructs import Node

__all__ = ["PROJECT_ROOT", "StackConfig"]

PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_RING: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _flag(value: Any, name: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ValueError(f"Context {name} must be true or false, not {value!r}.")


def _hashes(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    hashes = tuple(str(item).strip().lower() for item in items if str(item).strip())
    for digest in hashes:
        if not _SHA256_HEX.fullmatch(digest):
            raise ValueError(f"Context jwtseal:apiKeyHashes: {digest!r} is not a SHA-256 hex digest.")
    return hashes


@dataclass(frozen=True, slots=True)
class StackConfig:
    key_version: str = "1"
    api_key_hashes: tuple[str, ...] = ()
    bundle: bool = True
    retain_keys: bool = True
    signer: str = "local"
    kms_key_ring: str = "jwtseal"
    kms_deletion_days: int = 30
    project_root: Path = PROJECT_ROOT

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        """Raises ValueError naming the context key whose value is not valid."""
        version = node.try_get_context("jwtseal:keyVersion")
        return cls(
            key_version=str(version) if version is not None else "1",
            api_key_hashes=_hashes(node.try_get_context("jwtseal:apiKeyHashes")),
            bundle=_flag(node.try_get_context("jwtseal:bundle"), "jwtseal:bundle", True),
            retain_keys=_flag(node.try_get_context("jwtseal:retainKeys"), "jwtseal:retainKeys", True),
            **_kms(node),
        )


def _kms(node: Node) -> dict[str, Any]:
    """The KMS signing context, checked; raises ValueError naming the bad key."""
    signer = str(node.try_get_context("jwtseal:signer") or "local")
    if signer not in ("local", "aws-kms"):
        raise ValueError(f"Context jwtseal:signer must be local or aws-kms, not {signer!r}.")
    ring = str(node.try_get_context("jwtseal:kmsKeyRing") or "jwtseal")
    if not _RING.fullmatch(ring):
        raise ValueError(f"Context jwtseal:kmsKeyRing: {ring!r} is not 1 to 128 letters, digits, - or _.")
    days = str(node.try_get_context("jwtseal:kmsDeletionDays") or "30")
    if not days.isdigit() or not 7 <= int(days) <= 30:
        raise ValueError(f"Context jwtseal:kmsDeletionDays must be 7 to 30, not {days!r}.")
    return {"signer": signer, "kms_key_ring": ring, "kms_deletion_days": int(days)}

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
        )

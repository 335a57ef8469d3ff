"""The key set as data: next, current and retired keys, and their stored form.

The stored form carries each key's state and times, so the whole lifecycle
(see :mod:`jwtseal.rotation`) lives in the data, not in a process's memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from ._jwk import Jwks
from .errors import InvalidKey, KeyStoreError
from .keys import SigningKey, VerifyingKey

__all__ = ["KeyRecord", "KeySet", "KeyState"]

KeyState = Literal["next", "current", "retired"]
FORMAT: Final = "jwtseal/keyset-v1"

LoadKey = Callable[[dict[str, Any]], SigningKey]
"""Rebuilds a signing key from its stored JWK: the signer's side of the stored form."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One published key and its life: times are Unix seconds."""

    public: VerifyingKey
    state: KeyState
    created_at: int
    activates_at: int
    retires_at: int
    removes_at: int | None = None
    signing: SigningKey | None = None

    @property
    def kid(self) -> str:
        return self.public.kid

    def describe(self) -> dict[str, Any]:
        """Public facts about the key for people: state and ISO 8601 UTC times."""
        return {
            "kid": self.kid,
            "alg": self.public.alg,
            "state": self.state,
            "created": _iso(self.created_at),
            "activates": _iso(self.activates_at),
            "retires": _iso(self.retires_at),
            "removes": _iso(self.removes_at),
        }


def _iso(timestamp: int | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class KeySet:
    """An immutable key set; ``version`` grows by one with every change."""

    version: int
    keys: tuple[KeyRecord, ...]

    @property
    def current(self) -> KeyRecord:
        return next(record for record in self.keys if record.state == "current")

    @property
    def next(self) -> KeyRecord:
        return next(record for record in self.keys if record.state == "next")

    @property
    def signing_key(self) -> SigningKey:
        key = self.current.signing
        assert key is not None  # guaranteed by from_document and the builders
        return key

    def jwks(self) -> Jwks:
        """The public key set: current first, then next, then retired."""
        order = {"current": 0, "next": 1, "retired": 2}
        records = sorted(self.keys, key=lambda record: order[record.state])
        return {"keys": [record.public.to_jwk() for record in records]}


def to_document(keyset: KeySet) -> dict[str, Any]:
    """The stored form: private JWKs for keys that can sign, public ones otherwise."""
    return {
        "format": FORMAT,
        "version": keyset.version,
        "keys": [
            {
                "state": r.state,
                "created_at": r.created_at,
                "activates_at": r.activates_at,
                "retires_at": r.retires_at,
                "removes_at": r.removes_at,
                "jwk": r.signing.to_private_jwk() if r.signing else r.public.to_jwk(),
            }
            for r in keyset.keys
        ],
    }


def from_document(document: Any, load_key: LoadKey = SigningKey.from_private_jwk) -> KeySet:
    """Rebuild a key set, refusing anything that is not exactly a valid one.

    ``load_key`` rebuilds the keys that sign (the current and next ones):
    a private JWK by default, a KMS key for the ``aws-kms`` signer.

    Raises:
        KeyStoreError: wrong format, a bad key, or not exactly one current
            and one next key.
    """
    try:
        if document["format"] != FORMAT:
            raise KeyStoreError("The key store has an unknown format.")
        keyset = KeySet(
            int(document["version"]), tuple(_record(entry, load_key) for entry in document["keys"])
        )
    except (KeyError, TypeError, ValueError, InvalidKey) as exc:
        raise KeyStoreError("The key store is corrupt; refusing to use it.") from exc
    states = [record.state for record in keyset.keys]
    kids = {record.kid for record in keyset.keys}
    if states.count("current") != 1 or states.count("next") != 1 or len(kids) != len(states):
        raise KeyStoreError("The key store is corrupt; refusing to use it.")
    return keyset


def _record(entry: dict[str, Any], load_key: LoadKey) -> KeyRecord:
    state = entry["state"]
    if state not in ("next", "current", "retired"):
        raise ValueError("unknown key state")
    signing = None if state == "retired" else load_key(entry["jwk"])
    public = signing.public if signing else VerifyingKey.from_jwk(entry["jwk"])
    removes_at = entry["removes_at"]
    return KeyRecord(
        public,
        state,
        int(entry["created_at"]),
        int(entry["activates_at"]),
        int(entry["retires_at"]),
        None if removes_at is None else int(removes_at),
        signing,
    )

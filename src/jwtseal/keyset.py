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
from .wrapping import KeyEncryptionKeys

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


def to_document(keyset: KeySet, wrapping: KeyEncryptionKeys | None = None) -> dict[str, Any]:
    """The stored form: private JWKs for keys that can sign, public ones otherwise.

    With ``wrapping`` a key that can sign keeps its public JWK in the clear
    and its private JWK sealed beside it (see :mod:`jwtseal.wrapping`).
    """
    return {"format": FORMAT, "version": keyset.version, "keys": [_entry(r, wrapping) for r in keyset.keys]}


def _entry(record: KeyRecord, wrapping: KeyEncryptionKeys | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "state": record.state,
        "created_at": record.created_at,
        "activates_at": record.activates_at,
        "retires_at": record.retires_at,
        "removes_at": record.removes_at,
    }
    if record.signing is None:
        entry["jwk"] = record.public.to_jwk()
    elif wrapping is None:
        entry["jwk"] = record.signing.to_private_jwk()
    else:
        entry["jwk"] = record.public.to_jwk()
        entry["wrapped"] = wrapping.wrap(record.kid, record.signing.to_private_jwk())
    return entry


def from_document(
    document: Any,
    wrapping: KeyEncryptionKeys | None = None,
    load_key: LoadKey = SigningKey.from_private_jwk,
) -> KeySet:
    """Rebuild a key set, refusing anything that is not exactly a valid one.

    Private keys in the clear are read with or without ``wrapping`` (a file
    store that adopts a KEK wraps them on its next write, or on
    ``jwtseal keys rewrap``). ``load_key`` rebuilds the keys that sign (the
    current and next ones): a private JWK by default, a KMS key for the
    ``aws-kms`` signer.

    Raises:
        KeyStoreError: wrong format, a bad key, not exactly one current and
            one next key, or a wrapped key that no configured KEK opens (the
            message names the key id).
    """
    try:
        if document["format"] != FORMAT:
            raise KeyStoreError("The key store has an unknown format.")
        records = tuple(_record(entry, wrapping, load_key) for entry in document["keys"])
        keyset = KeySet(int(document["version"]), records)
    except (KeyError, TypeError, ValueError, InvalidKey) as exc:
        raise KeyStoreError("The key store is corrupt; refusing to use it.") from exc
    states = [record.state for record in keyset.keys]
    kids = {record.kid for record in keyset.keys}
    if states.count("current") != 1 or states.count("next") != 1 or len(kids) != len(states):
        raise KeyStoreError("The key store is corrupt; refusing to use it.")
    return keyset


def _record(entry: dict[str, Any], wrapping: KeyEncryptionKeys | None, load_key: LoadKey) -> KeyRecord:
    state = entry["state"]
    if state not in ("next", "current", "retired"):
        raise ValueError("unknown key state")
    signing = None if state == "retired" else _signing_key(entry, wrapping, load_key)
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


def _signing_key(entry: dict[str, Any], wrapping: KeyEncryptionKeys | None, load_key: LoadKey) -> SigningKey:
    """The private half of a key that signs: in the clear, or unwrapped.

    Raises:
        KeyStoreError: wrapped, and no KEK is set or none opens it.
        InvalidKey, KeyError, TypeError: a malformed entry.
    """
    if "wrapped" not in entry:
        return load_key(entry["jwk"])
    kid = entry["jwk"]["kid"]
    if not isinstance(kid, str):
        raise TypeError("kid must be a string")
    if wrapping is None:
        raise KeyStoreError(
            f"The private key {kid} is encrypted at rest, and no key-encryption key is set "
            "(JWTSEAL_KEY_ENCRYPTION_KEY or JWTSEAL_KEY_ENCRYPTION_KEY_FILE)."
        )
    return load_key(wrapping.unwrap(kid, entry["wrapped"]))  # the AAD binds kid

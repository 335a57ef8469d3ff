"""The key set as data: next, current and retired keys, and rotation as pure functions.

Nothing here reads a clock, a file or a random source on its own: rotation is
a function of (key set, policy, now, a fresh key), so every schedule can be
walked through in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from ._jwk import Jwks
from .errors import InvalidKey, KeyStoreError
from .keys import SigningKey, VerifyingKey

__all__ = ["KeyRecord", "KeySet", "KeyState", "RotationPolicy"]

KeyState = Literal["next", "current", "retired"]
FORMAT: Final = "jwtseal/keyset-v1"


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """The timings every rotation follows, in seconds."""

    algorithm: str = "RS256"
    period: int = 2_592_000
    max_token_ttl: int = 86_400
    leeway: int = 60
    jwks_max_age: int = 300

    def retention(self) -> int:
        """How long a retired key stays published: its last token's life, plus slack."""
        return self.max_token_ttl + self.leeway + self.jwks_max_age


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


MakeKey = Callable[[str], SigningKey]


def _fresh(key: SigningKey, state: KeyState, now: int, activates_at: int, period: int) -> KeyRecord:
    return KeyRecord(key.public, state, now, activates_at, activates_at + period, signing=key)


def initial_keyset(policy: RotationPolicy, now: int, make_key: MakeKey) -> KeySet:
    """A current key that signs now and a next key published a whole period ahead."""
    current = _fresh(make_key(policy.algorithm), "current", now, now, policy.period)
    upcoming = _fresh(make_key(policy.algorithm), "next", now, now + policy.period, policy.period)
    return KeySet(1, (current, upcoming))


def rotate(keyset: KeySet, policy: RotationPolicy, now: int, make_key: MakeKey) -> KeySet:
    """Next becomes current, a new next is made, the old current is retired.

    The retired key's private half is dropped: it never signs again.
    """
    old, promoted = keyset.current, keyset.next
    retired = replace(old, state="retired", retires_at=now, removes_at=now + policy.retention(), signing=None)
    current = replace(promoted, state="current", activates_at=now, retires_at=now + policy.period)
    upcoming = _fresh(make_key(policy.algorithm), "next", now, now + policy.period, policy.period)
    kept = [r for r in keyset.keys if r.state == "retired" and not _removable(r, now)]
    return KeySet(keyset.version + 1, (current, upcoming, retired, *kept))


def _removable(record: KeyRecord, now: int) -> bool:
    return record.removes_at is not None and record.removes_at <= now


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


def from_document(document: Any) -> KeySet:
    """Rebuild a key set, refusing anything that is not exactly a valid one.

    Raises:
        KeyStoreError: wrong format, a bad key, or not exactly one current
            and one next key.
    """
    try:
        if document["format"] != FORMAT:
            raise KeyStoreError("The key store has an unknown format.")
        keyset = KeySet(int(document["version"]), tuple(map(_record, document["keys"])))
    except (KeyError, TypeError, ValueError, InvalidKey) as exc:
        raise KeyStoreError("The key store is corrupt; refusing to use it.") from exc
    states = [record.state for record in keyset.keys]
    kids = {record.kid for record in keyset.keys}
    if states.count("current") != 1 or states.count("next") != 1 or len(kids) != len(states):
        raise KeyStoreError("The key store is corrupt; refusing to use it.")
    return keyset


def _record(entry: dict[str, Any]) -> KeyRecord:
    state = entry["state"]
    if state not in ("next", "current", "retired"):
        raise ValueError("unknown key state")
    signing = None if state == "retired" else SigningKey.from_private_jwk(entry["jwk"])
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

"""Key rotation as pure functions of (key set, policy, now, a fresh key).

Nothing here reads a clock, a file or a random source, so a year of
rotations can be walked through in a test. The invariants, each named in
``tests/test_rotation.py``:

1. the next key is published at least one JWKS ``max-age`` before it signs
   (it is published a whole ``period`` ahead, and ``max-age <= period``);
2. a retired key stays published until every token it signed has expired,
   plus the leeway, plus one ``max-age``; then it is removed;
3. no token outlives its key's publication: a token's ``exp`` is at most
   ``max_token_ttl`` after its signing, and retention covers that;
4. the JWKS ``max-age`` never exceeds the publish-ahead window;
5. a retired key's private half is dropped when it retires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .errors import UnknownKid
from .keys import SigningKey
from .keyset import KeyRecord, KeySet, KeyState

__all__ = ["RotationPolicy"]

MakeKey = Callable[[str], SigningKey]


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """The timings every rotation follows, in seconds.

    Raises:
        ValueError: ``jwks_max_age`` exceeds ``period`` (invariant 4), or a
            duration is not positive.
    """

    algorithm: str = "RS256"
    period: int = 2_592_000
    max_token_ttl: int = 86_400
    leeway: int = 60
    jwks_max_age: int = 300

    def __post_init__(self) -> None:
        if min(self.period, self.max_token_ttl, self.jwks_max_age) <= 0 or self.leeway < 0:
            raise ValueError("rotation timings must be positive")
        if self.jwks_max_age > self.period:
            raise ValueError("the JWKS max-age may not exceed the rotation period")

    def retention(self) -> int:
        """How long a retired key stays published: its last token's life, plus slack."""
        return self.max_token_ttl + self.leeway + self.jwks_max_age


def _fresh(key: SigningKey, state: KeyState, now: int, activates_at: int, period: int) -> KeyRecord:
    return KeyRecord(key.public, state, now, activates_at, activates_at + period, signing=key)


def _new_next(policy: RotationPolicy, now: int, make_key: MakeKey) -> KeyRecord:
    return _fresh(make_key(policy.algorithm), "next", now, now + policy.period, policy.period)


def _retire(record: KeyRecord, policy: RotationPolicy, now: int) -> KeyRecord:
    removes_at = now + policy.retention()
    return replace(record, state="retired", retires_at=now, removes_at=removes_at, signing=None)


def _kept_retired(keyset: KeySet, now: int, dropped: str = "") -> list[KeyRecord]:
    return [r for r in keyset.keys if r.state == "retired" and r.kid != dropped and (r.removes_at or 0) > now]


def initial_keyset(policy: RotationPolicy, now: int, make_key: MakeKey) -> KeySet:
    """A current key that signs now and a next key published a whole period ahead."""
    current = _fresh(make_key(policy.algorithm), "current", now, now, policy.period)
    return KeySet(1, (current, _new_next(policy, now, make_key)))


def rotate(keyset: KeySet, policy: RotationPolicy, now: int, make_key: MakeKey) -> KeySet:
    """Next becomes current, a new next is made, the old current is retired."""
    promoted = replace(keyset.next, state="current", activates_at=now, retires_at=now + policy.period)
    retired = _retire(keyset.current, policy, now)
    keys = (promoted, _new_next(policy, now, make_key), retired, *_kept_retired(keyset, now))
    return KeySet(keyset.version + 1, keys)


def is_due(keyset: KeySet, now: int) -> bool:
    """Whether :func:`maintain` has anything to do: a rotation or a removal."""
    removals = [r.removes_at for r in keyset.keys if r.removes_at is not None]
    return now >= keyset.current.retires_at or any(at <= now for at in removals)


def maintain(keyset: KeySet, policy: RotationPolicy, now: int, make_key: MakeKey) -> KeySet:
    """Rotate when the current key's time is up; drop retired keys past removal."""
    if now >= keyset.current.retires_at:
        return rotate(keyset, policy, now, make_key)
    kept = _kept_retired(keyset, now)
    return KeySet(keyset.version + 1, (keyset.current, keyset.next, *kept))


def revoke(keyset: KeySet, kid: str, policy: RotationPolicy, now: int, make_key: MakeKey) -> KeySet:
    """Emergency: the key leaves the JWKS at once; its tokens then fail with unknown_kid.

    Revoking the current key promotes the next one; revoking the next key
    makes a new one.

    Raises:
        UnknownKid: no published key has ``kid``.
    """
    if kid not in {record.kid for record in keyset.keys}:
        raise UnknownKid(f"No published key has kid {kid!r}.")
    retired = _kept_retired(keyset, now, dropped=kid)
    if kid == keyset.current.kid:
        current = replace(keyset.next, state="current", activates_at=now, retires_at=now + policy.period)
        keys = (current, _new_next(policy, now, make_key), *retired)
    elif kid == keyset.next.kid:
        keys = (keyset.current, _new_next(policy, now, make_key), *retired)
    else:
        keys = (keyset.current, keyset.next, *retired)
    return KeySet(keyset.version + 1, keys)

"""Key rotation: the five invariants over a year, revocation, concurrency, crashes."""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jwtseal import ClaimsPolicy, FileKeyStore, Issuer, KeyRing, RotationPolicy, UnknownKid, Verifier
from jwtseal.keyset import KeySet
from tests.conftest import Clock

DAY = 86_400
POLICY = RotationPolicy(algorithm="EdDSA", period=30 * DAY, max_token_ttl=DAY, leeway=60, jwks_max_age=300)


def published(keyset: KeySet) -> set[str]:
    return {record.kid for record in keyset.keys}


def test_a_year_of_rotations_keeps_every_invariant(tmp_path: Path) -> None:
    clock = Clock(1_767_225_600)
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock, check_interval=0)
    issuer = Issuer(keyring, ClaimsPolicy(issuer="https://i", max_token_ttl=DAY), clock=clock)
    first_seen: dict[str, float] = {}
    tokens: list[tuple[str, int, str]] = []  # (kid, exp, token)
    rotations = removals = 0
    start = clock.now
    while clock.now < start + 365 * DAY:
        before = keyring.view().keyset
        changed = keyring.maintain()
        keyset = keyring.view().keyset
        for kid in published(keyset):
            first_seen.setdefault(kid, clock.now)
        if changed is not None and changed.current.kid != before.current.kid:
            rotations += 1
            # Invariant 1: the new current key was published at least one max-age ago.
            assert clock.now - first_seen[changed.current.kid] >= POLICY.jwks_max_age
        removals += len(published(before) - published(keyset))
        issued = issuer.issue({"step": clock.now})
        tokens.append((issued.kid, issued.claims["exp"], issued.token))
        for kid, exp, _ in tokens:
            # Invariants 2 and 3: a key stays published while any token it signed may be verified.
            if clock.now <= exp + POLICY.leeway + POLICY.jwks_max_age:
                assert kid in published(keyset)
        for record in keyset.keys:
            # Invariant 2 (removal) and 5 (no private half once retired).
            assert record.removes_at is None or record.removes_at > clock.now
            assert (record.signing is None) == (record.state == "retired")
        tokens = [t for t in tokens if t[1] + POLICY.leeway + POLICY.jwks_max_age >= clock.now]
        clock.now += 3600
    assert rotations == 12
    assert removals == 12
    verifier = Verifier(keyring, leeway=POLICY.leeway, clock=clock)
    assert verifier.verify(tokens[-1][2]).claims["step"] == clock.now - 3600


def test_retired_private_keys_are_gone_from_the_stored_file(tmp_path: Path) -> None:
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY)
    keyring.rotate()
    keyring.rotate()
    stored = json.loads((tmp_path / "keys.json").read_text())
    for entry in stored["keys"]:
        assert ("d" in entry["jwk"]) == (entry["state"] != "retired")


def test_max_age_longer_than_the_period_is_refused() -> None:
    # Invariant 4: a cached JWKS never outlives the publish-ahead window.
    with pytest.raises(ValueError, match="max-age"):
        RotationPolicy(period=100, jwks_max_age=101)
    with pytest.raises(ValueError, match="positive"):
        RotationPolicy(period=0)


def test_maintain_is_a_no_op_when_nothing_is_due(tmp_path: Path) -> None:
    clock = Clock(1_767_225_600)
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock)
    version = keyring.view().keyset.version
    clock.now += POLICY.period - 1
    assert keyring.maintain() is None
    assert keyring.view().keyset.version == version


def test_maintain_removes_an_expired_retired_key_without_rotating(tmp_path: Path) -> None:
    clock = Clock(1_767_225_600)
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock, check_interval=0)
    old = keyring.view().keyset.current.kid
    rotated = keyring.rotate()
    clock.now += POLICY.retention()
    changed = keyring.maintain()
    assert changed is not None
    assert old not in published(changed)
    assert changed.current.kid == rotated.current.kid


@pytest.mark.parametrize("which", ["current", "next", "retired"])
def test_revoked_keys_leave_the_jwks_at_once(tmp_path: Path, which: str) -> None:
    clock = Clock(1_767_225_600)
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock, check_interval=0)
    issuer = Issuer(keyring, ClaimsPolicy(issuer="https://i"), clock=clock)
    token = issuer.sign({})
    keyset = keyring.rotate() if which == "retired" else keyring.view().keyset
    target = {"current": keyset.current, "next": keyset.next}.get(which) or keyset.keys[2]
    after = keyring.revoke(target.kid)
    assert target.kid not in published(after)
    assert {r.state for r in after.keys} >= {"current", "next"}
    assert sum(r.state == "current" for r in after.keys) == 1
    if which == "current":
        assert after.current.kid == keyset.next.kid
        with pytest.raises(UnknownKid):
            Verifier(keyring, clock=clock).verify(token)
    if which == "next":
        assert after.current.kid == keyset.current.kid


def test_revoking_an_unknown_kid_changes_nothing(tmp_path: Path) -> None:
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY)
    keyring.view()
    before = (tmp_path / "keys.json").read_bytes()
    with pytest.raises(UnknownKid, match="nope"):
        keyring.revoke("nope")
    assert (tmp_path / "keys.json").read_bytes() == before


def _maintain_at(directory: str, now: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    keyring = KeyRing(FileKeyStore(directory), POLICY, clock=lambda: now, check_interval=0)
    keyring.view()
    barrier.wait(30)
    keyring.maintain()


def test_several_processes_rotate_exactly_once_per_period(tmp_path: Path) -> None:
    clock = Clock(1_767_225_600)
    KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock).view()
    context = multiprocessing.get_context("fork")
    for period in range(1, 4):
        now = clock.now + period * POLICY.period
        barrier = context.Barrier(4)
        workers = [context.Process(target=_maintain_at, args=(str(tmp_path), now, barrier)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        keyset = KeyRing(FileKeyStore(tmp_path), POLICY).view().keyset
        assert keyset.version == 1 + period
        assert keyset.current.activates_at == now


CRASHER = textwrap.dedent(
    """
    import sys
    from jwtseal import FileKeyStore, KeyRing, RotationPolicy
    keyring = KeyRing(FileKeyStore(sys.argv[1]), RotationPolicy(algorithm="ES256"))
    print("ready", flush=True)
    while True:
        keyring.rotate()
    """
)


def test_kill_9_during_rotation_never_tears_the_key_set(tmp_path: Path) -> None:
    keyring = KeyRing(FileKeyStore(tmp_path), RotationPolicy(algorithm="ES256", max_token_ttl=DAY))
    token = Issuer(keyring, ClaimsPolicy(issuer="https://i")).sign({"survives": True})
    keyring.rotate()
    rng = random.Random(7)
    versions = []
    for _ in range(50):
        child = subprocess.Popen(
            [sys.executable, "-c", CRASHER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        try:
            child.wait(rng.uniform(0.0, 0.08))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        fresh = KeyRing(FileKeyStore(tmp_path), RotationPolicy(algorithm="ES256"))
        keyset = fresh.view().keyset
        versions.append(keyset.version)
        assert sum(r.state == "current" for r in keyset.keys) == 1
        assert Verifier(fresh).verify(token).claims["survives"] is True
    assert versions == sorted(versions)
    assert versions[-1] > versions[0]
    fresh.rotate()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".keys.json.")]


def test_a_rotation_already_made_by_another_process_is_not_repeated(tmp_path: Path) -> None:
    clock = Clock(1_767_225_600)
    slow = KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock, check_interval=3600)
    fast = KeyRing(FileKeyStore(tmp_path), POLICY, clock=clock, check_interval=0)
    slow.view()
    clock.now += POLICY.period
    rotated = fast.maintain()
    assert rotated is not None
    assert slow.maintain() is None  # its snapshot said "due"; the store under the lock says "done"
    assert KeyRing(FileKeyStore(tmp_path), POLICY).view().keyset.version == rotated.version

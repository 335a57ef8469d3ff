"""Key ring and key set: states, rotation, storage format, corruption, pick-up."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from jwtseal import (
    ClaimsPolicy,
    FileKeyStore,
    Issuer,
    JwksUnavailable,
    KeyRing,
    KeyStoreError,
    PublicKeySet,
    RotationPolicy,
    SigningKey,
    UnknownKid,
    Verifier,
)
from tests.conftest import Clock

POLICY = RotationPolicy(algorithm="ES256", period=1000, max_token_ttl=100, leeway=10, jwks_max_age=5)


def ring(path: Path, clock: Clock | None = None, check_interval: float = 0.0) -> KeyRing:
    return KeyRing(FileKeyStore(path), POLICY, clock=clock or Clock(1_000_000), check_interval=check_interval)


def test_empty_store_gets_a_current_and_a_next_key(tmp_path: Path) -> None:
    keyset = ring(tmp_path).view().keyset
    assert [record.state for record in keyset.keys] == ["current", "next"]
    current, upcoming = keyset.current, keyset.next
    assert current.activates_at == 1_000_000
    assert current.retires_at == upcoming.activates_at == 1_001_000
    assert current.signing is not None
    assert keyset.version == 1


def test_rotation_retires_current_and_drops_its_private_half(tmp_path: Path) -> None:
    clock = Clock(1_000_000)
    keyring = ring(tmp_path, clock)
    first = keyring.view().keyset
    clock.now += 500
    second = keyring.rotate()
    assert second.version == first.version + 1
    assert second.current.kid == first.next.kid
    assert second.current.activates_at == 1_000_500
    retired = next(record for record in second.keys if record.state == "retired")
    assert retired.kid == first.current.kid
    assert retired.signing is None
    assert retired.removes_at == 1_000_500 + POLICY.retention()
    stored = json.loads((tmp_path / "keys.json").read_text())
    retired_jwk = next(entry["jwk"] for entry in stored["keys"] if entry["state"] == "retired")
    assert "d" not in retired_jwk


def test_retired_keys_leave_once_every_token_they_signed_has_expired(tmp_path: Path) -> None:
    clock = Clock(1_000_000)
    keyring = ring(tmp_path, clock)
    first_kid = keyring.view().keyset.current.kid
    keyring.rotate()
    clock.now += POLICY.retention() - 1
    assert first_kid in {record.kid for record in keyring.rotate().keys}
    clock.now += 1
    assert first_kid not in {record.kid for record in keyring.rotate().keys}


def test_tokens_of_a_retired_key_verify_until_it_is_removed(tmp_path: Path) -> None:
    clock = Clock(1_000_000)
    keyring = ring(tmp_path, clock)
    issuer = Issuer(keyring, ClaimsPolicy(issuer="https://i", token_ttl=100, max_token_ttl=100), clock=clock)
    verifier = Verifier(keyring, leeway=10, clock=clock)
    token = issuer.sign({"n": 1})
    keyring.rotate()
    assert verifier.verify(token).claims["n"] == 1
    clock.now += POLICY.retention()
    keyring.rotate()
    with pytest.raises(UnknownKid):
        Verifier(keyring, clock=lambda: clock.now - POLICY.retention()).verify(token)


def test_jwks_lists_current_first_and_never_private_members(tmp_path: Path) -> None:
    keyring = ring(tmp_path)
    keyring.rotate()
    view = keyring.view()
    kids = [jwk["kid"] for jwk in view.keyset.jwks()["keys"]]
    assert kids[0] == view.keyset.current.kid
    assert kids[1] == view.keyset.next.kid
    assert b'"d"' not in view.jwks_json
    published = json.loads((tmp_path / "jwks.json").read_text())
    assert [jwk["kid"] for jwk in published["keys"]] == kids


def test_a_rotation_by_another_key_ring_is_picked_up(tmp_path: Path) -> None:
    serving = ring(tmp_path, check_interval=0.0)
    old = serving.view().signing_key.kid
    ring(tmp_path).rotate()
    assert serving.view().signing_key.kid != old


def test_the_store_is_not_checked_again_within_the_interval(tmp_path: Path) -> None:
    serving = ring(tmp_path, check_interval=3600)
    old = serving.view().signing_key.kid
    ring(tmp_path).rotate()
    assert serving.view().signing_key.kid == old


def test_view_is_reused_while_the_store_is_unchanged(tmp_path: Path) -> None:
    keyring = ring(tmp_path)
    assert keyring.view() is keyring.view()


def test_key_ring_find_returns_published_keys_only(tmp_path: Path) -> None:
    keyring = ring(tmp_path)
    view = keyring.view()
    assert keyring.find(view.keyset.next.kid) == view.keyset.next.public
    assert keyring.find("unknown") is None


def test_rotate_on_an_empty_store_creates_then_rotates(tmp_path: Path) -> None:
    keyset = ring(tmp_path).rotate()
    assert [record.state for record in keyset.keys] == ["current", "next", "retired"]
    assert keyset.version == 2


def _document(tmp_path: Path) -> dict[str, Any]:
    ring(tmp_path).view()
    document: dict[str, Any] = json.loads((tmp_path / "keys.json").read_text())
    return document


def _corruptions() -> list[Any]:
    def drop_next(doc: dict[str, Any]) -> None:
        doc["keys"] = doc["keys"][:1]

    def two_currents(doc: dict[str, Any]) -> None:
        doc["keys"].append(dict(doc["keys"][0]))

    def bad_state(doc: dict[str, Any]) -> None:
        doc["keys"][0]["state"] = "spare"

    def bad_format(doc: dict[str, Any]) -> None:
        doc["format"] = "other/v9"

    def bad_jwk(doc: dict[str, Any]) -> None:
        doc["keys"][0]["jwk"]["d"] = "AAAA"

    def missing_time(doc: dict[str, Any]) -> None:
        del doc["keys"][1]["created_at"]

    def wrong_kid(doc: dict[str, Any]) -> None:
        doc["keys"][0]["jwk"]["kid"] = "someone-else"

    def not_an_object(doc: dict[str, Any]) -> None:
        doc["keys"] = 7

    return [drop_next, two_currents, bad_state, bad_format, bad_jwk, missing_time, wrong_kid, not_an_object]


@pytest.mark.parametrize("corrupt", _corruptions())
def test_a_corrupt_store_is_refused_never_replaced(tmp_path: Path, corrupt: Any) -> None:
    document = _document(tmp_path)
    corrupt(document)
    (tmp_path / "keys.json").write_text(json.dumps(document))
    before = (tmp_path / "keys.json").read_bytes()
    with pytest.raises(KeyStoreError, match=r"corrupt|unknown format"):
        ring(tmp_path).view()
    with pytest.raises(KeyStoreError):
        ring(tmp_path).rotate()
    assert (tmp_path / "keys.json").read_bytes() == before


def test_an_unreadable_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys.json").mkdir()
    with pytest.raises(KeyStoreError, match="cannot be read"):
        ring(tmp_path).view()


def test_retired_keys_survive_a_reload(tmp_path: Path) -> None:
    keyring = ring(tmp_path)
    rotated = keyring.rotate()
    reloaded = ring(tmp_path).view().keyset
    assert [(r.kid, r.state, r.removes_at) for r in reloaded.keys] == [
        (r.kid, r.state, r.removes_at) for r in rotated.keys
    ]


def test_store_files_are_private(tmp_path: Path) -> None:
    ring(tmp_path / "data").view()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / "keys.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data" / "jwks.json").stat().st_mode & 0o777 == 0o644
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".keys.json.")]


def _rotate_many(directory: str, count: int) -> None:
    keyring = KeyRing(FileKeyStore(directory), POLICY, check_interval=0.0)
    for _ in range(count):
        keyring.rotate()


def test_concurrent_rotations_never_lose_or_tear_a_key_set(tmp_path: Path) -> None:
    ring(tmp_path).view()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_rotate_many, args=(str(tmp_path), 10)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    keyset = ring(tmp_path).view().keyset
    assert keyset.version == 21
    states = [record.state for record in keyset.keys]
    assert states.count("current") == 1
    assert states.count("next") == 1
    assert states.count("retired") == 20


def test_make_key_is_injectable(tmp_path: Path) -> None:
    made: list[str] = []

    def make(alg: str) -> SigningKey:
        made.append(alg)
        return SigningKey.generate("EdDSA")

    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, make_key=make)
    assert keyring.view().signing_key.alg == "EdDSA"
    assert made == ["ES256", "ES256"]
    assert keyring.now() == pytest.approx(time.time(), abs=2)


def test_a_key_set_with_too_many_keys_is_refused() -> None:
    key = SigningKey.generate("EdDSA").public.to_jwk()
    with pytest.raises(JwksUnavailable, match="more than 100 keys"):
        PublicKeySet.from_document({"keys": [dict(key, kid=str(n)) for n in range(101)]})
    assert len(PublicKeySet.from_document({"keys": [dict(key, kid=str(n)) for n in range(100)]}).kids) == 100

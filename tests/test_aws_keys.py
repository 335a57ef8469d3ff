"""The key generator's events: Create, Update, Delete, maintenance, and what it refuses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jwtseal import RotationPolicy
from jwtseal.aws import keys
from jwtseal.aws.keys import KeysHandler
from jwtseal.settings import SettingsError
from jwtseal.stores.aws import AwsKeyStore, ConcurrentUpdate
from tests.aws_fixtures import MotoAws, aws_environ, cfn_event, moto_server
from tests.conftest import Clock

POLICY = RotationPolicy(algorithm="ES256", period=86_400, max_token_ttl=3_600, leeway=60, jwks_max_age=300)
HASH_A, HASH_B = "a" * 64, "b" * 64


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


class Stack:
    def __init__(self, aws: MotoAws) -> None:
        self.aws = aws
        self.secret_id, self.bucket = aws.new_secret(), aws.new_bucket()
        self.clock = Clock(1_700_000_000.0)

    def store(self) -> AwsKeyStore:
        return AwsKeyStore(self.aws.secrets(), self.secret_id, s3=self.aws.s3(), bucket=self.bucket)

    def handler(self, store: AwsKeyStore | None = None, **options: Any) -> KeysHandler:
        return KeysHandler(POLICY, store or self.store(), clock=self.clock, **options)

    def secret(self) -> Any:
        return self.aws.secret_document(self.secret_id)

    def states(self) -> list[str]:
        return [entry["state"] for entry in self.secret()["keyset"]["keys"]]

    def published_kids(self) -> list[str]:
        return [key["kid"] for key in self.aws.published(self.bucket)[0]["keys"]]


@pytest.fixture
def stack(aws: MotoAws) -> Stack:
    return Stack(aws)


def test_a_repeated_create_keeps_the_keys_it_made(stack: Stack) -> None:
    first = stack.handler()(cfn_event("Create"))
    again = stack.handler()(cfn_event("Create"))
    assert again == first
    assert stack.secret()["keyset"]["version"] == 1
    assert stack.secret()["apiKeyHashes"] is None  # no ApiKeyHashes property: left alone


def test_an_update_that_keeps_the_version_rotates_nothing_and_applies_api_keys(stack: Stack) -> None:
    created = stack.handler()(cfn_event("Create", api_key_hashes=[HASH_A]))
    updated = stack.handler()(
        cfn_event(
            "Update",
            version="1",
            old_version="1",
            physical_id="jwtseal-key-set",
            api_key_hashes=[HASH_A, HASH_B],
        )
    )
    assert updated["Data"] == created["Data"]
    assert stack.secret()["apiKeyHashes"] == [HASH_A, HASH_B]
    assert stack.states() == ["current", "next"]
    stack.handler()(cfn_event("Update", version="1", old_version="1", physical_id="x", api_key_hashes=[]))
    assert stack.secret()["apiKeyHashes"] == []


def test_every_version_change_rotates_once_and_keeps_every_retired_key(stack: Stack) -> None:
    stack.handler()(cfn_event("Create"))
    kids = stack.published_kids()
    for step, (old, new) in enumerate([("1", "2"), ("2", "3"), ("3", "2")], start=2):
        stack.clock.now += 60
        answer = stack.handler()(
            cfn_event("Update", version=new, old_version=old, physical_id="jwtseal-key-set")
        )
        assert answer["Data"]["KeySetVersion"] == str(step)
    assert stack.states() == ["current", "next", "retired", "retired", "retired"]
    assert set(kids) <= set(stack.published_kids())


def test_a_bump_right_after_a_rotation_warns_that_the_next_key_is_young(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.handler()(cfn_event("Create"))
    with caplog.at_level(logging.WARNING, "jwtseal.aws.keys"):
        stack.handler()(cfn_event("Update", version="2", old_version="1", physical_id="p"))
    assert "less than the JWKS max-age" in caplog.text
    caplog.clear()
    stack.clock.now += POLICY.jwks_max_age
    with caplog.at_level(logging.WARNING, "jwtseal.aws.keys"):
        stack.handler()(cfn_event("Update", version="3", old_version="2", physical_id="p"))
    assert caplog.text == ""


def test_delete_leaves_the_keys_and_the_jwks_alone(stack: Stack) -> None:
    stack.handler()(cfn_event("Create"))
    before, published = stack.secret(), stack.published_kids()
    answer = stack.handler()(cfn_event("Delete", physical_id="jwtseal-key-set"))
    assert answer == {"PhysicalResourceId": "jwtseal-key-set"}
    assert stack.secret() == before
    assert stack.published_kids() == published


def test_maintenance_rotates_only_when_the_period_is_over(stack: Stack) -> None:
    handler = stack.handler()
    stack.handler()(cfn_event("Create"))
    assert handler({"jwtseal": "maintain"}) == {"changed": False}
    stack.clock.now += POLICY.period
    assert handler({"jwtseal": "maintain"}) == {"changed": True}
    assert stack.states() == ["current", "next", "retired"]
    stack.clock.now += POLICY.retention()
    assert handler({"jwtseal": "maintain"}) == {"changed": True}
    assert stack.states() == ["current", "next"]  # the retired key's tokens have all expired


@pytest.mark.parametrize(
    "event",
    [
        {"RequestType": "Replace"},
        {"jwtseal": "rotate"},
        {"source": "aws.events", "detail-type": "Scheduled Event"},
    ],
)
def test_an_unknown_event_is_refused(stack: Stack, event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Not a key generator event"):
        stack.handler()(event)
    assert stack.store().load() is None


@pytest.mark.parametrize("hashes", [["A" * 64], ["not-a-hash"], HASH_A, [1]])
def test_api_key_hashes_that_are_not_sha256_hex_fail_the_deployment(stack: Stack, hashes: Any) -> None:
    event = cfn_event("Create")
    event["ResourceProperties"]["ApiKeyHashes"] = hashes
    with pytest.raises(ValueError, match="SHA-256"):
        stack.handler()(event)
    assert stack.store().load() is None  # refused before any key was made


class RivalFirst(AwsKeyStore):
    """A store that lets another writer rotate just before each of its first ``times`` saves."""

    def __init__(self, stack: Stack, times: int) -> None:
        super().__init__(stack.aws.secrets(), stack.secret_id, s3=stack.aws.s3(), bucket=stack.bucket)
        self._stack, self._times = stack, times

    def save(self, document: Any) -> None:
        if self._times:
            self._times -= 1
            KeysHandler(POLICY, self._stack.store(), clock=self._stack.clock)(
                cfn_event("Update", version="rival", old_version="x", physical_id="p")
            )
        super().save(document)


def test_a_rotation_that_loses_a_race_is_retried_on_the_winners_key_set(stack: Stack) -> None:
    stack.handler()(cfn_event("Create"))
    answer = stack.handler(RivalFirst(stack, times=1))(
        cfn_event("Update", version="2", old_version="1", physical_id="p")
    )
    assert answer["Data"]["KeySetVersion"] == "3"  # the rival's rotation, then ours: two, none lost
    assert stack.states() == ["current", "next", "retired", "retired"]


def test_a_rotation_that_keeps_losing_fails_after_its_attempts(stack: Stack) -> None:
    stack.handler()(cfn_event("Create"))
    with pytest.raises(ConcurrentUpdate):
        stack.handler(RivalFirst(stack, times=3), attempts=3)(
            cfn_event("Update", version="2", old_version="1", physical_id="p")
        )
    assert stack.secret()["keyset"]["version"] == 4  # the rivals' three rotations, nothing of ours


def test_the_lambda_entry_reads_its_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in aws_environ(stack.aws.endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JWTSEAL_SECRET_ID", stack.secret_id)
    monkeypatch.setenv("JWTSEAL_BUCKET", stack.bucket)
    monkeypatch.setenv("JWTSEAL_ALGORITHM", "EdDSA")
    try:
        answer = keys.handler(cfn_event("Create"), object())
        assert keys.handler.handler.store.bucket == stack.bucket
    finally:
        keys.handler.close()
    assert answer["Data"]["KeySetVersion"] == "1"
    assert {key["alg"] for key in stack.aws.published(stack.bucket)[0]["keys"]} == {"EdDSA"}
    monkeypatch.delenv("JWTSEAL_BUCKET")
    with pytest.raises(SettingsError, match="JWTSEAL_BUCKET"):
        keys.handler(cfn_event("Create"))
    keys.handler.close()

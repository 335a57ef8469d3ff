"""The AWS key store beyond the shared contract: caching, compare-and-swap, failures.

Against a moto server on 127.0.0.1 with dummy credentials; never real AWS.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import jwtseal.stores.aws
from jwtseal import KeyRing, KeyStoreError, RotationPolicy
from jwtseal.stores.aws import FORMAT, AwsKeyStore, ConcurrentUpdate
from tests.aws_fixtures import CallCounter, MotoAws, import_copy, moto_server
from tests.conftest import Clock

POLICY = RotationPolicy(algorithm="ES256")


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


@pytest.fixture
def secret_id(aws: MotoAws) -> str:
    return aws.new_secret()


def store(aws: MotoAws, secret_id: str, **options: Any) -> AwsKeyStore:
    return AwsKeyStore(aws.secrets(), secret_id, **options)


def test_without_botocore_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore.exceptions", None)
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[aws\]'"):
        import_copy(jwtseal.stores.aws.__file__, "jwtseal.stores._aws_copy")


def test_repr_names_the_secret_and_bucket_only(aws: MotoAws, secret_id: str) -> None:
    assert repr(store(aws, secret_id, bucket="b")) == f"AwsKeyStore(secret_id={secret_id!r}, bucket='b')"


def test_reads_are_cached_for_the_ttl_then_made_once(aws: MotoAws, secret_id: str) -> None:
    clock = Clock(1_000.0)
    client = aws.secrets()
    counter = CallCounter(client, "secrets-manager")
    reader = AwsKeyStore(client, secret_id, cache_ttl=300, clock=clock)
    KeyRing(store(aws, secret_id), POLICY).view()
    for _ in range(50):
        reader.revision()
        reader.load()
        reader.load_api_key_hashes()
    assert counter.calls == {"GetSecretValue": 1}
    clock.now += 299
    reader.revision()
    assert counter.calls == {"GetSecretValue": 1}
    clock.now += 1
    reader.revision()
    assert counter.calls == {"GetSecretValue": 2}


def test_a_writer_sees_its_own_write_without_reading_again(aws: MotoAws, secret_id: str) -> None:
    client = aws.secrets()
    counter = CallCounter(client, "secrets-manager")
    writer = AwsKeyStore(client, secret_id, cache_ttl=300)
    writer.save({"version": 1})
    assert writer.load() == {"version": 1}
    assert counter.calls == {"GetSecretValue": 1, "PutSecretValue": 1}  # the first version is current at once
    writer.save({"version": 2})
    assert writer.load() == {"version": 2}
    assert counter.calls == {"GetSecretValue": 1, "PutSecretValue": 2, "UpdateSecretVersionStage": 1}


def test_a_concurrent_writer_loses_and_overwrites_nothing(aws: MotoAws, secret_id: str) -> None:
    KeyRing(store(aws, secret_id), POLICY).view()
    first, second = store(aws, secret_id), store(aws, secret_id)
    base = first.load()
    assert base is not None
    assert second.load() == base
    first.save({**base, "version": 100})
    with pytest.raises(ConcurrentUpdate, match="another writer"):
        second.save({**base, "version": 200})
    assert aws.secret_document(secret_id)["keyset"]["version"] == 100
    assert second.load() == {**base, "version": 100}  # the loser's cache was dropped: a retry sees the winner
    second.save({**base, "version": 300})
    assert aws.secret_document(secret_id)["keyset"]["version"] == 300


def test_two_rotations_race_and_exactly_one_wins(aws: MotoAws, secret_id: str) -> None:
    ring = KeyRing(store(aws, secret_id, cache_ttl=300), POLICY)
    before = ring.view().keyset
    stale = KeyRing(store(aws, secret_id, cache_ttl=300), POLICY)
    stale.view()
    ring.rotate()
    with pytest.raises(ConcurrentUpdate):
        stale.rotate()
    after = stale.rotate()  # the retry starts from the winner's key set
    assert after.version == before.version + 2
    assert [key.state for key in after.keys].count("retired") == 2


def test_racing_for_the_first_version_one_wins(aws: MotoAws, secret_id: str) -> None:
    first, second = store(aws, secret_id), store(aws, secret_id)
    assert first.load() is None
    assert second.load() is None
    first.save({"version": 1})
    with pytest.raises(ConcurrentUpdate):
        second.save({"version": 1, "other": True})
    assert aws.secret_document(secret_id)["keyset"] == {"version": 1}


class FailingMove:
    """A Secrets Manager client whose label move fails, before or after it took effect."""

    def __init__(self, client: Any, *, after: bool) -> None:
        self._client = client
        self._after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_secret_version_stage(self, **kwargs: Any) -> Any:
        if self._after:
            self._client.update_secret_version_stage(**kwargs)
        error = {"Error": {"Code": "InternalServiceError", "Message": "arn:aws:secretsmanager:secret"}}
        raise ClientError(error, "UpdateSecretVersionStage")  # type: ignore[arg-type]


def test_a_move_that_got_through_before_failing_counts_as_done(aws: MotoAws, secret_id: str) -> None:
    writer = AwsKeyStore(FailingMove(aws.secrets(), after=True), secret_id)  # type: ignore[arg-type]
    writer.save({"version": 1})
    writer.save({"version": 2})
    assert aws.secret_document(secret_id)["keyset"] == {"version": 2}


def test_a_move_that_failed_without_a_rival_is_a_store_error(aws: MotoAws, secret_id: str) -> None:
    writer = AwsKeyStore(FailingMove(aws.secrets(), after=False), secret_id)  # type: ignore[arg-type]
    writer.save({"version": 1})
    with pytest.raises(KeyStoreError, match=r"InternalServiceError") as raised:
        writer.save({"version": 2})
    assert not isinstance(raised.value, ConcurrentUpdate)
    assert "arn:" not in raised.value.detail
    assert aws.secret_document(secret_id)["keyset"] == {"version": 1}


def test_a_retried_write_of_the_same_change_is_idempotent(aws: MotoAws, secret_id: str) -> None:
    writer = store(aws, secret_id)
    writer.save({"version": 1})
    base = writer._keyset_base
    writer.save({"version": 2})
    writer._keyset_base = base  # as if the first attempt's answer was lost
    writer.save({"version": 2})
    assert aws.secret_document(secret_id)["keyset"] == {"version": 2}


def test_a_read_only_store_refuses_every_write(aws: MotoAws, secret_id: str) -> None:
    reader = store(aws, secret_id, s3=aws.s3(), bucket=aws.new_bucket(), read_only=True)
    with pytest.raises(KeyStoreError, match="read-only"):
        reader.save({"version": 1})
    with pytest.raises(KeyStoreError, match="read-only"):
        reader.save_api_key_hashes([])
    with pytest.raises(KeyStoreError, match="read-only"):
        reader.publish({"keys": []})
    with pytest.raises(KeyStoreError, match="read-only"):
        KeyRing(reader, POLICY).view()  # a signer never makes keys
    assert reader.load() is None


def test_without_a_bucket_publishing_is_left_to_the_service(aws: MotoAws, secret_id: str) -> None:
    s3 = aws.s3()
    counter = CallCounter(s3, "s3")
    store(aws, secret_id).publish({"keys": []})
    AwsKeyStore(aws.secrets(), secret_id, s3=s3).publish({"keys": []})
    assert counter.total == 0


def test_publishing_sets_the_content_type_and_cache_control(aws: MotoAws, secret_id: str) -> None:
    bucket = aws.new_bucket()
    store(aws, secret_id, s3=aws.s3(), bucket=bucket, max_age=120).publish({"keys": []})
    assert aws.published(bucket) == (
        {"keys": []},
        {"ContentType": "application/json", "CacheControl": "public, max-age=120"},
    )


def test_a_missing_bucket_is_a_store_error(aws: MotoAws, secret_id: str) -> None:
    writer = store(aws, secret_id, s3=aws.s3(), bucket="jwtseal-no-such-bucket")
    with pytest.raises(KeyStoreError, match=r"publishing the JWKS failed \(NoSuchBucket\)"):
        writer.publish({"keys": []})


def test_a_missing_secret_reads_as_empty_and_fails_on_write(aws: MotoAws) -> None:
    missing = store(aws, "jwtseal-no-such-secret")
    assert missing.load() is None
    with pytest.raises(KeyStoreError, match=r"writing the secret failed \(ResourceNotFoundException\)"):
        missing.save({"version": 1})


def test_a_deleted_secret_is_a_store_error(aws: MotoAws, secret_id: str) -> None:
    store(aws, secret_id).save({"version": 1})
    aws.secrets().delete_secret(SecretId=secret_id, RecoveryWindowInDays=7)
    with pytest.raises(KeyStoreError, match=r"reading the secret failed \(InvalidRequestException\)"):
        store(aws, secret_id).load()


def test_an_unreachable_endpoint_is_a_store_error(aws: MotoAws, secret_id: str) -> None:
    dead = "http://127.0.0.1:9"
    secrets = aws.secrets(dead)
    with pytest.raises(KeyStoreError, match=r"reading the secret failed \(network\)"):
        AwsKeyStore(secrets, secret_id).load()
    writer = AwsKeyStore(secrets, secret_id)
    writer._keyset_base = store(aws, secret_id)._snapshot()
    with pytest.raises(KeyStoreError, match=r"writing the secret failed \(network\)"):
        writer.save({"version": 1})


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[]", id="not-an-object"),
        pytest.param('{"password": "hunter2"}', id="a-generated-password-secret"),
        pytest.param(json.dumps({"format": "jwtseal/aws-secret-v0"}), id="other-format"),
    ],
)
def test_a_secret_that_is_not_a_jwtseal_envelope_is_refused(aws: MotoAws, value: str) -> None:
    secret_id = aws.new_secret(value)
    with pytest.raises(KeyStoreError, match="refusing"):
        store(aws, secret_id).load()
    assert aws.secrets().get_secret_value(SecretId=secret_id)["SecretString"] == value


def test_a_binary_secret_is_refused(aws: MotoAws) -> None:
    client = aws.secrets()
    secret_id = client.create_secret(Name="jwtseal-binary", SecretBinary=b"\x00\x01")["ARN"]
    with pytest.raises(KeyStoreError, match="does not hold JSON"):
        store(aws, secret_id).load()


@pytest.mark.parametrize("hashes", [["A" * 64], ["abc"], "abc", [None]])
def test_api_key_hashes_must_be_sha256_hex(aws: MotoAws, hashes: Any) -> None:
    secret_id = aws.new_secret(json.dumps({"format": FORMAT, "keyset": None, "apiKeyHashes": hashes}))
    with pytest.raises(KeyStoreError, match="API key hashes"):
        store(aws, secret_id).load_api_key_hashes()


def test_the_lock_is_only_a_scope(aws: MotoAws, secret_id: str) -> None:
    writer = store(aws, secret_id)
    with writer.lock(), writer.lock():  # no lock is held: nesting and other processes are fine
        writer.save({"version": 1})
    assert writer.load() == {"version": 1}


def test_the_envelope_keeps_format_key_set_and_hashes(aws: MotoAws, secret_id: str, tmp_path: Path) -> None:
    writer = store(aws, secret_id)
    writer.save({"version": 1})
    writer.load_api_key_hashes()
    writer.save_api_key_hashes(["b" * 64])
    assert aws.secret_document(secret_id) == {
        "apiKeyHashes": ["b" * 64],
        "format": FORMAT,
        "keyset": {"version": 1},
    }
    stages = aws.secrets().list_secret_version_ids(SecretId=secret_id)["Versions"]
    assert sorted(label for version in stages for label in version["VersionStages"]) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
        "JWTSEAL_PENDING",
    ]

"""The Lambda functions with KMS signing, against moto on 127.0.0.1: the encoder reads no secret.

The rotation function keeps the key set in the secret as ever (now with no
private key in it) and copies it to ``keyring.json``; the encoder, built
from the environment the CDK app gives it (no ``JWTSEAL_SECRET_ID``), signs
through KMS with what it reads there.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from jwtseal import FileKeyStore, KeyRing, KeyStoreError, RotationPolicy
from jwtseal.aws.encode import EncodeHandler
from jwtseal.aws.keyring_object import KEYRING_KEY, MAX_SIZE, KeyRingCopy, KeyRingObject
from jwtseal.aws.keys import KeysHandler
from jwtseal.settings import SettingsError
from jwtseal.signers.kms import KmsSigner
from tests.aws_fixtures import CallCounter, MotoAws, api_event, aws_environ, cfn_event, moto_server

API_KEY = "jws_" + secrets.token_urlsafe(16)
PRIVATE = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as aws:
        yield aws


@pytest.fixture
def stack(aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The variables the CDK app gives the rotation function with ``-c jwtseal:signer=aws-kms``."""
    for name, value in aws_environ(aws.endpoint).items():
        monkeypatch.setenv(name, value)
    return {
        "JWTSEAL_SECRET_ID": aws.new_secret(),
        "JWTSEAL_BUCKET": aws.new_bucket(),
        "JWTSEAL_SIGNER": "aws-kms",
        "JWTSEAL_KMS_KEY_RING": f"ring-{secrets.token_hex(4)}",
        "JWTSEAL_KMS_DELETION_DAYS": "7",
        "JWTSEAL_ALGORITHM": "ES256",
        "JWTSEAL_ISSUER": "https://tokens.example/v1",
    }


def encoder_environ(stack: dict[str, str], ttl: str) -> dict[str, str]:
    """The encoder's variables: no secret, the bucket for keyring.json."""
    environ = {name: value for name, value in stack.items() if name != "JWTSEAL_SECRET_ID"}
    return {**environ, "JWTSEAL_SECRET_CACHE_TTL": ttl}


def read_object(aws: MotoAws, bucket: str, key: str) -> Any:
    answer = aws.s3().get_object(Bucket=bucket, Key=key)
    with answer["Body"] as body:
        return json.loads(body.read())


def signing_kid_other_than(encoder: EncodeHandler, old_kid: str, seconds: float) -> str:
    """The kid the encoder signs with once it has looked at the key ring again (every 0.5 s)."""
    deadline = time.monotonic() + seconds
    while True:
        kid: str = json.loads(encode(encoder, {"sub": "after"})["body"])["kid"]
        if kid != old_kid or time.monotonic() > deadline:
            return kid
        time.sleep(0.1)


def encode(encoder: EncodeHandler, claims: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    answer: dict[str, Any] = encoder(api_event(claims, headers=headers))
    return answer


def test_the_kms_encoder_signs_with_no_secret_and_follows_a_rotation(
    aws: MotoAws, stack: dict[str, str]
) -> None:
    generator = KeysHandler.from_environ(stack)
    hashes = [hashlib.sha256(API_KEY.encode()).hexdigest()]
    created = generator(cfn_event("Create", api_key_hashes=hashes))
    first_kid = created["Data"]["CurrentKid"]
    copy = read_object(aws, stack["JWTSEAL_BUCKET"], KEYRING_KEY)
    assert copy["apiKeyHashes"] == hashes
    for entry in [
        *copy["keyset"]["keys"],
        *aws.secret_document(stack["JWTSEAL_SECRET_ID"])["keyset"]["keys"],
    ]:
        assert not PRIVATE & set(entry["jwk"])
        assert entry["jwk"]["held_by"].startswith("arn:aws:kms:")
    encoder = EncodeHandler.from_environ(encoder_environ(stack, ttl="0"))
    try:
        answer = encode(encoder, {"sub": "lambda"})
        assert answer["statusCode"] == 200, answer
        token = json.loads(answer["body"])["token"]
        jwks, _ = aws.published(stack["JWTSEAL_BUCKET"])
        key = jwt.PyJWKSet.from_dict(jwks)[first_kid]
        claims = jwt.decode(token, key.key, algorithms=["ES256"], issuer=stack["JWTSEAL_ISSUER"])
        assert claims["sub"] == "lambda"
        rotated = generator(cfn_event("Update", version="2", old_version="1", physical_id="jwtseal-key-set"))
        assert rotated["Data"]["CurrentKid"] != first_kid
        assert signing_kid_other_than(encoder, first_kid, seconds=5.0) == rotated["Data"]["CurrentKid"]
        refused = encoder(api_event({"sub": "x"}, headers={"Authorization": "Bearer wrong"}))
        assert refused["statusCode"] == 401
    finally:
        encoder.close()
        generator.close()


def test_a_throttled_kms_gives_the_lambda_encoder_503_with_retry_after(
    aws: MotoAws, stack: dict[str, str]
) -> None:
    generator = KeysHandler.from_environ(stack)
    generator(cfn_event("Create", api_key_hashes=[hashlib.sha256(API_KEY.encode()).hexdigest()]))
    encoder = EncodeHandler.from_environ(encoder_environ(stack, ttl="300"))
    try:
        assert isinstance(encoder.signer, KmsSigner)
        reads = CallCounter(encoder._client, "s3")

        def throttle(**kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Sign")

        encoder.signer.client.meta.events.register("before-call.kms.Sign", throttle)
        answer = encode(encoder, {"sub": "busy"})
        assert answer["statusCode"] == 503
        assert answer["headers"]["Retry-After"] == "1"
        assert json.loads(answer["body"])["code"] == "signing_unavailable"
        encoder.signer.client.meta.events.unregister("before-call.kms.Sign", throttle)
        assert encode(encoder, {"sub": "calm"})["statusCode"] == 200
        assert reads.calls["GetObject"] == 1  # cached for the TTL
    finally:
        encoder.close()
        generator.close()


def test_the_kms_encoder_needs_the_bucket(stack: dict[str, str]) -> None:
    environ = encoder_environ(stack, ttl="300")
    del environ["JWTSEAL_BUCKET"]
    with pytest.raises(SettingsError, match="JWTSEAL_BUCKET"):
        EncodeHandler.from_environ(environ)


def test_a_key_set_with_private_keys_is_never_copied_for_the_encoder(
    aws: MotoAws, stack: dict[str, str], tmp_path: Path
) -> None:
    store = FileKeyStore(tmp_path)
    KeyRing(store, RotationPolicy()).view()  # local keys: private JWKs in the store
    copy = KeyRingCopy(store, aws.s3(), stack["JWTSEAL_BUCKET"])
    with pytest.raises(KeyStoreError, match="private key"):
        copy.save_api_key_hashes(["a" * 64])
    with pytest.raises(aws.s3().exceptions.NoSuchKey):
        aws.s3().get_object(Bucket=stack["JWTSEAL_BUCKET"], Key=KEYRING_KEY)


def test_a_copy_s3_refuses_is_a_key_store_error(aws: MotoAws, tmp_path: Path) -> None:
    copy = KeyRingCopy(FileKeyStore(tmp_path), aws.s3(), f"missing-{secrets.token_hex(4)}")
    with pytest.raises(KeyStoreError, match="could not be copied"):
        copy.save_api_key_hashes([])


def test_the_encoders_key_ring_is_read_only_and_refuses_what_jwtseal_did_not_write(
    aws: MotoAws, stack: dict[str, str]
) -> None:
    bucket = stack["JWTSEAL_BUCKET"]
    reader = KeyRingObject(aws.s3(), bucket, cache_ttl=0)
    with pytest.raises(KeyStoreError, match="could not be read"):
        reader.load()
    for body in (b"not json", b'{"format": "other"}', b"[]", b" " * (MAX_SIZE + 1)):
        aws.s3().put_object(Bucket=bucket, Key=KEYRING_KEY, Body=body)
        with pytest.raises(KeyStoreError, match="not one jwtseal wrote"):
            reader.load()
    with reader.lock():
        with pytest.raises(KeyStoreError, match="read-only"):
            reader.save({})
        with pytest.raises(KeyStoreError, match="read-only"):
            reader.publish({"keys": []})
        with pytest.raises(KeyStoreError, match="read-only"):
            reader.save_api_key_hashes([])

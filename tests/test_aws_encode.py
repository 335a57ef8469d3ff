"""POST /encode on Lambda: who may sign, what is refused, and how failures look."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jwtseal import KeyRing, RotationPolicy, inspect
from jwtseal.aws import encode
from jwtseal.aws.encode import EncodeHandler
from jwtseal.http.problems import problem
from jwtseal.settings import Settings
from jwtseal.stores.aws import AwsKeyStore
from tests.aws_fixtures import MotoAws, api_event, aws_environ, moto_server, response_json

API_KEY = "jws_encode-test-key-0123456789abcdefghijklmnopqrst"
SETTINGS = Settings.load({"JWTSEAL_ISSUER": "https://tokens.example/v1", "JWTSEAL_ALGORITHM": "ES256"})


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


@pytest.fixture(scope="module")
def secret_id(aws: MotoAws) -> str:
    """A secret with a key set and one API key hash, as the key generator leaves it."""
    secret_id = aws.new_secret()
    store = AwsKeyStore(aws.secrets(), secret_id)
    KeyRing(store, RotationPolicy(algorithm="ES256")).view()
    store.load_api_key_hashes()
    store.save_api_key_hashes([hashlib.sha256(API_KEY.encode()).hexdigest()])
    return secret_id


@pytest.fixture
def encoder(aws: MotoAws, secret_id: str) -> EncodeHandler:
    return EncodeHandler(SETTINGS, AwsKeyStore(aws.secrets(), secret_id, cache_ttl=300, read_only=True))


def encode_with(encoder: EncodeHandler, body: Any, **headers: str) -> dict[str, Any]:
    return encoder(api_event(body, headers=headers or {"Authorization": f"Bearer {API_KEY}"}))


def assert_problem(answer: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert answer["statusCode"] == status, answer
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response_json(answer)
    assert body["code"] == code
    assert body == json.loads(problem(status, code, body["detail"]).body)
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": API_KEY},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": f"Bearer {API_KEY}x"},
        {"Authorization": "Bearer "},
    ],
)
def test_without_a_valid_bearer_key_encode_is_unauthorized(
    encoder: EncodeHandler, headers: dict[str, str]
) -> None:
    answer = encoder(api_event({"sub": "mallory"}, headers=headers or None))
    assert_problem(answer, 401, "unauthorized")
    assert answer["headers"]["WWW-Authenticate"] == "Bearer"


def test_the_bearer_scheme_and_header_name_are_case_insensitive(encoder: EncodeHandler) -> None:
    answer = encode_with(encoder, {"sub": "alice"}, AUTHORIZATION=f"bearer  {API_KEY}")
    assert answer["statusCode"] == 200


def test_keys_from_the_environment_replace_the_stored_hashes(aws: MotoAws, secret_id: str) -> None:
    settings = Settings.load({"JWTSEAL_API_KEYS": "k-one,k-two", "JWTSEAL_ALGORITHM": "ES256"})
    encoder = EncodeHandler(settings, AwsKeyStore(aws.secrets(), secret_id, read_only=True))
    assert encode_with(encoder, {}, Authorization="Bearer k-two")["statusCode"] == 200
    assert_problem(encode_with(encoder, {}), 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 400, "invalid_request"),
        ("[1, 2]", 400, "invalid_request"),
        (None, 400, "invalid_request"),
        ('{"a": 1, "a": 2}', 400, "invalid_request"),
        ({"iss": "https://evil.example"}, 400, "reserved_claim"),
        ({"jti": "x"}, 400, "reserved_claim"),
        ({"exp": 1}, 400, "invalid_claim"),
        ({"exp": 9_999_999_999}, 400, "ttl_too_long"),
        ("x" * 65_537, 413, "payload_too_large"),
    ],
)
def test_bad_requests_are_the_local_services_problems(
    encoder: EncodeHandler, body: Any, status: int, code: str
) -> None:
    assert_problem(encode_with(encoder, body), status, code)


def test_a_base64_body_is_decoded(encoder: EncodeHandler) -> None:
    event = api_event(
        b'{"sub": "alice"}', headers={"Authorization": f"Bearer {API_KEY}"}, base64_encoded=True
    )
    answer = encoder(event)
    assert inspect(response_json(answer)["token"]).claims["sub"] == "alice"
    event["body"] = "not base64!"
    assert_problem(encoder(event), 400, "invalid_request")
    event["body"] = base64.b64encode(b"x" * 65_537).decode()
    assert_problem(encoder(event), 413, "payload_too_large")


def test_before_the_key_set_exists_encode_is_unavailable_until_it_does(aws: MotoAws) -> None:
    secret_id = aws.new_secret()
    encoder = EncodeHandler(
        Settings.load({"JWTSEAL_API_KEYS": API_KEY}),
        AwsKeyStore(aws.secrets(), secret_id, cache_ttl=300, read_only=True),  # an empty read is not cached
    )
    body = assert_problem(encode_with(encoder, {"sub": "early"}), 503, "key_store_error")
    assert "read-only" in body["detail"]
    assert AwsKeyStore(aws.secrets(), secret_id).load() is None  # the signer made no keys
    KeyRing(AwsKeyStore(aws.secrets(), secret_id), RotationPolicy(algorithm="ES256")).view()
    assert encode_with(encoder, {"sub": "later"})["statusCode"] == 200  # same warm container


class Broken(AwsKeyStore):
    def load_api_key_hashes(self) -> list[str] | None:
        raise RuntimeError("arn:aws:secretsmanager:us-east-1:123456789012:secret:internal")


def test_an_unexpected_error_is_an_opaque_500_problem_and_logged(
    aws: MotoAws, secret_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = EncodeHandler(SETTINGS, Broken(aws.secrets(), secret_id))
    with caplog.at_level(logging.ERROR, "jwtseal.aws"):
        body = assert_problem(encode_with(encoder, {}), 500, "jwtseal_error")
    assert body["detail"] == "The request failed."
    assert "arn:" not in json.dumps(body)
    assert "RuntimeError" in caplog.text


def test_the_lambda_entry_reads_its_environment(
    aws: MotoAws, secret_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws_environ(aws.endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JWTSEAL_SECRET_ID", secret_id)
    monkeypatch.setenv("JWTSEAL_ISSUER", "https://api.example/v1")
    monkeypatch.setenv("JWTSEAL_SECRET_CACHE_TTL", "60")
    try:
        answer = encode.handler(
            api_event({"sub": "alice"}, headers={"Authorization": f"Bearer {API_KEY}"}), object()
        )
        store = encode.handler.handler.store
        assert isinstance(store, AwsKeyStore)
        assert store.secret_id == secret_id
    finally:
        encode.handler.close()
    assert inspect(response_json(answer)["token"]).claims["iss"] == "https://api.example/v1"


def test_closing_leaves_an_injected_client_to_its_owner(aws: MotoAws, secret_id: str) -> None:
    client = aws.secrets()
    EncodeHandler(SETTINGS, AwsKeyStore(client, secret_id)).close()
    assert client.describe_secret(SecretId=secret_id)["ARN"] == secret_id  # still usable

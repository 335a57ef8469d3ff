"""POST /decode on Lambda: the remote verifier, its warm cache, and its refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jwtseal import KeyRing, RotationPolicy, SigningKey
from jwtseal.aws import decode
from jwtseal.aws.decode import DecodeHandler
from jwtseal.service import jwks_cache
from jwtseal.settings import Settings
from jwtseal.stores.aws import AwsKeyStore
from tests.aws_fixtures import JwksGateway, MotoAws, api_event, moto_server, response_json
from tests.tokens import sign_claims

# The article's forged token: HS256, no kid, cookies and candy on the list.
FORGED = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE2MTUwNjI5OTUsImlhdCI6MTYxNTA1ODk2NSwiZ3JvY2VyeUxpc3Qi"
    "OlsibWlsayIsImVnZ3MiLCJjb29raWVzIiwiY2FuZHkiXSwianRpIjoiZjFlYjRiMTktYjQwYy00NWQ3LWIyZjgtYWNlMjY1NWNh"
    "ZDliIn0.-B-8-m8hwmOWKSUI1B3wOmYaPWyegihVIi6U17D5H1M"
)


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


@pytest.fixture(scope="module")
def published(aws: MotoAws) -> Iterator[tuple[JwksGateway, KeyRing]]:
    """A bucket holding a published key set, behind the JWKS route."""
    bucket = aws.new_bucket()
    keyring = KeyRing(
        AwsKeyStore(aws.secrets(), aws.new_secret(), s3=aws.s3(), bucket=bucket),
        RotationPolicy(algorithm="ES256"),
    )
    keyring.view()
    with JwksGateway(aws.s3(), bucket) as gateway:
        yield gateway, keyring


@pytest.fixture
def decoder(published: tuple[JwksGateway, KeyRing]) -> Iterator[DecodeHandler]:
    gateway = published[0]
    settings = Settings.load(
        {"JWTSEAL_ISSUER": gateway.base_url, "JWTSEAL_TRUSTED_JWKS_URIS": f"{gateway.base_url}/"}
    )
    handler = DecodeHandler(settings, jwks_cache(settings, shared=False), clock=lambda: 1_700_000_100.0)
    yield handler
    handler.close()


def token(keyring: KeyRing, **claims: Any) -> str:
    return sign_claims(keyring.view().signing_key, {"iat": 1_700_000_000, "exp": 1_700_003_600, **claims})


def decode_with(decoder: DecodeHandler, body: Any) -> dict[str, Any]:
    return decoder(api_event(body, path="/decode"))


def problem_of(answer: dict[str, Any]) -> tuple[int, str]:
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    return answer["statusCode"], response_json(answer)["code"]


def test_the_verifiers_cache_survives_warm_invocations(
    decoder: DecodeHandler, published: tuple[JwksGateway, KeyRing]
) -> None:
    gateway, keyring = published
    before = gateway.requests
    for number in range(20):
        answer = decode_with(decoder, {"token": token(keyring, n=number)})
        assert response_json(answer)["n"] == number
    assert gateway.requests == before + 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (400, "invalid_request")),
        ({"token": 42}, (400, "invalid_request")),
        ({"token": "a.b.c", "jwksUri": 1}, (400, "invalid_request")),
        ({"token": "a.b.c", "audience": ["x"]}, (400, "invalid_request")),
        ("[]", (400, "invalid_request")),
        ({"token": FORGED}, (401, "missing_kid")),
        ({"token": "not-a-token"}, (401, "malformed_token")),
    ],
)
def test_bad_requests_and_tokens_are_problems(
    decoder: DecodeHandler, body: Any, expected: tuple[int, str]
) -> None:
    assert problem_of(decode_with(decoder, body)) == expected


def test_the_forged_token_says_it_has_no_key_id(decoder: DecodeHandler) -> None:
    assert response_json(decode_with(decoder, {"token": FORGED}))["detail"] == "Token has no Key ID"


def test_audience_and_issuer_are_checked_when_asked(
    decoder: DecodeHandler, published: tuple[JwksGateway, KeyRing]
) -> None:
    signed = token(published[1], aud="shop", iss="https://issuer.example")
    assert (
        decode_with(decoder, {"token": signed, "audience": "shop", "issuer": "https://issuer.example"})[
            "statusCode"
        ]
        == 200
    )
    assert problem_of(decode_with(decoder, {"token": signed, "audience": "bank"})) == (
        401,
        "invalid_audience",
    )
    assert problem_of(decode_with(decoder, {"token": signed, "issuer": "https://other.example"})) == (
        401,
        "invalid_issuer",
    )


def test_a_uri_outside_the_trusted_prefixes_is_refused_before_any_fetch(
    decoder: DecodeHandler, published: tuple[JwksGateway, KeyRing]
) -> None:
    gateway, keyring = published
    before = gateway.requests
    for uri in ("http://169.254.169.254/latest/meta-data/", gateway.jwks_uri.replace("/v1/", "/v2/")):
        assert problem_of(decode_with(decoder, {"token": token(keyring), "jwksUri": uri})) == (
            400,
            "jwks_uri_not_allowed",
        )
    assert gateway.requests == before


def test_without_trusted_prefixes_loopback_is_refused(published: tuple[JwksGateway, KeyRing]) -> None:
    gateway, keyring = published
    settings = Settings.load({"JWTSEAL_ISSUER": gateway.base_url})
    handler = DecodeHandler(settings, jwks_cache(settings, shared=False))
    try:
        answer = decode_with(handler, {"token": token(keyring)})
    finally:
        handler.close()
    assert problem_of(answer) == (400, "jwks_uri_not_allowed")


def test_an_empty_bucket_makes_the_jwks_unavailable(aws: MotoAws) -> None:
    with JwksGateway(aws.s3(), aws.new_bucket()) as gateway:
        settings = Settings.load(
            {"JWTSEAL_ISSUER": gateway.base_url, "JWTSEAL_TRUSTED_JWKS_URIS": f"{gateway.base_url}/"}
        )
        handler = DecodeHandler(settings, jwks_cache(settings, shared=False))
        try:
            answer = decode_with(handler, {"token": sign_claims(SigningKey.generate("ES256"), {})})
        finally:
            handler.close()
    assert problem_of(answer) == (502, "jwks_unavailable")


def test_the_lambda_entry_reads_its_environment(
    published: tuple[JwksGateway, KeyRing], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, keyring = published
    monkeypatch.setenv("JWTSEAL_ISSUER", gateway.base_url)
    monkeypatch.setenv("JWTSEAL_TRUSTED_JWKS_URIS", f"{gateway.base_url}/")
    try:
        answer = decode.handler(
            api_event({"token": token(keyring, exp=4_000_000_000)}, path="/decode"), object()
        )
        assert decode.handler.handler.settings.jwks_uri == gateway.jwks_uri
    finally:
        decode.handler.close()
    assert answer["statusCode"] == 200, answer

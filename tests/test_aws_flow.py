"""The deployed design end to end, on a moto server and a local API Gateway stand-in.

Create makes the keys, /encode signs, /decode verifies against the JWKS
served from the bucket, a Version bump rotates without breaking earlier
tokens, and a warm signer costs one Secrets Manager call per cache TTL.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from jwtseal import inspect
from jwtseal.aws.decode import DecodeHandler
from jwtseal.aws.encode import EncodeHandler
from jwtseal.aws.keys import KeysHandler, rotation_policy
from jwtseal.service import jwks_cache
from jwtseal.settings import Settings
from jwtseal.stores.aws import AwsKeyStore
from tests.aws_fixtures import (
    CallCounter,
    JwksGateway,
    MotoAws,
    api_event,
    cfn_event,
    moto_server,
    response_json,
)
from tests.conftest import Clock
from tests.tokens import b64

API_KEY = "jws_flow-test-key-0123456789abcdefghijklmnopqrstuv"
API_KEY_HASH = hashlib.sha256(API_KEY.encode()).hexdigest()
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
CACHE_TTL = 300


@dataclass
class Deployment:
    """One stack's worth of state: secret, bucket, the JWKS route, and the three functions."""

    aws: MotoAws
    secret_id: str
    bucket: str
    gateway: JwksGateway
    settings: Settings
    keys: KeysHandler
    decoder: DecodeHandler

    def encoder(self, clock: Clock | None = None) -> tuple[EncodeHandler, CallCounter]:
        """A new warm container of the encoder, and a count of its Secrets Manager calls."""
        client = self.aws.secrets()
        store = AwsKeyStore(
            client, self.secret_id, cache_ttl=CACHE_TTL, read_only=True, clock=clock or time.monotonic
        )
        return EncodeHandler(self.settings, store), CallCounter(client, "secrets-manager")

    def encode(self, encoder: EncodeHandler, claims: dict[str, Any]) -> str:
        answer = encoder(api_event(claims, headers={"Authorization": f"Bearer {API_KEY}"}))
        assert answer["statusCode"] == 200, answer
        token: str = response_json(answer)["token"]
        return token

    def decode(self, token: str, **extra: str) -> dict[str, Any]:
        return self.decoder(api_event({"token": token, **extra}, path="/decode"))


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


@pytest.fixture
def deployment(aws: MotoAws) -> Iterator[Deployment]:
    secret_id, bucket = aws.new_secret(), aws.new_bucket()
    with JwksGateway(aws.s3(), bucket) as gateway:
        settings = Settings.load(
            {"JWTSEAL_ISSUER": gateway.base_url, "JWTSEAL_TRUSTED_JWKS_URIS": f"{gateway.base_url}/"}
        )
        store = AwsKeyStore(aws.secrets(), secret_id, s3=aws.s3(), bucket=bucket)
        decoder = DecodeHandler(settings, jwks_cache(settings, shared=False))
        try:
            yield Deployment(
                aws,
                secret_id,
                bucket,
                gateway,
                settings,
                KeysHandler(rotation_policy(settings), store),
                decoder,
            )
        finally:
            decoder.close()


def test_create_keeps_the_private_set_in_the_secret_and_publishes_a_public_only_jwks(
    deployment: Deployment,
) -> None:
    answer = deployment.keys(cfn_event("Create", api_key_hashes=[API_KEY_HASH]))
    secret = deployment.aws.secret_document(deployment.secret_id)
    keyset = secret["keyset"]
    assert [entry["state"] for entry in keyset["keys"]] == ["current", "next"]
    assert all({"d", "p", "q"} <= set(entry["jwk"]) for entry in keyset["keys"])
    assert secret["apiKeyHashes"] == [API_KEY_HASH]
    assert API_KEY not in json.dumps(secret)
    jwks, headers = deployment.aws.published(deployment.bucket)
    assert headers == {"ContentType": "application/json", "CacheControl": "public, max-age=300"}
    assert [key["kid"] for key in jwks["keys"]] == [entry["jwk"]["kid"] for entry in keyset["keys"]]
    for key in jwks["keys"]:
        assert not PRIVATE_MEMBERS & set(key)
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    current = keyset["keys"][0]["jwk"]["kid"]
    assert answer == {
        "PhysicalResourceId": "jwtseal-key-set",
        "Data": {"CurrentKid": current, "KeySetVersion": "1"},
    }


def test_an_encode_event_answers_a_token_signed_with_the_current_key(deployment: Deployment) -> None:
    created = deployment.keys(cfn_event("Create", api_key_hashes=[API_KEY_HASH]))
    encoder, _ = deployment.encoder()
    answer = encoder(
        api_event({"groceryList": ["milk", "eggs"]}, headers={"authorization": f"Bearer {API_KEY}"})
    )
    assert answer["statusCode"] == 200
    assert answer["headers"] == {"Content-Type": "application/json"}
    body = response_json(answer)
    assert set(body) == {"token", "kid", "alg", "exp", "jti"}
    token = inspect(body["token"])
    assert token.header == {"alg": "RS256", "kid": created["Data"]["CurrentKid"], "typ": "JWT"}
    assert token.claims["groceryList"] == ["milk", "eggs"]
    assert token.claims["iss"] == deployment.gateway.base_url
    assert token.claims["exp"] == token.claims["iat"] + 86_400 == body["exp"]


def test_a_decode_event_with_a_jwks_uri_answers_the_claims(deployment: Deployment) -> None:
    deployment.keys(cfn_event("Create", api_key_hashes=[API_KEY_HASH]))
    encoder, _ = deployment.encoder()
    token = deployment.encode(encoder, {"groceryList": ["milk", "eggs", "healthy stuff"]})
    answer = deployment.decode(token, jwksUri=deployment.gateway.jwks_uri)
    assert answer["statusCode"] == 200, answer
    claims = response_json(answer)
    assert claims["groceryList"] == ["milk", "eggs", "healthy stuff"]
    assert set(claims) == {"groceryList", "iss", "iat", "exp", "jti"}
    assert response_json(deployment.decode(token)) == claims  # no jwksUri: the service's own JWKS
    header, _, signature = token.split(".")
    cookies = {**claims, "groceryList": ["milk", "eggs", "cookies", "candy"]}
    forged = f"{header}.{b64(json.dumps(cookies).encode())}.{signature}"
    refused = deployment.decode(forged)
    assert (refused["statusCode"], response_json(refused)["code"]) == (401, "bad_signature")


def test_a_version_bump_rotates_and_tokens_issued_before_still_verify(deployment: Deployment) -> None:
    created = deployment.keys(cfn_event("Create", api_key_hashes=[API_KEY_HASH]))
    clock = Clock(0.0)
    encoder, _ = deployment.encoder(clock)
    before = deployment.encode(encoder, {"sub": "before"})
    assert response_json(deployment.decode(before))["sub"] == "before"
    published_next = deployment.aws.published(deployment.bucket)[0]["keys"][1]["kid"]

    bumped = deployment.keys(
        cfn_event(
            "Update",
            version="2",
            old_version="1",
            physical_id="jwtseal-key-set",
            api_key_hashes=[API_KEY_HASH],
        )
    )
    assert bumped["PhysicalResourceId"] == "jwtseal-key-set"
    assert bumped["Data"] == {"CurrentKid": published_next, "KeySetVersion": "2"}
    states = {
        entry["jwk"]["kid"]: entry["state"]
        for entry in deployment.aws.secret_document(deployment.secret_id)["keyset"]["keys"]
    }
    assert states[created["Data"]["CurrentKid"]] == "retired"
    assert states[published_next] == "current"

    clock.now += CACHE_TTL  # the warm encoder's cached secret expires...
    time.sleep(0.6)  # ...and its key ring looks at the store again
    after = deployment.encode(encoder, {"sub": "after"})
    assert inspect(after).header["kid"] == published_next != inspect(before).header["kid"]
    assert response_json(deployment.decode(after))["sub"] == "after"
    assert response_json(deployment.decode(before))["sub"] == "before"
    # The new key was published a whole period before it signed: the decoder's first fetch had it.
    assert deployment.gateway.requests == 1


def test_a_thousand_warm_encodes_cost_one_secrets_manager_call(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment.keys(cfn_event("Create", api_key_hashes=[API_KEY_HASH]))
    clock = Clock(0.0)
    encoder, counter = deployment.encoder(clock)
    event = api_event({"groceryList": ["milk"]}, headers={"Authorization": f"Bearer {API_KEY}"})
    started = time.perf_counter()
    answers = [encoder(event) for _ in range(1_000)]
    elapsed = time.perf_counter() - started
    assert {answer["statusCode"] for answer in answers} == {200}
    assert len({response_json(answer)["jti"] for answer in answers}) == 1_000
    calls = counter.total
    assert counter.calls == {"GetSecretValue": 1}
    clock.now += CACHE_TTL
    time.sleep(0.6)
    encoder(event)
    assert counter.calls == {"GetSecretValue": 2}  # one more per TTL, not per token
    with capsys.disabled():
        print(
            f"\n1,000 encodes in one warm container: {calls} Secrets Manager call (GetSecretValue), "
            f"one more after each {CACHE_TTL} s TTL; uncached it would be 1,000 calls: "
            f"${calls * 0.05 / 10_000:.6f} instead of ${1_000 * 0.05 / 10_000:.4f} at $0.05 per 10,000 "
            f"calls; {elapsed:.2f} s in all"
        )

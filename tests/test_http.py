"""The HTTP service against a real jwtseal server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, RunningService, StartService

FORGED = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE2MTUwNjI5OTUsImlhdCI6MTYxNTA1ODk2NSwiZ3JvY2VyeUxpc3QiOl"
    "sibWlsayIsImVnZ3MiLCJjb29raWVzIiwiY2FuZHkiXSwianRpIjoiZjFlYjRiMTktYjQwYy00NWQ3LWIyZjgtYWNlMjY1NWNhZDli"
    "In0.-B-8-m8hwmOWKSUI1B3wOmYaPWyegihVIi6U17D5H1M"
)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]
    return body


def test_jwks_publishes_public_current_and_next_keys(running: RunningService) -> None:
    response = running.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 2
    for jwk in keys:
        assert {"kty", "kid", "use", "alg"} <= jwk.keys()
        assert jwk["use"] == "sig"
        assert jwk["alg"] == "RS256"
        assert not set(PRIVATE_MEMBERS) & jwk.keys()
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["etag"].startswith('"')


@pytest.mark.parametrize("form", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_jwks_answers_matching_if_none_match_with_304(running: RunningService, form: str) -> None:
    etag = running.client.get("/.well-known/jwks.json").headers["etag"]
    response = running.client.get("/.well-known/jwks.json", headers={"if-none-match": form.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_jwks_with_stale_etag_is_sent_again(running: RunningService) -> None:
    response = running.client.get("/.well-known/jwks.json", headers={"if-none-match": '"stale"'})
    assert response.status_code == 200
    assert response.json()["keys"]


def test_openid_configuration_names_issuer_jwks_and_algorithms(running: RunningService) -> None:
    document = running.client.get("/.well-known/openid-configuration").json()
    assert document["issuer"] == running.url
    assert document["jwks_uri"] == f"{running.url}/.well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]


def test_encode_signs_the_grocery_list_with_server_claims(running: RunningService) -> None:
    before = int(time.time())
    response = running.encode({"groceryList": ["milk", "eggs"], "sub": "whitney", "aud": "store"})
    assert response.status_code == 200
    body = response.json()
    claims = running.client.post("/decode", json={"token": body["token"]}).json()
    assert claims["groceryList"] == ["milk", "eggs"]
    assert claims["sub"] == "whitney"
    assert claims["aud"] == "store"
    assert claims["iss"] == running.url
    assert before <= claims["iat"] <= before + 5
    assert claims["exp"] == claims["iat"] + 86_400
    assert claims["jti"] == body["jti"]
    assert body["kid"] == running.client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    assert body["alg"] == "RS256"


def test_encode_gives_every_token_a_unique_jti(running: RunningService) -> None:
    jtis = {running.encode({}).json()["jti"] for _ in range(20)}
    assert len(jtis) == 20


def test_encode_keeps_a_client_exp_within_the_maximum(running: RunningService) -> None:
    exp = int(time.time()) + 600
    token = running.encode({"exp": exp, "nbf": 1}).json()["token"]
    claims = running.client.post("/decode", json={"token": token}).json()
    assert claims["exp"] == exp
    assert claims["nbf"] == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-key", f"Basic {API_KEY}", f"Bearer {API_KEY}x", "Bearer \u00e9"],
)
def test_encode_without_a_valid_bearer_key_is_unauthorized(
    running: RunningService, authorization: str | None
) -> None:
    headers = {} if authorization is None else {b"authorization": authorization.encode("latin-1")}
    response = running.client.post("/encode", json={"groceryList": ["cookies"]}, headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("claim", ["iss", "iat", "jti"])
def test_encode_refuses_reserved_claims(running: RunningService, claim: str) -> None:
    assert_problem(running.encode({claim: "x"}), 400, "reserved_claim")


def test_encode_refuses_an_exp_past_the_maximum_lifetime(running: RunningService) -> None:
    assert_problem(running.encode({"exp": int(time.time()) + 86_400 * 2}), 400, "ttl_too_long")


@pytest.mark.parametrize(
    "claims", [{"exp": 1}, {"exp": "tomorrow"}, {"nbf": "now"}, {"exp": True}, {"exp": None}]
)
def test_encode_refuses_invalid_time_claims(running: RunningService, claims: dict[str, Any]) -> None:
    assert_problem(running.encode(claims), 400, "invalid_claim")


def test_encode_refuses_a_lone_surrogate_without_a_500(running: RunningService) -> None:
    response = running.client.post(
        "/encode", content=b'{"x": "\\ud800"}', headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert_problem(response, 400, "invalid_claim")
    pair = running.client.post(
        "/encode", content=b'{"x": "\\ud83d\\ude00"}', headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert pair.status_code == 200


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b'"text"', b'{"a": 1, "a": 2}', b'{"x": NaN}', b"\xff"]
)
def test_encode_refuses_a_body_that_is_not_a_json_object(running: RunningService, body: bytes) -> None:
    response = running.client.post("/encode", content=body, headers={"authorization": f"Bearer {API_KEY}"})
    assert_problem(response, 400, "invalid_request")


def test_body_over_64_kib_is_refused_with_413(running: RunningService) -> None:
    big = {"groceryList": ["x" * 70_000]}
    assert_problem(running.encode(big), 413, "payload_too_large")
    assert_problem(running.client.post("/decode", json={"token": "x" * 70_000}), 413, "payload_too_large")


def test_streamed_body_over_the_limit_is_refused_with_413(running: RunningService) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 8192

    response = running.client.post("/decode", content=chunks())
    assert_problem(response, 413, "payload_too_large")


def test_streamed_body_within_the_limit_is_read_whole(running: RunningService) -> None:
    token = running.token()

    def chunks() -> Any:
        yield b'{"token": "'
        yield token.encode()
        yield b'"}'

    response = running.client.post("/decode", content=chunks())
    assert response.status_code == 200
    assert response.json()["groceryList"] == ["milk", "eggs"]


def test_body_arriving_in_pieces_is_read_whole(running: RunningService) -> None:
    token = running.token()
    body = json.dumps({"token": token}).encode()
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = f"POST /decode HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode() + body[:20])
        time.sleep(0.2)
        conn.sendall(body[20:])
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"groceryList":["milk","eggs"]' in answer


def test_api_keys_from_the_environment_are_accepted(start_service: StartService) -> None:
    running = start_service(JWTSEAL_API_KEYS="first-key,second-key")
    assert running.encode({}, key="second-key").status_code == 200
    assert_problem(running.encode({}, key=API_KEY), 401, "unauthorized")


def test_decode_verifies_with_the_service_own_keys(running: RunningService) -> None:
    token = running.token()
    response = running.client.post("/decode", json={"token": token})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"groceryList", "iss", "iat", "exp", "jti"}


def test_answers_are_compact_json_with_non_ascii_escaped(running: RunningService) -> None:
    claims = {"cart": "gr\u00fc\u00dfe \u2713 \U0001f600", "n": [1, 2.5, None, True]}
    issued = running.encode(claims)
    decoded = running.client.post("/decode", json={"token": issued.json()["token"]})

    for answer in (issued, decoded):
        assert answer.content.isascii()
        assert answer.content == json.dumps(answer.json(), separators=(",", ":")).encode()
    assert decoded.json()["cart"] == claims["cart"]
    assert b"\\ud83d\\ude00" in decoded.content  # the emoji as a surrogate pair, escaped


def test_decode_with_own_jwks_uri_is_answered_from_memory(running: RunningService) -> None:
    token = running.token()
    uri = f"{running.url}/.well-known/jwks.json"
    response = running.client.post("/decode", json={"token": token, "jwksUri": uri})
    assert response.json()["groceryList"] == ["milk", "eggs"]


def test_decode_answers_the_article_forged_token_with_missing_kid(running: RunningService) -> None:
    body = assert_problem(running.client.post("/decode", json={"token": FORGED}), 401, "missing_kid")
    assert body["detail"] == "Token has no Key ID"


def test_decode_refuses_a_tampered_token(running: RunningService) -> None:
    header, payload, signature = running.token().split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    response = running.client.post("/decode", json={"token": f"{header}.{payload}.{flipped}"})
    assert_problem(response, 401, "bad_signature")


def test_decode_checks_audience_and_issuer_when_asked(running: RunningService) -> None:
    token = running.token({"aud": ["store", "bank"]})
    ok = running.client.post("/decode", json={"token": token, "audience": "bank", "issuer": running.url})
    assert ok.status_code == 200
    wrong_aud = running.client.post("/decode", json={"token": token, "audience": "cinema"})
    assert_problem(wrong_aud, 401, "invalid_audience")
    wrong_iss = running.client.post("/decode", json={"token": token, "issuer": "https://evil.example"})
    assert_problem(wrong_iss, 401, "invalid_issuer")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": 1},
        {"token": "a.b.c", "jwksUri": 5},
        {"token": "a.b.c", "audience": ["x"]},
        {"token": "a.b.c", "issuer": {}},
    ],
)
def test_decode_refuses_missing_or_mistyped_fields(running: RunningService, body: dict[str, Any]) -> None:
    assert_problem(running.client.post("/decode", json=body), 400, "invalid_request")


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "!!!.x.y", "e30.e30.", "e30.e30.e30", "e" * 5000 + ".e30.e30"]
)
def test_decode_refuses_garbage_tokens_without_a_500(running: RunningService, token: str) -> None:
    response = running.client.post("/decode", json={"token": token})
    assert response.status_code == 401
    assert response.json()["code"] in ("malformed_token", "missing_kid")


def test_healthz_reports_the_signing_key(running: RunningService) -> None:
    response = running.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["kid"] == running.service.keyring.view().signing_key.kid


def test_openapi_document_lists_every_endpoint(running: RunningService) -> None:
    document = running.client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/.well-known/jwks.json", "/encode", "/decode", "/healthz"} <= set(document["paths"])


def test_unknown_path_is_a_404_problem(running: RunningService) -> None:
    assert_problem(running.client.get("/nope"), 404, "not_found")


def test_wrong_method_is_a_405_problem_with_allow(running: RunningService) -> None:
    response = running.client.get("/encode")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_bad_requests_never_change_stored_keys(running: RunningService) -> None:
    keys_file = running.settings.data_dir / "keys.json"
    before = keys_file.read_bytes()
    attempts = [
        running.encode({"iss": "me"}),
        running.encode([1]),
        running.encode({}, key="nope"),
        running.client.post("/decode", json={"token": FORGED}),
        running.client.post("/decode", content=b"\x00" * 70_000),
    ]
    assert all(400 <= response.status_code < 500 for response in attempts)
    assert keys_file.read_bytes() == before


def test_service_signs_with_the_new_key_after_a_rotation_elsewhere(start_service: StartService) -> None:
    running = start_service()
    old_kid = running.encode({}).json()["kid"]
    running.service.keyring.rotate()
    deadline = time.monotonic() + 5
    while running.encode({}).json()["kid"] == old_kid:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    old_still_published = {k["kid"] for k in running.client.get("/.well-known/jwks.json").json()["keys"]}
    assert old_kid in old_still_published


@pytest.mark.parametrize("alg", ["PS256", "ES256", "ES384", "EdDSA"])
def test_service_signs_and_verifies_with_each_algorithm(start_service: StartService, alg: str) -> None:
    running = start_service(JWTSEAL_ALGORITHM=alg)
    token = running.token()
    assert running.client.post("/decode", json={"token": token}).status_code == 200
    keys = running.client.get("/.well-known/jwks.json").json()["keys"]
    assert {jwk["alg"] for jwk in keys} == {alg}


def test_keys_lists_each_published_key_with_state_and_times(running: RunningService) -> None:
    keys = running.client.get("/keys").json()["keys"]
    assert [key["state"] for key in keys] == ["current", "next"]
    jwks_kids = [jwk["kid"] for jwk in running.client.get("/.well-known/jwks.json").json()["keys"]]
    assert [key["kid"] for key in keys] == jwks_kids
    assert keys[0]["retires"] == keys[1]["activates"]
    assert all(
        set(key) == {"kid", "alg", "state", "created", "activates", "retires", "removes"} for key in keys
    )


def test_a_store_corrupted_while_running_keeps_the_last_good_keys(
    running: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    token = running.token()
    keys = running.settings.data_dir / "keys.json"
    good = keys.read_bytes()
    keys.write_text("{ torn")
    time.sleep(0.6)
    with caplog.at_level("WARNING", logger="jwtseal.keyring"):
        assert running.client.get("/healthz").status_code == 200
        assert running.client.post("/decode", json={"token": running.token()}).status_code == 200
    assert "serving the last good key set" in caplog.text
    assert_problem(running.client.get("/readyz"), 503, "key_store_error")
    assert keys.read_text() == "{ torn"
    keys.write_bytes(good)
    assert running.client.get("/readyz").status_code == 200
    assert running.client.post("/decode", json={"token": token}).status_code == 200


def test_due_rotation_on_a_corrupt_store_is_logged_and_retried(
    start_service: StartService, caplog: pytest.LogCaptureFixture
) -> None:
    running = start_service(JWTSEAL_ROTATION_PERIOD="2", JWTSEAL_JWKS_MAX_AGE="1")
    first = running.service.keyring.view().keyset.current.kid
    keys = running.settings.data_dir / "keys.json"
    good = keys.read_bytes()
    keys.write_text("{ torn")
    with caplog.at_level("WARNING", logger="jwtseal.keys"):
        deadline = time.monotonic() + 10
        while "key maintenance failed" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    keys.write_bytes(good)
    deadline = time.monotonic() + 10
    while running.service.keyring.view().keyset.current.kid == first:
        assert time.monotonic() < deadline
        time.sleep(0.1)

"""POST /decode and `jwtseal verify --jwks URI` against another service's JWKS."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from jwtseal.cli import main
from tests.conftest import StartService
from tests.test_http import assert_problem


def test_decode_verifies_against_a_trusted_remote_jwks(start_service: StartService) -> None:
    issuer = start_service()
    verifier = start_service(JWTSEAL_TRUSTED_JWKS_URIS=f"{issuer.url}/.well-known/")
    token = issuer.token({"groceryList": ["apples"]})
    jwks_uri = f"{issuer.url}/.well-known/jwks.json"
    for _ in range(3):
        answer = verifier.client.post("/decode", json={"token": token, "jwksUri": jwks_uri})
        assert answer.status_code == 200, answer.text
        assert answer.json()["groceryList"] == ["apples"]
    assert verifier.service.remote.stats.fetches["127.0.0.1"] == 1
    own = verifier.client.post("/decode", json={"token": token})
    assert_problem(own, 401, "unknown_kid")


def test_decode_refuses_a_loopback_jwks_uri_unless_trusted(start_service: StartService) -> None:
    issuer = start_service()
    verifier = start_service()
    token = issuer.token()
    for uri in (f"{issuer.url}/.well-known/jwks.json", "https://127.0.0.1/jwks.json", "file:///etc/passwd"):
        answer = verifier.client.post("/decode", json={"token": token, "jwksUri": uri})
        assert_problem(answer, 400, "jwks_uri_not_allowed")


def test_decode_reports_an_unreachable_trusted_jwks_as_unavailable(start_service: StartService) -> None:
    issuer = start_service()
    verifier = start_service(JWTSEAL_TRUSTED_JWKS_URIS="http://127.0.0.1:9/")
    answer = verifier.client.post(
        "/decode", json={"token": issuer.token(), "jwksUri": "http://127.0.0.1:9/jwks.json"}
    )
    assert_problem(answer, 502, "jwks_unavailable")


@pytest.mark.parametrize("trusted", [True, False])
def test_cli_verify_with_a_jwks_uri(start_service: StartService, trusted: bool) -> None:
    issuer = start_service()
    token = issuer.token({"groceryList": ["pears"]})
    env = {"JWTSEAL_TRUSTED_JWKS_URIS": issuer.url} if trusted else {}
    result = CliRunner().invoke(
        main, ["verify", token, "--jwks", f"{issuer.url}/.well-known/jwks.json"], env=env
    )
    if trusted:
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["groceryList"] == ["pears"]
    else:
        assert result.exit_code == 1
        assert result.stderr.startswith("jwks_uri_not_allowed: ")

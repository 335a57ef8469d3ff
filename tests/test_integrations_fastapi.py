"""The FastAPI guard in apps a test builds, served by uvicorn on 127.0.0.1 and called by httpx.

No ``from __future__ import annotations`` here: FastAPI reads the routes'
annotations at run time, and they name guards local to each test.
"""

import importlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from jwtseal import JWKSCache, SigningKey, TokenRejected, TrustedIssuer, VerifiedToken, Verifier
from jwtseal.integrations.fastapi import BearerGuard
from tests.integration_servers import AUDIENCE, ISSUER, bearer, serve_asgi, token_for
from tests.remote_origin import Origin
from tests.tokens import signing_key


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return signing_key("RS256")


@pytest.fixture(scope="module")
def origin(key: SigningKey) -> Iterator[Origin]:
    with Origin() as origin:
        origin.serve_keys(key, Cache_Control="max-age=600")
        yield origin


def verifier_for(origin: Origin, **options: Any) -> Verifier:
    issuer = TrustedIssuer(ISSUER, jwks_uri=origin.url())
    return Verifier(issuers=[issuer], audience=AUDIENCE, cache=JWKSCache(), **options)


def app_with(guard: BearerGuard, *, handlers: bool = True) -> FastAPI:
    handlers_of = guard.exception_handlers if handlers else None
    app = FastAPI(lifespan=guard.lifespan, exception_handlers=handlers_of)

    @app.get("/me")
    async def me(token: Annotated[VerifiedToken, Depends(guard)]) -> dict[str, Any]:
        return {"subject": token.subject}

    @app.post("/lists")
    async def create(
        token: Annotated[VerifiedToken, Security(guard, scopes=["lists:write", 'odd"name'])],
    ) -> None:
        """Needs a scope name no header can carry, beside one that it can."""

    return app


def test_without_the_handlers_fastapi_sends_its_own_body_with_the_same_status_and_challenge(
    origin: Origin, key: SigningKey
) -> None:
    with serve_asgi(app_with(BearerGuard(verifier_for(origin)), handlers=False)) as url:
        missing = httpx.get(f"{url}/me")
        expired = httpx.get(f"{url}/me", headers=bearer(token_for(key, iat=1_600_000_000, exp=1_600_000_300)))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {"detail": "A bearer token is required."}
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert expired.json() == {"detail": "The token has expired."}


def test_the_realm_is_in_every_challenge(origin: Origin, key: SigningKey) -> None:
    with serve_asgi(app_with(BearerGuard(verifier_for(origin), realm="groceries"))) as url:
        missing = httpx.get(f"{url}/me")
        refused = httpx.get(f"{url}/me", headers=bearer("not.a-token"))
    assert missing.headers["www-authenticate"] == 'Bearer realm="groceries"'
    assert refused.headers["www-authenticate"].startswith('Bearer realm="groceries", error="invalid_token", ')


def test_a_description_is_sent_as_printable_ascii_without_quotes_and_bounded(
    origin: Origin, key: SigningKey
) -> None:
    detail = 'Say "hi" to C:\\ Zoë ' + "x" * 300

    def refuse(token: VerifiedToken) -> None:
        raise TokenRejected(detail)

    with serve_asgi(app_with(BearerGuard(verifier_for(origin, check=refuse)))) as url:
        answer = httpx.get(f"{url}/me", headers=bearer(token_for(key)))
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_rejected"
    assert answer.json()["detail"] == detail
    challenge = answer.headers["www-authenticate"]
    description = challenge.split('error_description="', 1)[1]
    assert description.startswith("Say 'hi' to C:? Zo? xxx")
    assert description.endswith('..."')
    assert len(description) == 201
    assert challenge.isascii()


def test_scope_names_a_header_cannot_carry_are_left_out_of_it(origin: Origin, key: SigningKey) -> None:
    with serve_asgi(app_with(BearerGuard(verifier_for(origin)))) as url:
        answer = httpx.post(f"{url}/lists", headers=bearer(token_for(key, scope="lists:write")))
    assert answer.status_code == 403
    assert answer.json()["code"] == "insufficient_scope"
    assert answer.headers["www-authenticate"].endswith(', scope="lists:write"')


def test_issuer_metadata_naming_a_refused_jwks_uri_is_a_logged_500_and_nothing_is_sent_there(
    key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    with Origin() as metadata, Origin() as elsewhere:
        issuer = metadata.url("")
        document = {"issuer": issuer, "jwks_uri": elsewhere.url(host="localhost")}
        metadata.reply.body = json.dumps(document).encode()
        verifier = Verifier(issuers=[TrustedIssuer(issuer)], audience=AUDIENCE, cache=JWKSCache())
        with (
            caplog.at_level(logging.ERROR, "jwtseal.integrations"),
            serve_asgi(app_with(BearerGuard(verifier))) as url,
        ):
            answer = httpx.get(f"{url}/me", headers=bearer(token_for(key, iss=issuer)))
        assert elsewhere.count == 0
    assert answer.status_code == 500
    assert answer.json()["code"] == "jwks_uri_not_allowed"
    assert "www-authenticate" not in answer.headers
    assert "jwks_uri_not_allowed" in caplog.text


@pytest.mark.parametrize("options", [{"realm": 'say "hi"'}, {"realm": "zoë"}, {"retry_after": -1}])
def test_a_guard_refuses_options_it_could_not_send(origin: Origin, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"realm|retry_after"):
        BearerGuard(verifier_for(origin), **options)


def test_the_fastapi_extra_is_named_when_fastapi_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "jwtseal.integrations.fastapi")
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[fastapi\]'"):
        importlib.import_module("jwtseal.integrations.fastapi")

"""The Starlette backend in apps a test builds, served by uvicorn on 127.0.0.1 and called by httpx."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jwtseal import JWKSCache, SigningKey, TrustedIssuer, Verifier
from jwtseal.integrations.starlette import BearerBackend
from tests.integration_servers import AUDIENCE, ISSUER, bearer, serve_asgi, token_for
from tests.remote_origin import Origin
from tests.tokens import signing_key


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return signing_key("RS256")


@pytest.fixture(scope="module")
def backend(key: SigningKey) -> Iterator[BearerBackend]:
    with Origin() as origin:
        origin.serve_keys(key, Cache_Control="max-age=600")
        issuer = TrustedIssuer(ISSUER, jwks_uri=origin.url())
        yield BearerBackend(Verifier(issuers=[issuer], audience=AUDIENCE, cache=JWKSCache()))


async def whoami(request: Request) -> Response:
    user = request.user
    return JSONResponse(
        {"authenticated": user.is_authenticated, "name": user.display_name, "id": user.identity}
    )


def routes(backend: BearerBackend) -> list[Route]:
    starlettes_own = requires("lists:write")(whoami)
    return [
        Route("/public", whoami),
        Route("/private", backend.requires()(whoami)),
        Route("/starlette-requires", starlettes_own),
    ]


@pytest.fixture(scope="module")
def url(backend: BearerBackend) -> Iterator[str]:
    app = Starlette(routes=routes(backend), middleware=[backend.middleware()], lifespan=backend.lifespan)
    with serve_asgi(app) as url:
        yield url


def test_a_public_route_serves_a_request_without_a_token(url: str) -> None:
    answer = httpx.get(f"{url}/public")
    assert answer.status_code == 200
    assert answer.json() == {"authenticated": False, "name": "", "id": ""}


def test_a_verified_token_is_the_request_user(url: str, key: SigningKey) -> None:
    answer = httpx.get(f"{url}/private", headers=bearer(token_for(key)))
    assert answer.status_code == 200
    assert answer.json() == {"authenticated": True, "name": "alice", "id": "alice"}


def test_a_token_without_a_subject_is_a_user_with_an_empty_name(url: str, key: SigningKey) -> None:
    answer = httpx.get(f"{url}/private", headers=bearer(token_for(key, sub=None)))
    assert answer.status_code == 200
    assert answer.json() == {"authenticated": True, "name": "", "id": ""}


def test_a_refused_token_is_refused_even_on_a_public_route(url: str) -> None:
    answer = httpx.get(f"{url}/public", headers=bearer("not.a-token"))
    assert answer.status_code == 401
    assert answer.json()["code"] == "malformed_token"
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_starlettes_own_requires_sees_the_token_scopes_but_answers_a_bare_403(
    url: str, key: SigningKey
) -> None:
    granted = httpx.get(f"{url}/starlette-requires", headers=bearer(token_for(key, scope="lists:write")))
    refused = httpx.get(f"{url}/starlette-requires", headers=bearer(token_for(key, scope="lists:read")))
    assert granted.status_code == 200
    assert refused.status_code == 403
    assert "www-authenticate" not in refused.headers


def test_a_route_that_requires_a_token_refuses_when_no_middleware_verified_one(
    backend: BearerBackend, key: SigningKey
) -> None:
    with serve_asgi(Starlette(routes=routes(backend))) as url:
        answer = httpx.get(f"{url}/private", headers=bearer(token_for(key)))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["code"] == "unauthorized"


def test_the_starlette_extra_is_named_when_starlette_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "starlette.authentication", None)
    monkeypatch.delitem(sys.modules, "jwtseal.integrations.starlette")
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[starlette\]'"):
        importlib.import_module("jwtseal.integrations.starlette")

"""The Flask decorator in apps a test builds, served by waitress on 127.0.0.1 and called by httpx."""

from __future__ import annotations

import importlib
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask

from jwtseal import JWKSCache, TrustedIssuer, Verifier
from jwtseal.integrations.flask import current_token, hydrate, require_token
from tests.integration_servers import AUDIENCE, ISSUER, GatedOrigin, bearer, serve_wsgi, token_for
from tests.remote_origin import Origin
from tests.tokens import signing_key

CONCURRENT = 32


def verifier_at(jwks_uri: str, cache: JWKSCache | None = None) -> Verifier:
    issuer = TrustedIssuer(ISSUER, jwks_uri=jwks_uri)
    return Verifier(issuers=[issuer], audience=AUDIENCE, cache=cache or JWKSCache())


def app_for(verifier: Verifier) -> Flask:
    app = Flask(__name__)

    @app.get("/me")
    @require_token(verifier)
    def me() -> dict[str, str | None]:
        return {"subject": current_token().subject}

    return app


def test_concurrent_cold_requests_in_a_threaded_server_share_one_fetch() -> None:
    key = signing_key("RS256")
    token = token_for(key)
    with (
        GatedOrigin(key) as origin,
        # The held fetch must outlast a slow machine's gathering of the requests.
        serve_wsgi(app_for(verifier_at(origin.url, JWKSCache(timeout=20))), threads=CONCURRENT) as server,
    ):

        def call() -> httpx.Response:
            return httpx.get(f"{server.url}/me", headers=bearer(token), timeout=30)

        with ThreadPoolExecutor(CONCURRENT) as pool:
            calls = [pool.submit(call) for _ in range(CONCURRENT)]
            # The origin holds its answer until all 32 requests are inside the app,
            # waiting for keys: without one shared fetch, each would send its own.
            deadline = time.monotonic() + 15
            while server.busy < CONCURRENT and time.monotonic() < deadline:
                time.sleep(0.01)
            in_flight = server.busy
            origin.gate.set()
            answers = [future.result() for future in calls]
    assert in_flight == CONCURRENT
    assert [answer.status_code for answer in answers] == [200] * CONCURRENT
    assert {answer.json()["subject"] for answer in answers} == {"alice"}
    assert origin.fetches == 1


def test_hydrate_fetches_the_keys_so_the_first_request_does_not() -> None:
    key = signing_key("RS256")
    with Origin() as origin:
        origin.serve_keys(key, Cache_Control="max-age=600")
        verifier = verifier_at(origin.url())
        assert hydrate(verifier) is True
        assert origin.count == 1
        with serve_wsgi(app_for(verifier)) as server:
            answer = httpx.get(f"{server.url}/me", headers=bearer(token_for(key)))
        assert answer.json() == {"subject": "alice"}
        assert origin.count == 1


def test_hydrate_with_the_origin_down_logs_a_warning_and_the_app_answers_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Origin() as origin:
        down = origin.url()
    verifier = verifier_at(down)
    with caplog.at_level(logging.WARNING, "jwtseal.integrations"):
        assert hydrate(verifier) is False
    assert "keys could not be fetched at start-up" in caplog.text
    with serve_wsgi(app_for(verifier)) as server:
        answer = httpx.get(f"{server.url}/me", headers=bearer(token_for(signing_key("RS256"))))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"


def test_current_token_outside_a_guarded_view_is_an_error() -> None:
    app = Flask(__name__)
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="require_token"):
        current_token()


def test_the_flask_extra_is_named_when_flask_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)
    monkeypatch.delitem(sys.modules, "jwtseal.integrations.flask")
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[flask\]'"):
        importlib.import_module("jwtseal.integrations.flask")

"""The example apps, run as their docstrings say, answer every request as RFC 6750 asks.

FastAPI and Starlette run under uvicorn, Flask under waitress, each in its own
process on 127.0.0.1, trusting one issuer whose keys a real origin on
127.0.0.1 serves; httpx calls them over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jwtseal import SigningKey
from tests.integration_servers import (
    AUDIENCE,
    FRAMEWORKS,
    ROOT,
    SUBJECT,
    ExampleApp,
    bearer,
    run_example,
    token_for,
)
from tests.remote_origin import Origin
from tests.tokens import other_signing_key, signing_key, with_signature

PROBLEM = "application/problem+json"


@dataclass
class Running:
    app: ExampleApp
    origin: Origin
    fetches_at_start: int


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return signing_key("RS256")


@pytest.fixture(scope="module")
def running(key: SigningKey, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Running]]:
    """Each example app with an origin of its own, so each app's fetches are counted alone."""
    log_dir = tmp_path_factory.mktemp("example-logs")
    with ExitStack() as stack:
        apps = {}
        for framework in FRAMEWORKS:
            origin = stack.enter_context(Origin())
            origin.serve_keys(key, Cache_Control="max-age=600")
            app = stack.enter_context(run_example(framework, log_dir, origin.url()))
            apps[framework] = Running(app, origin, origin.count)
        yield apps


@pytest.fixture(params=FRAMEWORKS)
def example(request: pytest.FixtureRequest, running: dict[str, Running]) -> Running:
    return running[request.param]


def assert_problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    problem = answer.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["detail"]


def test_a_good_token_gets_200_with_its_claims(example: Running, key: SigningKey) -> None:
    answer = httpx.get(
        f"{example.app.url}/me", headers=bearer(token_for(key, scope="lists:read lists:write"))
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject"] == SUBJECT
    assert body["scopes"] == ["lists:read", "lists:write"]
    assert (body["claims"]["sub"], body["claims"]["aud"]) == (SUBJECT, AUDIENCE)


def test_a_token_with_the_route_scope_is_served(example: Running, key: SigningKey) -> None:
    answer = httpx.post(f"{example.app.url}/lists", headers=bearer(token_for(key, scope="lists:write")))
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"owner": SUBJECT}


@pytest.mark.parametrize("authorization", [None, "Basic YWxpY2U6c2VjcmV0"])
def test_no_bearer_token_gets_401_with_a_bare_challenge(example: Running, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = httpx.get(f"{example.app.url}/me", headers=headers)
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


def _refused_tokens(key: SigningKey) -> dict[str, str]:
    good = token_for(key)
    return {
        "malformed_token": "not.a-token",
        "expired": token_for(key, iat=1_600_000_000, exp=1_600_000_300),
        "bad_signature": with_signature(good, other_signing_key("RS256").sign(b"something else")),
        "invalid_audience": token_for(key, aud="api://someone-else"),
    }


@pytest.mark.parametrize("code", ["malformed_token", "expired", "bad_signature", "invalid_audience"])
def test_a_refused_token_gets_401_invalid_token_with_a_description(
    example: Running, key: SigningKey, code: str
) -> None:
    answer = httpx.get(f"{example.app.url}/me", headers=bearer(_refused_tokens(key)[code]))
    assert_problem(answer, 401, code)
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert answer.json()["detail"] in challenge


def test_a_token_without_the_route_scope_gets_403_naming_the_scope(example: Running, key: SigningKey) -> None:
    answer = httpx.post(f"{example.app.url}/lists", headers=bearer(token_for(key, scope="lists:read")))
    assert_problem(answer, 403, "insufficient_scope")
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope", error_description="')
    assert challenge.endswith(', scope="lists:write"')


def test_keys_are_fetched_once_at_start_up_and_not_per_request(example: Running, key: SigningKey) -> None:
    assert example.fetches_at_start == 1
    for _ in range(3):
        assert httpx.get(f"{example.app.url}/me", headers=bearer(token_for(key))).status_code == 200
    assert example.origin.count == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_origin_down_with_nothing_cached_gets_503_with_retry_after(
    framework: str, key: SigningKey, tmp_path: Path
) -> None:
    with Origin() as origin:
        down = origin.url()
    with run_example(framework, tmp_path, down) as app:
        answers = [httpx.get(f"{app.url}/me", headers=bearer(token_for(key))) for _ in range(2)]
        log = app.log()
    for answer in answers:
        assert_problem(answer, 503, "jwks_unavailable")
        assert answer.headers["retry-after"] == "30"
        assert "www-authenticate" not in answer.headers
    assert "keys could not be fetched at start-up" in log


def test_fastapi_openapi_declares_the_bearer_scheme_and_the_route_scopes(running: dict[str, Running]) -> None:
    schema = httpx.get(f"{running['fastapi'].app.url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schema["paths"]["/lists"]["post"]["security"] == [{"bearer": ["lists:write"]}]
    assert schema["paths"]["/me"]["get"]["security"] == [{"bearer": []}]


def test_readme_shows_the_fastapi_example_and_links_the_others() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "fastapi_app.py").read_text()
    code = example[example.index('"""\n\n') + 5 :]
    assert f"```python\n{code}```" in readme
    assert "examples/starlette_app.py" in readme
    assert "examples/flask_app.py" in readme
    assert "docs/integrations.md" in readme

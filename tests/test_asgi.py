"""The HTTP layer's last line: a bug in a handler still answers problem+json."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from jwtseal.http.asgi import Request, Response, Router


async def _broken(request: Request) -> Response:
    raise RuntimeError("a bug, with internals: /secret/path")


def test_an_unexpected_error_is_a_500_problem_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    app = Router({"/broken": {"GET": _broken}})

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/broken")

    with caplog.at_level("ERROR", logger="jwtseal.http"):
        response = asyncio.run(call())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "jwtseal_error"
    assert "secret" not in response.text
    assert "unhandled error" in caplog.text

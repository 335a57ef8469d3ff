"""A real `jwtseal serve` process rotating every few seconds: zero failed verifications."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from jwtseal import PublicKeySet, TokenError, Verifier
from tests.servers import serve

ENV = {
    "JWTSEAL_ALGORITHM": "ES256",
    "JWTSEAL_ROTATION_PERIOD": "3",
    "JWTSEAL_TOKEN_TTL": "2",
    "JWTSEAL_MAX_TOKEN_TTL": "2",
    "JWTSEAL_LEEWAY": "1",
    "JWTSEAL_JWKS_MAX_AGE": "1",
    "JWTSEAL_API_KEYS": "live-key",
}


class CachingVerifier:
    """A strict remote verifier: caches the JWKS for exactly its max-age, never refetches early."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.keys = PublicKeySet({})
        self.expires = 0.0
        self.fetches = 0

    def verify(self, token: str) -> None:
        if time.monotonic() >= self.expires:
            response = self.client.get("/.well-known/jwks.json")
            max_age = int(response.headers["cache-control"].rsplit("=", 1)[1])
            self.keys = PublicKeySet.from_document(response.json())
            self.expires = time.monotonic() + max_age
            self.fetches += 1
        Verifier(self.keys, leeway=1).verify(token)


def test_five_rotations_under_load_fail_no_verification(tmp_path: Path) -> None:
    failures: list[str] = []
    kids: set[str] = set()
    checks = 0
    with (
        serve(tmp_path, "--workers", "1", **ENV) as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
    ):
        remote = CachingVerifier(client)
        live: list[tuple[float, str]] = []
        deadline = time.monotonic() + 40
        while len(kids) < 6 and time.monotonic() < deadline:
            issued = client.post("/encode", json={}, headers={"authorization": "Bearer live-key"}).json()
            kids.add(issued["kid"])
            live.append((issued["exp"], issued["token"]))
            live = [(exp, token) for exp, token in live if exp > time.time() + 0.2]
            for _, token in live:
                checks += 1
                answer = client.post("/decode", json={"token": token})
                if answer.status_code != 200:
                    failures.append(f"/decode: {answer.json()['code']}")
                try:
                    remote.verify(token)
                except TokenError as exc:
                    failures.append(f"cached JWKS: {exc.code}")
            time.sleep(0.05)
    print(f"rotations: {len(kids) - 1}, verifications: {2 * checks}, JWKS fetches: {remote.fetches}")
    assert len(kids) >= 6, "fewer than five rotations happened"
    assert failures == []
    assert checks > 100

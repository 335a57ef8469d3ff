"""Verifying in an app against a cached remote JWKS: jwtseal sync and async, local keys, PyJWT.

Run ``.venv/bin/python bench/verify_remote.py`` (``--help`` for options); see bench/README.md.

One pinned core; each case is timed by the thread's CPU time in a tight loop
over a pool of distinct RS256 tokens, cases interleaved in a fresh random
order every round, the best round reported. The JWKS is served once by an
origin on 127.0.0.1 and cached by every verifier before timing starts, so
this measures the hot path of an app: every check, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt as pyjwt

from jwtseal import ClaimsPolicy, Issuer, KeyRing, PublicKeySet, RotationPolicy, TrustedIssuer, Verifier
from jwtseal.stores import FileKeyStore

ISSUER, AUDIENCE, POOL = "https://issuer.example", "api://groceries", 16


def origin_serving(jwks: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=86400")
            self.send_header("Content-Length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


def cases(directory: str) -> dict[str, Callable[[int], None]]:
    keyring = KeyRing(FileKeyStore(directory), RotationPolicy(algorithm="RS256"))
    issuer = Issuer(keyring, ClaimsPolicy(issuer=ISSUER))
    tokens = [issuer.sign({"sub": f"user-{n}", "aud": AUDIENCE, "scope": "lists:read"}) for n in range(POOL)]
    jwks = keyring.view().jwks_json
    server, uri = origin_serving(jwks)
    remote = Verifier(issuers=[TrustedIssuer(ISSUER, jwks_uri=uri)], audience=AUDIENCE)
    local = Verifier(PublicKeySet.from_document(json.loads(jwks)), audience=AUDIENCE)
    client = pyjwt.PyJWKClient(uri, cache_keys=True)
    loop = asyncio.new_event_loop()

    def looped(verify: Callable[[str], object]) -> Callable[[int], None]:
        def run(n: int) -> None:
            for i in range(n):
                verify(tokens[i % POOL])

        return run

    def pyjwt_verify(token: str) -> object:
        key = client.get_signing_key_from_jwt(token)
        return pyjwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    async def averify_many(n: int) -> None:
        for i in range(n):
            await remote.averify(tokens[i % POOL])

    found = {
        "PyJWT PyJWKClient + jwt.decode": looped(pyjwt_verify),
        "jwtseal verify, remote JWKS": looped(remote.verify),
        "jwtseal averify, remote JWKS": lambda n: loop.run_until_complete(averify_many(n)),
        "jwtseal verify, local keys": looped(local.verify),
    }
    for run in found.values():  # warm every cache, prove every case verifies
        run(POOL)
    server.shutdown()  # from here on, nothing may fetch
    return found


def best_rates(found: dict[str, Callable[[int], None]], rounds: int, seconds: float) -> dict[str, float]:
    sizes = {name: calibrate(run, seconds) for name, run in found.items()}
    best = dict.fromkeys(found, 0.0)
    for _ in range(rounds):
        for name in random.sample(list(found), len(found)):
            started = time.thread_time()
            found[name](sizes[name])
            best[name] = max(best[name], sizes[name] / (time.thread_time() - started))
    return best


def calibrate(run: Callable[[int], None], seconds: float) -> int:
    n = 64
    while True:
        started = time.thread_time()
        run(n)
        if time.thread_time() - started >= seconds / 4:
            return max(n, int(n * seconds / (time.thread_time() - started)))
        n *= 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5, help="per case and round")
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin to")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as directory:
        rates = best_rates(cases(directory), args.rounds, args.seconds)
    pyjwt_rate, local_rate = rates["PyJWT PyJWKClient + jwt.decode"], rates["jwtseal verify, local keys"]
    print(f"RS256, one core (cpu {args.cpu}), best of {args.rounds} interleaved rounds, verifications/s")
    print(f"{'case':34} {'per s':>9} {'x PyJWT':>8} {'of local':>9}")
    for name, rate in rates.items():
        print(f"{name:34} {rate:9,.0f} {rate / pyjwt_rate:7.2f}x {rate / local_rate:8.1%}")


if __name__ == "__main__":
    main()

"""A process that verifies tokens through a shared JWKS cache directory, one per stdin line.

The tests start several of these at once to prove what processes share:
``python -m tests.jwks_cache_worker DIRECTORY ISSUER JWKS_URI CLOCK_FILE``.
Every process reads the time from CLOCK_FILE, so a test moves all their
clocks together; each line in is a token, each line out is
``{"sub": ...}`` or ``{"code": ...}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jwtseal import JWKSCache, JwtsealError, TrustedIssuer, Verifier


def main(directory: str, issuer: str, jwks_uri: str, clock_file: str) -> None:
    def clock() -> float:
        return float(Path(clock_file).read_text())

    cache = JWKSCache(directory, clock=clock, min_ttl=10, default_ttl=100, stale_for=1_000, cooldown=30)
    verifier = Verifier(issuers=[TrustedIssuer(issuer, jwks_uri=jwks_uri)], cache=cache, clock=clock)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            answer = {"sub": verifier.verify(line.strip()).subject}
        except JwtsealError as exc:
            answer = {"code": exc.code}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])

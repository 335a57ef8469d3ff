"""Small helpers that build tokens by hand, for tests that need exact bytes.

Nothing here checks anything: the point is to make tokens jwtseal's own issuer
never would (odd headers, odd payloads, foreign signatures) and see how the
verifier answers.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from typing import Any

from jwtseal import PublicKeySet, SigningKey, Verifier, VerifyingKey
from jwtseal.verifier import ANY_AUDIENCE

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
NOW = 1_700_000_000.0


def b64(data: bytes) -> str:
    """Canonical base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    """Lenient decoding, for reading test data only (never for checking tokens)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def as_bytes(part: bytes | dict[str, Any]) -> bytes:
    return part if isinstance(part, bytes) else json.dumps(part, separators=(",", ":")).encode()


def header_for(key: SigningKey, **extra: Any) -> dict[str, Any]:
    """The header jwtseal's issuer would write, plus ``extra`` members."""
    return {"alg": key.alg, "kid": key.kid, "typ": "JWT", **extra}


def sign_segments(key: SigningKey, header_segment: str, payload_segment: str) -> str:
    """A compact token over two already encoded segments, signed with ``key``."""
    signing_input = f"{header_segment}.{payload_segment}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode('ascii')))}"


def sign_raw(key: SigningKey, header: bytes | dict[str, Any], payload: bytes | dict[str, Any]) -> str:
    """Sign arbitrary header and payload bytes (or dicts, compact JSON) with ``key``."""
    return sign_segments(key, b64(as_bytes(header)), b64(as_bytes(payload)))


def sign_claims(key: SigningKey, claims: dict[str, Any], **extra_header: Any) -> str:
    """A well-formed token for ``claims`` with jwtseal's header and ``extra_header``."""
    return sign_raw(key, header_for(key, **extra_header), claims)


def with_signature(token: str, signature: bytes) -> str:
    """``token`` with its signature segment replaced by ``signature``."""
    return f"{token.rsplit('.', 1)[0]}.{b64(signature)}"


def signature_of(token: str) -> bytes:
    return unb64(token.rsplit(".", 1)[1])


@functools.cache
def signing_key(alg: str) -> SigningKey:
    """One key per algorithm for the whole run: RSA generation is slow."""
    return SigningKey.generate(alg)


@functools.cache
def other_signing_key(alg: str) -> SigningKey:
    """A second, unrelated key per algorithm (an attacker's, or a stranger's)."""
    return SigningKey.generate(alg)


def key_set(*keys: SigningKey | VerifyingKey) -> PublicKeySet:
    """The public key set a JWKS of ``keys`` would give."""
    jwks = [key.public.to_jwk() if isinstance(key, SigningKey) else key.to_jwk() for key in keys]
    return PublicKeySet.from_document({"keys": jwks})


def fixed_clock(now: float = NOW) -> Callable[[], float]:
    return lambda: now


def verifier_for(*keys: SigningKey | VerifyingKey, now: float = NOW, leeway: float = 60) -> Verifier:
    """A verifier with /decode's audience rule (checked only when asked), as most token tests want."""
    return Verifier(key_set(*keys), leeway=leeway, clock=fixed_clock(now), audience=ANY_AUDIENCE)

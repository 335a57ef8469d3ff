"""A typical FastAPI JWT service: PyJWT signs, PyJWKClient fetches and caches the JWKS.

Written the way the FastAPI and PyJWT docs show it, neither tuned nor hobbled:
keys generated at start, a bearer check on ``/encode``, and ``/decode``
verifying against a ``PyJWKClient`` per JWKS URI (its own JWKS by default,
fetched over HTTP like any other). ``/decode`` is a plain ``def`` because
``PyJWKClient`` does blocking I/O: FastAPI runs it in its thread pool.

Run in its own venv (``bench/.peer-venv``, see ``bench/peers/requirements.txt``)::

    PEER_ISSUER=http://127.0.0.1:8100 uvicorn fastapi_peer:app --app-dir bench/peers --port 8100

Settings: ``PEER_ISSUER`` (its own base URL), ``PEER_ALGORITHM`` (RS256 or
ES256), ``PEER_API_KEY`` (the bearer key for ``/encode``),
``PEER_TRUSTED_JWKS_URIS`` (comma-separated prefixes a ``jwksUri`` must start with).
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Body, Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import BaseModel

ISSUER = os.environ.get("PEER_ISSUER", "http://127.0.0.1:8000")
ALGORITHM = os.environ.get("PEER_ALGORITHM", "RS256")
API_KEY = os.environ.get("PEER_API_KEY", "change-me")
TRUSTED_JWKS_URIS = [uri for uri in os.environ.get("PEER_TRUSTED_JWKS_URIS", "").split(",") if uri]
TOKEN_TTL = 86_400
OWN_JWKS_URI = f"{ISSUER}/.well-known/jwks.json"
ALLOWED_ALGORITHMS = ["RS256", "ES256"]

if ALGORITHM == "ES256":
    private_key: Any = ec.generate_private_key(ec.SECP256R1())
    public_jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
else:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
KID = str(uuid.uuid4())
JWKS = {"keys": [{**public_jwk, "kid": KID, "alg": ALGORITHM, "use": "sig"}]}

app = FastAPI(title="FastAPI JWT peer")
bearer = HTTPBearer()
jwks_clients: dict[str, jwt.PyJWKClient] = {}


class DecodeRequest(BaseModel):
    token: str
    jwksUri: str | None = None  # noqa: N815 - the contract's field name


def require_api_key(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> None:
    if not secrets.compare_digest(credentials.credentials, API_KEY):
        raise HTTPException(status_code=401, detail="Invalid API key")


def jwks_client(uri: str) -> jwt.PyJWKClient:
    if uri != OWN_JWKS_URI and not any(uri.startswith(prefix) for prefix in TRUSTED_JWKS_URIS):
        raise HTTPException(status_code=400, detail="jwksUri not allowed")
    if uri not in jwks_clients:
        jwks_clients[uri] = jwt.PyJWKClient(uri)
    return jwks_clients[uri]


@app.get("/.well-known/jwks.json")
async def get_jwks() -> dict[str, Any]:
    return JWKS


@app.post("/encode", dependencies=[Depends(require_api_key)])
async def encode(claims: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    now = int(time.time())
    payload = {**claims, "iss": ISSUER, "iat": now, "exp": now + TOKEN_TTL, "jti": str(uuid.uuid4())}
    token = jwt.encode(payload, private_key, algorithm=ALGORITHM, headers={"kid": KID})
    return {"token": token, "kid": KID, "alg": ALGORITHM, "exp": payload["exp"], "jti": payload["jti"]}


@app.post("/decode")
def decode(request: DecodeRequest) -> dict[str, Any]:
    client = jwks_client(request.jwksUri or OWN_JWKS_URI)
    try:
        signing_key = client.get_signing_key_from_jwt(request.token)
        claims: dict[str, Any] = jwt.decode(request.token, signing_key.key, algorithms=ALLOWED_ALGORITHMS)
    except jwt.PyJWTError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from exc
    return claims

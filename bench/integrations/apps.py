"""The benchmarked FastAPI app, one route behind each guard; ``BENCH_GUARD`` picks the guard.

    BENCH_GUARD=jwtseal BENCH_ORIGIN=http://127.0.0.1:PORT \
        uvicorn --factory apps:create_app --app-dir bench/integrations

Every guard checks the same things on the same tokens: RS256 signature by
``kid`` from a cached remote JWKS, ``iss``, ``aud``, ``exp``, ``iat`` and the
scope ``lists:read``; the route answers ``{"sub": ...}``.

- ``jwtseal``: :class:`jwtseal.integrations.fastapi.BearerGuard`, JWKS cached by ``JWKSCache``.
- ``auth0``: auth0-fastapi-api's ``Auth0FastAPI.require_auth`` (OIDC discovery
  and JWKS cached by auth0-api-python); its fetches of ``https://issuer.example``
  are sent to the local origin by the ``custom_fetch`` hook it offers.
- ``none``: the same route with no guard at all, for reference: what FastAPI
  and uvicorn cost alone.
- ``pyjwt``: the common hand-written dependency, ``PyJWKClient`` +
  ``jwt.decode``, a plain ``def`` because ``PyJWKClient`` blocks (FastAPI runs
  it in its thread pool), as in FastAPI and PyJWT's documentation.
"""

import os
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_plugin import Auth0FastAPI

from jwtseal import TrustedIssuer, VerifiedToken, Verifier
from jwtseal.integrations.fastapi import BearerGuard

DOMAIN = "issuer.example"
ISSUER = f"https://{DOMAIN}/"
AUDIENCE = "api://groceries"
SCOPE = "lists:read"


def create_app() -> FastAPI:
    guard = os.environ["BENCH_GUARD"]
    origin = os.environ["BENCH_ORIGIN"]
    makers = {"jwtseal": _jwtseal, "auth0": _auth0, "pyjwt": _pyjwt, "none": _unguarded}
    app = makers[guard](origin)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _jwtseal(origin: str) -> FastAPI:
    issuer = TrustedIssuer(ISSUER, jwks_uri=f"{origin}/.well-known/jwks.json")
    guard = BearerGuard(Verifier(issuers=[issuer], audience=AUDIENCE, algorithms=["RS256"]))
    app = FastAPI(lifespan=guard.lifespan, exception_handlers=guard.exception_handlers)

    @app.get("/me")
    async def me(token: Annotated[VerifiedToken, Security(guard, scopes=[SCOPE])]) -> dict[str, Any]:
        return {"sub": token.subject}

    return app


def _auth0(origin: str) -> FastAPI:
    client = httpx.AsyncClient()

    async def local_fetch(url: str) -> httpx.Response:
        """Send what auth0-api-python fetches from https://issuer.example to the local origin."""
        response = await client.get(url.replace(f"https://{DOMAIN}", origin))
        response.raise_for_status()
        return response

    auth0 = Auth0FastAPI(domain=DOMAIN, audience=AUDIENCE, custom_fetch=local_fetch)
    app = FastAPI()

    @app.get("/me")
    async def me(
        claims: Annotated[dict[str, Any], Depends(auth0.require_auth(scopes=SCOPE))],
    ) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    return app


def _pyjwt(origin: str) -> FastAPI:
    jwks_client = jwt.PyJWKClient(f"{origin}/.well-known/jwks.json")
    bearer = HTTPBearer()
    app = FastAPI()

    def verified(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
        try:
            key = jwks_client.get_signing_key_from_jwt(credentials.credentials)
            claims: dict[str, Any] = jwt.decode(
                credentials.credentials, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"}) from exc
        if SCOPE not in str(claims.get("scope", "")).split():
            raise HTTPException(403, "insufficient scope")
        return claims

    @app.get("/me")
    def me(claims: Annotated[dict[str, Any], Depends(verified)]) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    return app


def _unguarded(origin: str) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me() -> dict[str, Any]:
        return {"sub": "user-7"}

    return app

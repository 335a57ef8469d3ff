"""A Starlette API whose routes need a bearer token; run it with

    JWT_ISSUER=https://issuer.example JWT_AUDIENCE=api://groceries \
        uvicorn --factory examples.starlette_app:create_app

JWT_ISSUER is the issuer as tokens name it in ``iss``, JWT_AUDIENCE this API as
tokens name it in ``aud``; JWT_JWKS_URI is the issuer's key set (without it,
it is found through the issuer's /.well-known/openid-configuration).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jwtseal import TrustedIssuer, Verifier
from jwtseal.integrations.starlette import BearerBackend


def create_app(environ: Mapping[str, str] = os.environ) -> Starlette:
    issuer = TrustedIssuer(environ["JWT_ISSUER"], jwks_uri=environ.get("JWT_JWKS_URI"))
    verifier = Verifier(issuers=[issuer], audience=environ["JWT_AUDIENCE"])
    backend = BearerBackend(verifier)

    @backend.requires()
    async def me(request: Request) -> Response:
        token = request.user.token
        body = {"subject": token.subject, "scopes": sorted(token.scopes), "claims": token.claims}
        return JSONResponse(body)

    @backend.requires("lists:write")
    async def create_list(request: Request) -> Response:
        return JSONResponse({"owner": request.user.token.subject}, status_code=201)

    routes = [Route("/me", me), Route("/lists", create_list, methods=["POST"])]
    return Starlette(routes=routes, middleware=[backend.middleware()], lifespan=backend.lifespan)

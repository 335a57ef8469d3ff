"""A FastAPI API whose routes need a bearer token; run it with

    JWT_ISSUER=https://issuer.example JWT_AUDIENCE=api://groceries \
        uvicorn --factory examples.fastapi_app:create_app

JWT_ISSUER is the issuer as tokens name it in ``iss``, JWT_AUDIENCE this API as
tokens name it in ``aud``; JWT_JWKS_URI is the issuer's key set (without it,
it is found through the issuer's /.well-known/openid-configuration).
"""

import os
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security

from jwtseal import TrustedIssuer, VerifiedToken, Verifier
from jwtseal.integrations.fastapi import BearerGuard


def create_app(environ: Mapping[str, str] = os.environ) -> FastAPI:
    issuer = TrustedIssuer(environ["JWT_ISSUER"], jwks_uri=environ.get("JWT_JWKS_URI"))
    verifier = Verifier(issuers=[issuer], audience=environ["JWT_AUDIENCE"])
    guard = BearerGuard(verifier)
    app = FastAPI(lifespan=guard.lifespan, exception_handlers=guard.exception_handlers)

    @app.get("/me")
    async def me(token: Annotated[VerifiedToken, Depends(guard)]) -> dict[str, Any]:
        return {"subject": token.subject, "scopes": sorted(token.scopes), "claims": token.claims}

    @app.post("/lists", status_code=201)
    async def create_list(
        token: Annotated[VerifiedToken, Security(guard, scopes=["lists:write"])],
    ) -> dict[str, Any]:
        return {"owner": token.subject}

    return app

"""A Flask API whose views need a bearer token; run it under a WSGI server, e.g.

    JWT_ISSUER=https://issuer.example JWT_AUDIENCE=api://groceries \
        waitress-serve --call examples.flask_app:create_app

JWT_ISSUER is the issuer as tokens name it in ``iss``, JWT_AUDIENCE this API as
tokens name it in ``aud``; JWT_JWKS_URI is the issuer's key set (without it,
it is found through the issuer's /.well-known/openid-configuration).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from jwtseal import TrustedIssuer, Verifier
from jwtseal.integrations.flask import current_token, hydrate, require_token


def create_app(environ: Mapping[str, str] = os.environ) -> Flask:
    issuer = TrustedIssuer(environ["JWT_ISSUER"], jwks_uri=environ.get("JWT_JWKS_URI"))
    verifier = Verifier(issuers=[issuer], audience=environ["JWT_AUDIENCE"])
    hydrate(verifier)
    app = Flask(__name__)

    @app.get("/me")
    @require_token(verifier)
    def me() -> dict[str, Any]:
        token = current_token()
        return {"subject": token.subject, "scopes": sorted(token.scopes), "claims": token.claims}

    @app.post("/lists")
    @require_token(verifier, scopes=["lists:write"])
    def create_list() -> tuple[dict[str, Any], int]:
        return {"owner": current_token().subject}, 201

    return app

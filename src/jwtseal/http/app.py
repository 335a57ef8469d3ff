"""The HTTP service: ``create_app(settings)`` builds the ASGI application.

Routes parse input, call the library, and render output; no crypto, claims
policy or caching lives here.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from .._json import loads_object
from ..apikeys import ApiKeys
from ..errors import InvalidRequest, Unauthorized
from ..service import Service
from ..settings import Settings
from .asgi import Request, Response, Router
from .openapi import openapi_document

__all__ = ["create_app"]


def _json_response(value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(200, json.dumps(value, separators=(",", ":")).encode(), headers=headers or [])


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        InvalidRequest: not JSON, or not an object.
    """
    try:
        return loads_object(await request.body())
    except ValueError as exc:
        raise InvalidRequest("The body must be a JSON object.") from exc


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name!r} must be a string.")
    return value


class Endpoints:
    """The handlers of one service; each is an ``async (Request) -> Response``."""

    def __init__(self, service: Service, api_keys: ApiKeys) -> None:
        self.service = service
        self.api_keys = api_keys
        self.cache_control = f"public, max-age={service.settings.jwks_max_age}".encode()
        self.openapi = json.dumps(openapi_document(__version__)).encode()

    async def jwks(self, request: Request) -> Response:
        view = self.service.keyring.view()
        etag = view.etag.encode()
        headers = [(b"cache-control", self.cache_control), (b"etag", etag)]
        if _etag_matches(request.header(b"if-none-match"), etag):
            return Response(304, b"", headers=headers)
        return Response(200, view.jwks_json, headers=headers)

    async def openid_configuration(self, request: Request) -> Response:
        settings = self.service.settings
        keys = self.service.keyring.view().keyset.keys
        document = {
            "issuer": settings.issuer,
            "jwks_uri": settings.jwks_uri,
            "id_token_signing_alg_values_supported": sorted({record.public.alg for record in keys}),
        }
        return _json_response(document, [(b"cache-control", self.cache_control)])

    async def encode(self, request: Request) -> Response:
        self._authorize(request.header(b"authorization"))
        issued = self.service.issuer.issue(await _json_object(request))
        claims = issued.claims
        body = {
            "token": issued.token,
            "kid": issued.kid,
            "alg": issued.alg,
            "exp": claims["exp"],
            "jti": claims["jti"],
        }
        return _json_response(body)

    async def decode(self, request: Request) -> Response:
        body = await _json_object(request)
        token = body.get("token")
        if not isinstance(token, str):
            raise InvalidRequest("'token' is required and must be a string.")
        jwks_uri = _optional_string(body, "jwksUri")
        audience = _optional_string(body, "audience")
        issuer = _optional_string(body, "issuer")
        if jwks_uri is None or jwks_uri == self.service.settings.jwks_uri:
            claims = self.service.verifier.verify(token, audience=audience, issuer=issuer)
        else:
            claims = await self.service.verify_remote(token, jwks_uri, audience=audience, issuer=issuer)
        return _json_response(claims)

    async def healthz(self, request: Request) -> Response:
        view = self.service.keyring.view()
        return _json_response({"status": "ok", "kid": view.signing_key.kid})

    async def openapi_json(self, request: Request) -> Response:
        return Response(200, self.openapi)

    def _authorize(self, header: bytes | None) -> None:
        scheme, _, key = (header or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not self.api_keys.check(key.strip()):
            raise Unauthorized


def _etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if if_none_match is None:
        return False
    candidates = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
    return etag in candidates or b"*" in candidates


def create_app(
    settings: Settings, *, service: Service | None = None, api_keys: ApiKeys | None = None
) -> Router:
    """The ASGI application for ``settings``.

    Raises:
        KeyStoreError: the key store is unreadable or corrupt.
    """
    service = service or Service.open(settings)
    if api_keys is None:
        api_keys = (
            ApiKeys.from_keys(settings.api_keys)
            if settings.api_keys
            else ApiKeys.from_store(service.keyring.store)[0]
        )
    endpoints = Endpoints(service, api_keys)
    return Router(
        {
            "/.well-known/jwks.json": {"GET": endpoints.jwks},
            "/.well-known/openid-configuration": {"GET": endpoints.openid_configuration},
            "/encode": {"POST": endpoints.encode},
            "/decode": {"POST": endpoints.decode},
            "/healthz": {"GET": endpoints.healthz},
            "/openapi.json": {"GET": endpoints.openapi_json},
        }
    )

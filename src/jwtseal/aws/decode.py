"""``POST /decode`` on Lambda: the library's remote JWKS verifier, nothing private.

Without ``jwksUri`` the service's own published JWKS is used
(``JWTSEAL_ISSUER`` + ``/.well-known/jwks.json``), fetched over HTTPS like
anyone else's: this function's role can read neither the secret nor the
bucket. The verifier and its event loop live as long as the warm container,
so its JWKS cache (``Cache-Control`` honoured, refetch once per cooldown on
an unknown ``kid``) survives between invocations; it needs no event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .._token import finish, inspect
from ..errors import InvalidRequest
from ..jwks_cache import JWKSCache
from ..service import jwks_cache
from ..settings import Settings
from ._events import ApiRequest, Entry, Event, LambdaResponse, json_response, respond

__all__ = ["DecodeHandler", "handler"]


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name!r} must be a string.")
    return value


class DecodeHandler:
    """Verifies a token against a JWKS URI and answers its claims."""

    def __init__(
        self, settings: Settings, remote: JWKSCache, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.remote = remote
        self._clock = clock

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DecodeHandler:
        """Raises SettingsError: a variable is not valid."""
        settings = Settings.load(environ)
        return cls(settings, jwks_cache(settings, shared=False))

    def __call__(self, event: Event, context: object = None) -> LambdaResponse:
        return respond(self._decode, event)

    def close(self) -> None:
        """Nothing to release: every fetch opens and closes its own connection."""

    def _decode(self, request: ApiRequest) -> LambdaResponse:
        body = request.json()
        token = body.get("token")
        if not isinstance(token, str):
            raise InvalidRequest("'token' is required and must be a string.")
        jwks_uri = _optional_string(body, "jwksUri") or self.settings.jwks_uri
        audience, issuer = _optional_string(body, "audience"), _optional_string(body, "issuer")
        unverified = inspect(token)  # junk is refused before any fetch
        key = self.remote.find(jwks_uri, unverified.kid)
        claims = finish(
            unverified, key, now=self._clock(), leeway=self.settings.leeway, audience=audience, issuer=issuer
        )
        return json_response(claims)


handler = Entry(DecodeHandler.from_environ)

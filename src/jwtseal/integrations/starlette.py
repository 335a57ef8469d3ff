"""A Starlette authentication backend that verifies bearer tokens, and the scope check of a route.

    backend = BearerBackend(verifier)
    app = Starlette(routes=routes, middleware=[backend.middleware()], lifespan=backend.lifespan)

    @backend.requires("lists:write")
    async def create_list(request: Request) -> Response:
        token: VerifiedToken = request.user.token

The backend runs in Starlette's ``AuthenticationMiddleware``: a request with
no bearer token goes on unauthenticated (public routes stay public), a good
token makes ``request.user`` a :class:`TokenUser` and ``request.auth.scopes``
the token's scopes, and a refused token, or keys that cannot be had, is
answered by ``on_error`` as RFC 6750 asks. A route demands a token and scopes
with :meth:`BearerBackend.requires`: 401 with ``WWW-Authenticate: Bearer``
without a token, 403 ``insufficient_scope`` naming the scopes. Starlette's own
``requires()`` also sees the scopes but answers a bare 403 (or a redirect).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

try:
    from starlette.applications import Starlette
    from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
except ImportError as exc:
    raise ImportError(
        "jwtseal.integrations.starlette needs Starlette: pip install 'jwtseal[starlette]'"
    ) from exc

from ..errors import InsufficientScope, JwtsealError
from ..verified import VerifiedToken
from ..verifier import Verifier
from ._rfc6750 import PROBLEM_MEDIA_TYPE, Challenge, Refusal, bearer_token
from ._startup import ahydrate

__all__ = ["BearerBackend", "BearerRefusedError", "Endpoint", "TokenUser"]

Endpoint = Callable[[Request], Awaitable[Response]]


class TokenUser(BaseUser):
    """``request.user`` of a request whose token verified; ``token`` is the :class:`VerifiedToken`."""

    def __init__(self, token: VerifiedToken) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.token.subject or ""

    @property
    def identity(self) -> str:
        return self.token.subject or ""


class BearerRefusedError(AuthenticationError):
    """Raised by the backend for a refused token; ``refusal`` is the whole answer ``on_error`` sends."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


class BearerBackend(AuthenticationBackend):
    """Authenticates ``Authorization: Bearer`` with one :class:`Verifier`.

    ``realm`` goes into every challenge; ``retry_after`` is the ``Retry-After``
    of a 503, in seconds.

    Raises:
        ValueError: ``realm`` or ``retry_after`` cannot be sent (see :class:`Challenge`).
    """

    def __init__(self, verifier: Verifier, *, realm: str | None = None, retry_after: int = 30) -> None:
        self.verifier = verifier
        self._challenge = Challenge(realm, retry_after)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """The token's scopes and user, or None when the request carries no bearer token.

        Raises:
            BearerRefusedError: the token was refused, or keys cannot be had.
        """
        raw = bearer_token(conn.headers.get("authorization"))
        if raw is None:
            return None
        try:
            token = await self.verifier.averify(raw)
        except JwtsealError as error:
            raise BearerRefusedError(self._challenge.refuse(error)) from error
        return AuthCredentials(sorted(token.scopes)), TokenUser(token)

    @staticmethod
    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        """``AuthenticationMiddleware``'s ``on_error``: the RFC 6750 answer of the refusal."""
        assert isinstance(exc, BearerRefusedError), "on_error serves BearerBackend's refusals"
        return _response(exc.refusal)

    def middleware(self) -> Middleware:
        """Starlette's ``AuthenticationMiddleware`` with this backend and its ``on_error``."""
        return Middleware(AuthenticationMiddleware, backend=self, on_error=self.on_error)

    def requires(self, *scopes: str) -> Callable[[Endpoint], Endpoint]:
        """Decorate an ``async def endpoint(request)`` that needs a verified token with all of ``scopes``.

        Without a verified token (none sent, or no middleware) the answer is
        401 with a bare challenge; with one that lacks a scope, 403
        ``insufficient_scope`` naming ``scopes``.
        """
        required = frozenset(scopes)

        def decorate(endpoint: Endpoint) -> Endpoint:
            @functools.wraps(endpoint)
            async def guarded(request: Request) -> Response:
                refusal = self._refusal(request, required)
                return await endpoint(request) if refusal is None else _response(refusal)

            return guarded

        return decorate

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """For ``Starlette(lifespan=...)``: fetch the issuers' keys before the first request.

        A failure is logged and does not stop the start: requests get 503
        until the keys can be had (see ``jwtseal.integrations._startup``).
        """
        await ahydrate(self.verifier)
        yield

    def _refusal(self, request: Request, required: frozenset[str]) -> Refusal | None:
        user = request.scope.get("user")
        if not isinstance(user, TokenUser):
            return self._challenge.missing_token()
        missing = required - user.token.scopes
        return self._challenge.refuse(InsufficientScope(missing), required) if missing else None


def _response(refusal: Refusal) -> Response:
    headers = dict(refusal.headers)
    return Response(refusal.body, refusal.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)

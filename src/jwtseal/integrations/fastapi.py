"""A FastAPI dependency that verifies the bearer token: ``Depends(guard)``, ``Security(guard, ...)``.

    guard = BearerGuard(verifier)
    app = FastAPI(lifespan=guard.lifespan, exception_handlers=guard.exception_handlers)

    @app.post("/lists")
    async def create(token: Annotated[VerifiedToken, Security(guard, scopes=["lists:write"])]): ...

The guard is a :class:`fastapi.security.base.SecurityBase`, so OpenAPI shows
the bearer scheme and each route's scopes. It awaits
:meth:`Verifier.averify` with the scopes FastAPI collects for the route, and
refuses by raising :class:`BearerRefused`, an ``HTTPException`` with the
status and ``WWW-Authenticate`` of RFC 6750; ``guard.exception_handlers``
turns it into jwtseal's problem+json body (without them, FastAPI's own
``{"detail": ...}`` body is sent, with the same status and headers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

try:
    from fastapi import FastAPI, HTTPException, Request, Response
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
except ImportError as exc:
    raise ImportError("jwtseal.integrations.fastapi needs FastAPI: pip install 'jwtseal[fastapi]'") from exc

from ..errors import JwtsealError
from ..verified import VerifiedToken
from ..verifier import Verifier
from ._rfc6750 import PROBLEM_MEDIA_TYPE, Challenge, Refusal, bearer_token
from ._startup import ahydrate

__all__ = ["BearerGuard", "BearerRefused", "problem_response"]

ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


class BearerRefused(HTTPException):
    """A request refused by a :class:`BearerGuard`; ``refusal`` holds the whole answer."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.status, detail=refusal.detail, headers=dict(refusal.headers))
        self.refusal = refusal


async def problem_response(request: Request, exc: BearerRefused) -> Response:
    """The exception handler that answers a :class:`BearerRefused` with its problem+json body."""
    refusal = exc.refusal
    headers = dict(refusal.headers)
    return Response(refusal.body, refusal.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


class BearerGuard(SecurityBase):
    """Verifies ``Authorization: Bearer`` with one :class:`Verifier`; returns the :class:`VerifiedToken`.

    ``realm`` goes into every challenge; ``retry_after`` is the ``Retry-After``
    of a 503, in seconds. ``scheme_name`` and ``description`` are OpenAPI's.

    Raises:
        ValueError: ``realm`` or ``retry_after`` cannot be sent (see :class:`Challenge`).
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str | None = None,
        retry_after: int = 30,
        scheme_name: str = "bearer",
        description: str | None = None,
    ) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=description)
        self.scheme_name = scheme_name
        self.verifier = verifier
        self._challenge = Challenge(realm, retry_after)

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> VerifiedToken:
        """The verified token of this request, with every scope the route's ``Security`` names.

        Raises:
            BearerRefused: no token, a refused token, a missing scope, or keys unavailable.
        """
        raw = bearer_token(request.headers.get("authorization"))
        if raw is None:
            raise BearerRefused(self._challenge.missing_token())
        try:
            return await self.verifier.averify(raw, scopes=security_scopes.scopes)
        except JwtsealError as error:
            raise BearerRefused(self._challenge.refuse(error, security_scopes.scopes)) from error

    @property
    def exception_handlers(self) -> dict[int | type[Exception], ExceptionHandler]:
        """For ``FastAPI(exception_handlers=...)``: refusals answered as problem+json."""
        return {BearerRefused: problem_response}

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """For ``FastAPI(lifespan=...)``: fetch the issuers' keys before the first request.

        A failure is logged and does not stop the start: requests get 503
        until the keys can be had (see ``jwtseal.integrations._startup``).
        """
        await ahydrate(self.verifier)
        yield

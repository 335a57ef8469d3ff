"""A Flask decorator that verifies the request's bearer token: ``@require_token(verifier, scopes=[...])``.

    @app.post("/lists")
    @require_token(verifier, scopes=["lists:write"])
    def create_list():
        token = current_token()

It calls the synchronous :meth:`Verifier.verify` (a fetch blocks only this
request's thread, and threads missing the same keys share one fetch), puts
the :class:`VerifiedToken` on ``flask.g.verified_token``, and answers a
refusal as RFC 6750 asks, with jwtseal's problem+json body. Call
:func:`hydrate` once when the app is made to fetch the keys before the first
request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec

try:
    from flask import Response, g, request
    from flask.typing import ResponseReturnValue
except ImportError as exc:
    raise ImportError("jwtseal.integrations.flask needs Flask: pip install 'jwtseal[flask]'") from exc

from ..errors import JwtsealError
from ..verified import VerifiedToken
from ..verifier import Verifier
from ._rfc6750 import PROBLEM_MEDIA_TYPE, Challenge, Refusal, bearer_token
from ._startup import hydrate

__all__ = ["current_token", "hydrate", "require_token"]

P = ParamSpec("P")
View = Callable[P, ResponseReturnValue]


def require_token(
    verifier: Verifier,
    *,
    scopes: Iterable[str] = (),
    realm: str | None = None,
    retry_after: int = 30,
) -> Callable[[View[P]], View[P]]:
    """A decorator for views that need a verified token carrying every one of ``scopes``.

    ``realm`` goes into every challenge; ``retry_after`` is the ``Retry-After``
    of a 503, in seconds.

    Raises:
        ValueError: ``realm`` or ``retry_after`` cannot be sent (see :class:`Challenge`).
    """
    challenge = Challenge(realm, retry_after)
    required = tuple(scopes)

    def decorate(view: View[P]) -> View[P]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            raw = bearer_token(request.headers.get("Authorization"))
            if raw is None:
                return _response(challenge.missing_token())
            try:
                g.verified_token = verifier.verify(raw, scopes=required)
            except JwtsealError as error:
                return _response(challenge.refuse(error, required))
            return view(*args, **kwargs)

        return guarded

    return decorate


def current_token() -> VerifiedToken:
    """The verified token of this request, inside a view decorated with :func:`require_token`.

    Raises:
        RuntimeError: outside such a view (no token was verified for this request).
    """
    token: VerifiedToken | None = g.get("verified_token")
    if token is None:
        raise RuntimeError("no verified token: the view is not decorated with require_token")
    return token


def _response(refusal: Refusal) -> Response:
    headers = dict(refusal.headers)
    return Response(refusal.body, refusal.status, headers=headers, mimetype=PROBLEM_MEDIA_TYPE)

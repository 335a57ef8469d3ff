"""Requests, responses and the path router, independent of the socket layer.

jwtseal has a dozen routes and no middleware, so it keeps this small layer
instead of a framework: measured on one core, Starlette's routing alone cost
more than everything jwtseal does to answer ``GET /.well-known/jwks.json``.

Handlers return a :class:`Response`, or an awaitable of one when they need
I/O (a remote JWKS fetch): answers that need no I/O are written without an
``asyncio`` task per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from ..errors import JwtsealError, SigningUnavailable, Unauthorized
from .failures import log_failure
from .journal import Journal
from .problems import Problem, problem, problem_for

__all__ = [
    "MAX_BODY",
    "UNMATCHED",
    "Answer",
    "Deferred",
    "Facts",
    "Handler",
    "Request",
    "Response",
    "Router",
    "error_response",
    "log_failure",
    "shared_facts",
]

MAX_BODY: Final = 65_536
JSON: Final = b"application/json"
PROBLEM_JSON: Final = b"application/problem+json"
UNMATCHED: Final = "unmatched"


@dataclass(slots=True)
class Request:
    """One complete HTTP request; ``headers`` maps lower-case names to their first value.

    ``keep_alive`` and ``http10`` tell the server how the connection goes on
    after the answer.
    """

    method: str
    path: str
    headers: dict[bytes, bytes]
    body: bytes = b""
    keep_alive: bool = True
    http10: bool = False

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header; ``name`` in lower case."""
        return self.headers.get(name)


class Facts(dict[str, str]):
    """What the logs and metrics learn of an answer: problem ``code``, ``kid``, ``alg``.

    Made once per content by :func:`shared_facts` and shared by every answer
    that has them; read-only by contract. Hashed by identity, so observers
    key their caches and counts on it at the cost of a pointer.
    """

    __slots__ = ()
    __hash__ = object.__hash__  # type: ignore[assignment]


@lru_cache(maxsize=1024)
def shared_facts(**members: str) -> Facts:
    """The one :class:`Facts` of these members (two may exist for one content after it left the cache)."""
    return Facts(members)


def _no_facts() -> Facts:
    return shared_facts()


@dataclass(slots=True)
class Response:
    """An answer, plus ``facts`` about it (problem ``code``, ``kid``, ``alg``) for logs and metrics.

    The server and the observers only read it, so a handler may hand out one
    instance again and again (the JWKS does). Make ``facts`` with
    :func:`shared_facts`, so that answers share them.
    """

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    facts: Facts = field(default_factory=_no_facts)
    _header_lines: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def header_lines(self) -> bytes:
        """``headers`` as HTTP/1.1 lines, formatted once per response."""
        if self._header_lines is None:
            self._header_lines = b"".join(b"%s: %s\r\n" % pair for pair in self.headers)
        return self._header_lines

    @classmethod
    def problem(cls, answer: Problem, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
        return cls(answer.status, answer.body, PROBLEM_JSON, headers or [], shared_facts(code=answer.code))


class Deferred:
    """An answer given later in this event-loop turn, without a task per request.

    See :class:`~jwtseal.http.batch.CryptoBatch`: the server registers what to
    do with the answer (:meth:`then`) as soon as the handler returns, and the
    batch resolves it after the cryptography of every request read in this
    turn has run.
    """

    __slots__ = ("_callback", "_context")  # set by then(); no __init__: one call less per request

    _callback: Callable[..., None]
    _context: tuple[Any, ...]

    def then(self, callback: Callable[..., None], *context: Any) -> None:
        """Call ``callback(response, *context)`` with the answer (no closure per request)."""
        self._callback = callback
        self._context = context

    def resolve(self, response: Response) -> None:
        self._callback(response, *self._context)  # the server calls then() before the batch runs


Answer = Response | Deferred | Awaitable[Response]
_GIVEN_NOW: Final = (Response, Deferred)  # a tuple: ``Response | Deferred`` would build a union per request
Handler = Callable[[Request], Answer]
Job = Callable[[], Coroutine[Any, Any, None]]

_NOT_FOUND: Final = problem(404, "not_found", "There is nothing at this path.")
_NOT_ALLOWED: Final = problem(405, "method_not_allowed", "This path does not take that method.")


class Router:
    """Exact-path routing to one handler per method; 404 and 405 as problems.

    ``background`` coroutines run for the life of the server (cancelled at
    shutdown, in order): work kept off the request path. The ``journal``
    records every answered request for its observers (logs, metrics) and is
    flushed by the first background job, so its last batch is taken before
    the other jobs stop; unknown paths are reported as one route, so random
    URLs cannot grow label sets.
    """

    def __init__(
        self,
        routes: Mapping[str, Mapping[str, Handler]],
        background: Sequence[Job] = (),
        journal: Journal | None = None,
    ) -> None:
        self._routes = {path: dict(methods) for path, methods in routes.items()}
        self.journal = journal or Journal()
        self.background = (self.journal.run, *background)

    def route(self, request: Request) -> tuple[str, Answer]:
        """The route label for metrics, and the handler's answer (a problem for any jwtseal error)."""
        methods = self._routes.get(request.path)
        if methods is None:
            return UNMATCHED, Response.problem(_NOT_FOUND)
        handler = methods.get(request.method)
        if handler is None and request.method == "HEAD":
            handler = methods.get("GET")  # the protocol leaves the body out
        if handler is None:
            allow = ", ".join(methods).encode()
            return request.path, Response.problem(_NOT_ALLOWED, [(b"allow", allow)])
        try:
            answer = handler(request)
        except Exception as exc:
            return request.path, error_response(exc, request.path)
        if isinstance(answer, _GIVEN_NOW):
            return request.path, answer
        return request.path, _settle(answer, request.path)


async def _settle(answer: Awaitable[Response], path: str) -> Response:
    try:
        return await answer
    except Exception as exc:
        return error_response(exc, path)


def error_response(exc: Exception, path: str) -> Response:
    """jwtseal's errors become their problem; anything else a bare 500 problem, details in the log."""
    if isinstance(exc, Unauthorized):
        return Response.problem(problem_for(exc), [(b"www-authenticate", b"Bearer")])
    if isinstance(exc, SigningUnavailable):
        return Response.problem(problem_for(exc), [(b"retry-after", b"%d" % exc.retry_after)])
    if isinstance(exc, JwtsealError):
        return Response.problem(problem_for(exc))
    log_failure("unhandled error", exc, path)
    return Response.problem(problem(500, "jwtseal_error", "The service failed to answer."))

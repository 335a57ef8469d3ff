"""API Gateway REST proxy events in, Lambda proxy responses out.

Errors are rendered exactly as the local service renders them: the
problem+json bodies of :mod:`jwtseal.http.problems`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .._json import loads_object
from ..errors import InvalidRequest, JwtsealError, PayloadTooLarge, SigningUnavailable, Unauthorized
from ..http.problems import Problem, problem, problem_for
from ..http.routing import MAX_BODY
from ..settings import environment

__all__ = ["MAX_BODY", "ApiRequest", "Entry", "LambdaResponse", "json_response", "respond"]

logger = logging.getLogger("jwtseal.aws")

LambdaResponse = dict[str, Any]
Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """The parts of a REST proxy event a handler reads: headers and body."""

    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def of(cls, event: Event) -> ApiRequest:
        """Raises PayloadTooLarge or InvalidRequest (a body that is not valid base64)."""
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidRequest("The body is not valid base64.") from exc
        else:
            body = raw.encode("utf-8", "surrogatepass")
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"The request body may be at most {MAX_BODY} bytes.")
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        return cls(headers, body)

    def header(self, name: str) -> str | None:
        """A header by its lower-case name (API Gateway keeps the client's case)."""
        return self.headers.get(name)

    def json(self) -> dict[str, Any]:
        """Raises InvalidRequest: the body is not a JSON object."""
        try:
            return loads_object(self.body)
        except ValueError as exc:
            raise InvalidRequest("The body must be a JSON object.") from exc


def json_response(value: Any) -> LambdaResponse:
    body = json.dumps(value, separators=(",", ":"))
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
    }


def problem_response(answer: Problem, headers: Mapping[str, str] | None = None) -> LambdaResponse:
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/problem+json", **(headers or {})},
        "body": answer.body.decode(),
        "isBase64Encoded": False,
    }


def respond(handle: Callable[[ApiRequest], LambdaResponse], event: Event) -> LambdaResponse:
    """Run ``handle``; every failure becomes a problem, never a stack trace."""
    try:
        return handle(ApiRequest.of(event))
    except Unauthorized as exc:
        return problem_response(problem_for(exc), {"WWW-Authenticate": "Bearer"})
    except SigningUnavailable as exc:
        return problem_response(problem_for(exc), {"Retry-After": str(exc.retry_after)})
    except JwtsealError as exc:
        return problem_response(problem_for(exc))
    except Exception:  # a bug: logged whole for the operator, opaque for the caller
        logger.exception("unexpected error")
        return problem_response(problem(500, "jwtseal_error", "The request failed."))


class Handler(Protocol):
    def __call__(self, event: Event, context: object = None) -> Any: ...

    def close(self) -> None: ...


H = TypeVar("H", bound=Handler)


class Entry(Generic[H]):
    """The Lambda entry point: builds its handler from the environment once per container.

    What the handler holds (clients, caches) lives as long as the warm
    container, which is what makes those caches pay.
    """

    def __init__(self, build: Callable[[Mapping[str, str]], H]) -> None:
        self._build = build
        self._handler: H | None = None

    @property
    def handler(self) -> H:
        if self._handler is None:
            self._handler = self._build(environment())
        return self._handler

    def __call__(self, event: Event, context: object = None) -> Any:
        return self.handler(event, context)

    def close(self) -> None:
        """Release the handler's clients; the next event builds a new one."""
        if self._handler is not None:
            self._handler.close()
            self._handler = None

"""RFC 9457 problem details: the one place where error codes meet HTTP statuses."""

from __future__ import annotations

import json
from http import HTTPStatus
from types import MappingProxyType
from typing import Final, NamedTuple

from ..errors import JwtsealError

__all__ = ["STATUS_BY_CODE", "Problem", "problem", "problem_for"]

STATUS_BY_CODE: Final = MappingProxyType(
    {
        "invalid_request": 400,
        "reserved_claim": 400,
        "ttl_too_long": 400,
        "invalid_claim": 400,
        "unauthorized": 401,
        "malformed_token": 401,
        "missing_kid": 401,
        "unknown_kid": 401,
        "alg_not_allowed": 401,
        "bad_signature": 401,
        "expired": 401,
        "not_yet_valid": 401,
        "invalid_audience": 401,
        "invalid_issuer": 401,
        "invalid_token": 401,
        "jwks_uri_not_allowed": 400,
        "jwks_unavailable": 502,
        "jwks_error": 502,
        "invalid_key": 502,
        "payload_too_large": 413,
        "not_found": 404,
        "method_not_allowed": 405,
        "key_store_error": 503,
        "signing_unavailable": 503,
        "jwtseal_error": 500,
    }
)


class Problem(NamedTuple):
    status: int
    code: str
    body: bytes


def problem(status: int, code: str, detail: str) -> Problem:
    """A problem+json body; ``title`` is the status phrase, as ``about:blank`` asks."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return Problem(status, code, json.dumps(body).encode())


def problem_for(error: JwtsealError) -> Problem:
    """The problem for any jwtseal error (every class's code is in the table)."""
    return problem(STATUS_BY_CODE[error.code], error.code, error.detail)

"""RFC 6750 answers, shared by every framework guard so that all three send the same bytes.

A guard reads the bearer token with :func:`bearer_token`, calls the verifier,
and on any refusal sends what :class:`Challenge` builds:

- no token: 401 with ``WWW-Authenticate: Bearer`` and no error code
  (RFC 6750 section 3.1: a request without credentials learns only the scheme);
- a refused token: 401, ``error="invalid_token"`` and the refusal's detail;
- a valid token without a scope the route needs: 403,
  ``error="insufficient_scope"`` and ``scope``, the scopes the route needs;
- keys that cannot be had and no stale ones left: 503 with ``Retry-After`` and
  no challenge, since the token may well be good and a 401 tells a client to
  throw it away;
- any other failure of jwtseal (a JWKS URI its own guard refuses, an
  unreadable key store) is the application's fault: logged, and a 500.

Every body is ``application/problem+json`` (RFC 9457) with API.md's ``code``,
as jwtseal's own service answers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import MappingProxyType
from typing import Final

from ..errors import InsufficientScope, JwksUnavailable, JwtsealError, TokenError

__all__ = ["PROBLEM_MEDIA_TYPE", "Challenge", "Refusal", "bearer_token"]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
MAX_DESCRIPTION: Final = 200
MISSING_TOKEN_DETAIL: Final = "A bearer token is required."  # noqa: S105 - a message, not a secret
SERVER_FAULT_DETAIL: Final = "The token could not be checked: the server's key configuration failed."
# RFC 6750 section 3: error_description and scope values exclude '"' and '\' and
# anything outside printable ASCII, so nothing in them needs escaping.
_OUTSIDE_QUOTABLE: Final = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

logger = logging.getLogger("jwtseal.integrations")


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer`` header, or None when there is no bearer token.

    The scheme is case-insensitive (RFC 9110 section 11.1); another scheme
    (``Basic``) counts as no token. An empty or junk token is returned as is,
    for the verifier to refuse as ``malformed_token``, which also bounds its size.
    """
    if authorization is None:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


@dataclass(frozen=True, slots=True)
class Refusal:
    """One answer that refuses a request: status, headers and a problem+json body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class Challenge:
    """How one guard refuses: its ``realm`` (optional) and the ``Retry-After`` of a 503, in seconds.

    Raises:
        ValueError: the realm has characters a quoted string cannot carry,
            or ``retry_after`` is negative.
    """

    realm: str | None = None
    retry_after: int = 30

    def __post_init__(self) -> None:
        if self.realm is not None and _OUTSIDE_QUOTABLE.search(self.realm):
            raise ValueError("realm must be printable ASCII without '\"' or '\\'")
        if self.retry_after < 0:
            raise ValueError("retry_after must be a number of seconds, 0 or more")

    def missing_token(self) -> Refusal:
        """401 for a request that carries no bearer token at all."""
        return self._answer(401, "unauthorized", MISSING_TOKEN_DETAIL, self._challenge())

    def refuse(self, error: JwtsealError, scopes: Iterable[str] = ()) -> Refusal:
        """The answer for any error of the verifier; ``scopes`` are the ones the route asked for."""
        if isinstance(error, InsufficientScope):
            # A name RFC 6749 section 3.3 does not allow is left out of the header.
            names = {*scopes, *error.missing}
            needed = " ".join(sorted(name for name in names if _SCOPE_TOKEN.fullmatch(name)))
            header = self._challenge(("insufficient_scope", error.detail), scope=needed)
            return self._answer(403, error.code, error.detail, header)
        if isinstance(error, TokenError):
            header = self._challenge(("invalid_token", error.detail))
            return self._answer(401, error.code, error.detail, header)
        if isinstance(error, JwksUnavailable):
            return self._answer(503, error.code, error.detail, {"Retry-After": str(self.retry_after)})
        logger.error("token check failed on the server's side: %s: %s", error.code, error.detail)
        return self._answer(500, error.code, SERVER_FAULT_DETAIL, {})

    def _challenge(self, error: tuple[str, str] | None = None, *, scope: str = "") -> dict[str, str]:
        params = [] if self.realm is None else [f'realm="{self.realm}"']
        if error is not None:
            params += [f'error="{error[0]}"', f'error_description="{_description(error[1])}"']
        if scope:
            params.append(f'scope="{scope}"')
        return {"WWW-Authenticate": "Bearer " + ", ".join(params) if params else "Bearer"}

    @staticmethod
    def _answer(status: int, code: str, detail: str, headers: dict[str, str]) -> Refusal:
        body = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
        }
        return Refusal(status, MappingProxyType(headers), json.dumps(body).encode(), code, detail)


def _description(detail: str) -> str:
    """``detail`` as an RFC 6750 ``error_description``: '"' as "'", other unsendable characters as '?'."""
    text = _OUTSIDE_QUOTABLE.sub("?", detail.replace('"', "'"))
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 3] + "..."

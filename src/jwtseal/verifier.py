"""Verifier: every check of API.md, in API.md's order, first failure wins.

``malformed_token`` → ``missing_kid`` → ``alg_not_allowed`` (before any key
lookup, so junk never causes a fetch) → ``unknown_kid`` → ``alg_not_allowed``
(key and header disagree) → ``bad_signature`` → ``expired`` /
``not_yet_valid`` → ``invalid_audience`` / ``invalid_issuer``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import _jws
from ._algorithms import ALGORITHMS
from .claims import Claims, check_audience, check_issuer, check_times, require_numeric_times
from .errors import AlgNotAllowed, BadSignature, MissingKid, UnknownKid
from .keys import VerifyingKey

__all__ = ["KeySource", "UnverifiedToken", "Verifier", "inspect"]


class KeySource(Protocol):
    """Where verification finds a key by ``kid``: a key ring, a JWKS, a remote set."""

    def find(self, kid: str) -> VerifyingKey | None: ...


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A token taken apart without any check of its signature or claims."""

    jws: _jws.CompactJws
    claims: Claims

    @property
    def header(self) -> dict[str, Any]:
        """A deep copy: the parsed header is cached and shared between calls."""
        return copy.deepcopy(dict(self.jws.header.members))

    @property
    def kid(self) -> str:
        """The ``kid``, checked for presence and the ``alg`` against the registry.

        Raises:
            MissingKid: no ``kid`` string in the header.
            AlgNotAllowed: ``alg`` is not one jwtseal verifies.
        """
        kid, alg = self.jws.header.kid, self.jws.header.alg
        if not isinstance(kid, str) or not kid:
            raise MissingKid
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise AlgNotAllowed(f"The algorithm {str(alg)[:20]!r} is not allowed.")
        return kid


def inspect(token: str) -> UnverifiedToken:
    """Take a token apart WITHOUT verifying it: for display, never for trust.

    Raises:
        MalformedToken: the token is not a well-formed compact JWS with a
            JSON object payload whose time claims are numbers.
    """
    jws = _jws.parse(token)
    claims = _jws.parse_claims(jws)
    require_numeric_times(claims)
    return UnverifiedToken(jws, claims)


def finish(
    token: UnverifiedToken,
    key: VerifyingKey | None,
    *,
    now: float,
    leeway: float,
    audience: str | None = None,
    issuer: str | None = None,
) -> Claims:
    """The checks after the key lookup, shared by every key source.

    Raises:
        UnknownKid, AlgNotAllowed, BadSignature, Expired, NotYetValid,
        InvalidAudience, InvalidIssuer: the first check that fails.
    """
    if key is None:
        raise UnknownKid
    if key.alg != token.jws.header.alg:
        raise AlgNotAllowed("The token's algorithm does not match its key.")
    if not key.verify(token.jws.signing_input, token.jws.signature):
        raise BadSignature
    claims = token.claims
    check_times(claims, now, leeway)
    if audience is not None:
        check_audience(claims, audience)
    if issuer is not None:
        check_issuer(claims, issuer)
    return claims


class Verifier:
    """Verifies tokens against one key source (its own keys or a JWKS)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        leeway: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.leeway = leeway
        self._clock = clock

    def verify(self, token: str, *, audience: str | None = None, issuer: str | None = None) -> Claims:
        """The claims of ``token`` once every check passes.

        Raises:
            TokenError: the first failed check, with API.md's code.
        """
        unverified = inspect(token)
        key = self.keys.find(unverified.kid)
        return finish(
            unverified,
            key,
            now=self._clock(),
            leeway=self.leeway,
            audience=audience,
            issuer=issuer,
        )

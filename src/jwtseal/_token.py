"""The steps of verifying one token, in API.md's order; the first failure wins.

``malformed_token`` → ``missing_kid`` → ``alg_not_allowed`` (before any key
lookup, so junk never causes a fetch) → ``unknown_kid`` → ``alg_not_allowed``
(key and header disagree) → ``bad_signature`` → ``expired`` /
``not_yet_valid`` → ``invalid_audience`` / ``invalid_issuer``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import _jws
from ._algorithms import ALGORITHMS
from ._json import loads_object
from .claims import Claims, check_audience, check_issuer, check_times, require_numeric_times
from .errors import AlgNotAllowed, BadSignature, MalformedToken, MissingKid, UnknownKid
from .keys import VerifyingKey

__all__ = ["KeySource", "PendingToken", "SignedToken", "UnverifiedToken", "begin", "finish", "inspect"]


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
        return _kid(self.jws.header)


def inspect(token: str) -> UnverifiedToken:
    """Take a token apart WITHOUT verifying it: for display, never for trust.

    Raises:
        MalformedToken: the token is not a well-formed compact JWS with a
            JSON object payload whose time claims are numbers.
    """
    header, payload, signing_input, signature = _jws.split(token)
    return UnverifiedToken(_jws.CompactJws(header, payload, signing_input, signature), _claims(payload))


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
    jws = token.jws
    _check_signature(key, jws.header.alg, jws.signing_input, jws.signature)
    return _check_claims(token.claims, now, leeway, audience, issuer)


# The steps of inspect and finish, apart, so Verifier.verify can run them
# on plain values without building an UnverifiedToken for every token.


def _claims(payload: bytes) -> Claims:
    """Raises MalformedToken unless the payload is a JSON object with numeric times."""
    try:
        claims = loads_object(payload)
    except ValueError as exc:
        raise MalformedToken("The token's payload is not a JSON object.") from exc
    require_numeric_times(claims)
    return claims


def _kid(header: _jws.Header) -> str:
    """Raises MissingKid or AlgNotAllowed, in that order; see :attr:`UnverifiedToken.kid`."""
    kid, alg = header.kid, header.alg
    if not isinstance(kid, str) or not kid:
        raise MissingKid
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise AlgNotAllowed(f"The algorithm {str(alg)[:20]!r} is not allowed.")
    return kid


def _usable(key: VerifyingKey | None, alg: object) -> VerifyingKey:
    """Raises UnknownKid, or AlgNotAllowed when the key and the header disagree."""
    if key is None:
        raise UnknownKid
    if key.algorithm.name != alg:
        raise AlgNotAllowed("The token's algorithm does not match its key.")
    return key


def _check_signature(key: VerifyingKey | None, alg: object, signing_input: bytes, signature: bytes) -> None:
    """Raises UnknownKid, AlgNotAllowed (key and header disagree) or BadSignature."""
    if not _usable(key, alg).verify(signing_input, signature):
        raise BadSignature


def begin(
    token: str, find: Callable[[str], VerifyingKey | None], *, now: float, leeway: float
) -> PendingToken:
    """Every check before the signature's, with the key ``find`` gives for the ``kid``.

    Raises:
        MalformedToken, MissingKid, AlgNotAllowed, UnknownKid: the first that fails.
    """
    header, payload, signing_input, signature = _jws.split(token)
    claims = _claims(payload)
    key = _usable(find(_kid(header)), header.alg)
    return PendingToken(key, signing_input, signature, claims, now, leeway)


@dataclass(frozen=True, slots=True)
class PendingToken:
    """A token that passed every check before its signature; see :meth:`Verifier.begin`.

    Its claims are reachable only through :meth:`check_signature`, so they
    cannot be trusted by mistake before the signature is.
    """

    key: VerifyingKey
    signing_input: bytes
    signature: bytes
    _claims: Claims
    now: float
    leeway: float

    def check_signature(self) -> SignedToken:
        """Raises BadSignature."""
        if not self.key.verify(self.signing_input, self.signature):
            raise BadSignature
        return SignedToken(self._claims, self.now, self.leeway)


@dataclass(frozen=True, slots=True)
class SignedToken:
    """A token whose signature verified; its claims are checked last."""

    _claims: Claims
    now: float
    leeway: float

    def claims(self, *, audience: str | None = None, issuer: str | None = None) -> Claims:
        """The claims once the time, audience and issuer checks pass.

        Raises:
            Expired, NotYetValid, InvalidAudience, InvalidIssuer: the first that fails.
        """
        return _check_claims(self._claims, self.now, self.leeway, audience, issuer)


def _check_claims(
    claims: Claims, now: float, leeway: float, audience: str | None, issuer: str | None
) -> Claims:
    """``claims`` once the time, audience and issuer checks pass."""
    check_times(claims, now, leeway)
    if audience is not None:
        check_audience(claims, audience)
    if issuer is not None:
        check_issuer(claims, issuer)
    return claims

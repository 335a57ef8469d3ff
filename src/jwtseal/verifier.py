"""Verifier: configured once, used everywhere, from threads and from asyncio alike.

Checks, in API.md's order, the first failure winning: ``malformed_token`` →
``missing_kid`` → ``alg_not_allowed`` (outside the registry or this
verifier's allow-list; before any key lookup, so junk never causes a fetch)
→ ``invalid_issuer`` when issuers are configured (the token's ``iss`` picks
one, also before any lookup) → ``unknown_kid`` → ``alg_not_allowed`` (key
and header disagree) → ``bad_signature`` → ``expired`` / ``not_yet_valid``
(and ``max_age``) → ``invalid_audience`` / ``invalid_issuer`` →
``invalid_type`` → ``missing_claim`` → ``insufficient_scope`` → the
application's own ``check``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Final, Literal

from . import _jws
from ._algorithms import ALGORITHMS
from ._token import KeySource, PendingToken, _check_signature, _claims, _kid, begin
from .claims import Claims, check_issuer, check_times
from .errors import (
    AlgNotAllowed,
    Expired,
    InsufficientScope,
    InvalidAudience,
    InvalidIssuer,
    InvalidType,
    MissingClaim,
)
from .issuers import IssuerKeys, TrustedIssuer
from .jwks_cache import JWKSCache, RemoteKeys
from .verified import VerifiedToken, scopes_of

__all__ = ["ANY_AUDIENCE", "Verifier"]

Profile = Literal["rfc9068"]
RFC9068_CLAIMS: Final = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


class _AnyAudience:
    """API.md's ``/decode`` rule: ``aud`` is checked only when a request names one."""


ANY_AUDIENCE: Final = _AnyAudience()
_Audiences = frozenset[str] | _AnyAudience | None


class Verifier:
    """Verifies tokens against local keys or trusted issuers, with every check configured once.

    ``Verifier(keys)`` trusts one key source (a :class:`KeyRing`, a
    :class:`PublicKeySet`, :meth:`JWKSCache.at`); ``Verifier(issuers=[...])``
    trusts each :class:`TrustedIssuer` for the tokens that name it in ``iss``.
    With no ``audience``, a token that names one is refused (RFC 7519
    section 4.1.3); otherwise its ``aud`` must name one of them.
    """

    def __init__(
        self,
        keys: KeySource | None = None,
        *,
        issuers: Iterable[TrustedIssuer] = (),
        audience: str | Iterable[str] | _AnyAudience | None = None,
        algorithms: Iterable[str] | None = None,
        leeway: float = 60,
        typ: str | None = None,
        required_claims: Iterable[str] = (),
        max_age: float | None = None,
        scopes: Iterable[str] = (),
        check: Callable[[VerifiedToken], None] | None = None,
        profile: Profile | None = None,
        cache: JWKSCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Raises TypeError or ValueError: the options contradict each other or name no keys."""
        trusted = list(issuers)
        if (keys is None) == (not trusted):
            raise TypeError("give either keys or issuers")
        self.keys = keys
        self._cache = cache or JWKSCache()
        self._issuers = {issuer.issuer: IssuerKeys(issuer, self._cache) for issuer in trusted}
        self._audiences = _audiences(audience)
        self._algorithms = frozenset(ALGORITHMS if algorithms is None else algorithms)
        if not self._algorithms <= ALGORITHMS.keys() or not self._algorithms:
            raise ValueError(f"algorithms must be some of {sorted(ALGORITHMS)}")
        self.leeway, self._clock, self._max_age, self._check = leeway, clock, max_age, check
        self._typ = None if typ is None else _media_type(typ)
        self._required = tuple(required_claims)
        self._scopes = frozenset(scopes)
        if profile == "rfc9068":
            if self._audiences is None:
                raise ValueError("the rfc9068 profile needs an audience")
            self._typ = self._typ or "at+jwt"
            self._required = tuple(dict.fromkeys((*self._required, *RFC9068_CLAIMS)))

    def verify(
        self,
        token: str,
        *,
        scopes: Iterable[str] = (),
        audience: str | None = None,
        issuer: str | None = None,
    ) -> VerifiedToken:
        """The verified token, for threads and WSGI apps: a fetch blocks this thread only.

        ``scopes`` are required on top of the configured ones (a route's own);
        ``audience`` and ``issuer`` replace the configured audience and add an
        ``iss`` check, for this call.

        Raises:
            TokenError: the first failed check, with API.md's code.
            JwksUnavailable: keys could not be had and no stale ones are left.
            JwksUriNotAllowed: a configured URI is refused by the address guard.
        """
        header, payload, signing_input, signature = _jws.split(token)
        claims = _claims(payload)
        kid = self._allowed_kid(header)
        source = self.keys if self.keys is not None else self._issuer(claims).source()
        _check_signature(source.find(kid), header.alg, signing_input, signature)
        return self._checked(claims, header, scopes, audience, issuer)

    async def averify(
        self,
        token: str,
        *,
        scopes: Iterable[str] = (),
        audience: str | None = None,
        issuer: str | None = None,
    ) -> VerifiedToken:
        """:meth:`verify` for asyncio: the same checks, order and errors; a fetch never blocks the loop.

        Raises:
            TokenError, JwksUnavailable, JwksUriNotAllowed: see :meth:`verify`.
        """
        header, payload, signing_input, signature = _jws.split(token)
        claims = _claims(payload)
        kid = self._allowed_kid(header)
        source = self.keys if self.keys is not None else await self._issuer(claims).asource()
        key = await source.afind(kid) if isinstance(source, RemoteKeys) else source.find(kid)
        _check_signature(key, header.alg, signing_input, signature)
        return self._checked(claims, header, scopes, audience, issuer)

    def hydrate(self) -> None:
        """Fetch every configured issuer's keys now, e.g. at start-up; local keys need nothing.

        Raises:
            JwksUnavailable, JwksUriNotAllowed: an issuer's keys could not be had.
        """
        for issuer in self._issuers.values():
            source = issuer.source()
            if isinstance(source, RemoteKeys):
                source.hydrate()

    async def ahydrate(self) -> None:
        """:meth:`hydrate` for asyncio, e.g. in an application's lifespan.

        Raises:
            JwksUnavailable, JwksUriNotAllowed: an issuer's keys could not be had.
        """
        for issuer in self._issuers.values():
            source = await issuer.asource()
            if isinstance(source, RemoteKeys):
                await source.ahydrate()

    def begin(self, token: str) -> PendingToken:
        """The checks of a local-key verifier up to the signature, for servers that batch signatures.

        ``begin(token).check_signature().claims()`` gives the claims of
        :meth:`verify` for a verifier built with ``audience=ANY_AUDIENCE``.

        Raises:
            MalformedToken, MissingKid, AlgNotAllowed, UnknownKid: the first that fails.
        """
        assert self.keys is not None, "begin() is for verifiers of local keys"
        return begin(token, self.keys.find, now=self._clock(), leeway=self.leeway)

    # The steps, shared by verify and averify

    def _allowed_kid(self, header: _jws.Header) -> str:
        kid = _kid(header)
        if header.alg not in self._algorithms:
            raise AlgNotAllowed(f"The algorithm {header.alg} is not allowed here.")
        return kid

    def _issuer(self, claims: Claims) -> IssuerKeys:
        """The configured issuer the token names, by exact match.

        Raises:
            InvalidIssuer: the token names no configured issuer.
        """
        iss = claims.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise InvalidIssuer("The token's issuer is not one this verifier trusts.")
        return issuer

    def _checked(
        self,
        claims: Claims,
        header: _jws.Header,
        scopes: Iterable[str],
        audience: str | None,
        issuer: str | None,
    ) -> VerifiedToken:
        now = self._clock()
        check_times(claims, now, self.leeway)
        if self._max_age is not None:
            _check_age(claims, now, self._max_age, self.leeway)
        _check_audience(claims, self._audiences if audience is None else frozenset((audience,)))
        if issuer is not None:
            check_issuer(claims, issuer)
        if self._typ is not None and _media_type(header.members.get("typ")) != self._typ:
            raise InvalidType(f"The token's typ must be {self._typ}.")
        for name in self._required:
            if name not in claims:
                raise MissingClaim(f"The token lacks the claim {name!r}.")
        needed = self._scopes.union(scopes) if scopes else self._scopes
        if needed and (missing := needed - scopes_of(claims)):
            raise InsufficientScope(frozenset(missing))
        verified = VerifiedToken(claims, header)
        if self._check is not None:
            self._check(verified)
        return verified


def _audiences(audience: str | Iterable[str] | _AnyAudience | None) -> _Audiences:
    if audience is None or isinstance(audience, _AnyAudience):
        return audience
    accepted = frozenset((audience,) if isinstance(audience, str) else audience)
    if not accepted or not all(isinstance(name, str) and name for name in accepted):
        raise ValueError("audience must be a non-empty string or strings")
    return accepted


def _check_audience(claims: Claims, accepted: _Audiences) -> None:
    """Raises InvalidAudience unless ``aud`` names an accepted audience, or is absent when none is."""
    if isinstance(accepted, _AnyAudience):
        return
    if accepted is None:
        if "aud" in claims:
            raise InvalidAudience("The token names an audience, and this verifier accepts none.")
        return
    aud = claims.get("aud")
    names = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(name, str) and name in accepted for name in names):
        raise InvalidAudience


def _check_age(claims: Claims, now: float, max_age: float, leeway: float) -> None:
    """Raises MissingClaim without ``iat``, Expired when it lies more than ``max_age`` back."""
    if "iat" not in claims:
        raise MissingClaim("The token lacks the claim 'iat', needed for its age.")
    if claims["iat"] + max_age + leeway <= now:
        raise Expired("The token is older than the maximum age.")


def _media_type(typ: object) -> str | None:
    """RFC 7515 section 4.1.9: compared case-insensitively, ``application/`` optional."""
    if not isinstance(typ, str):
        return None
    return typ.lower().removeprefix("application/")

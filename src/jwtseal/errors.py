"""The one exception tree of jwtseal.

Every leaf carries ``code``, the stable machine-readable string of API.md, so
an edge (HTTP, CLI, Lambda) can render any failure without knowing the class.
Domain code knows nothing of HTTP status codes: that mapping lives at the
HTTP edge.

    JwtsealError
    ├── TokenError                  a token was refused
    │   ├── MalformedToken          malformed_token
    │   ├── MissingKid              missing_kid
    │   ├── AlgNotAllowed           alg_not_allowed
    │   ├── UnknownKid              unknown_kid
    │   ├── BadSignature            bad_signature
    │   ├── Expired                 expired
    │   ├── NotYetValid             not_yet_valid
    │   ├── InvalidAudience         invalid_audience
    │   ├── InvalidIssuer           invalid_issuer
    │   ├── InvalidType             invalid_type
    │   ├── MissingClaim            missing_claim
    │   ├── InsufficientScope       insufficient_scope
    │   └── TokenRejected           token_rejected (an app's own check)
    ├── RequestError                a caller asked for something we refuse
    │   ├── InvalidRequest          invalid_request
    │   ├── ReservedClaim           reserved_claim
    │   ├── TtlTooLong              ttl_too_long
    │   ├── InvalidClaim            invalid_claim
    │   ├── Unauthorized            unauthorized
    │   └── PayloadTooLarge         payload_too_large
    ├── JwksError                   a key set could not be used
    │   ├── JwksUriNotAllowed       jwks_uri_not_allowed
    │   ├── JwksUnavailable         jwks_unavailable
    │   └── InvalidKey              invalid_key
    └── KeyStoreError               key_store_error
        ├── ConcurrentUpdate        key_store_error (another writer won; retry)
        ├── StoreUnreachable        key_store_error (a networked store is away; in stores/base.py)
        └── SigningUnavailable      signing_unavailable (503 with Retry-After: the KMS throttles,
                                    is out of reach or refuses the key, or the key store is away
                                    past the current key's retirement)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlgNotAllowed",
    "BadSignature",
    "ConcurrentUpdate",
    "Expired",
    "InsufficientScope",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidKey",
    "InvalidRequest",
    "InvalidType",
    "JwksError",
    "JwksUnavailable",
    "JwksUriNotAllowed",
    "JwtsealError",
    "KeyStoreError",
    "MalformedToken",
    "MissingClaim",
    "MissingKid",
    "NotYetValid",
    "PayloadTooLarge",
    "RequestError",
    "ReservedClaim",
    "SigningUnavailable",
    "TokenError",
    "TokenRejected",
    "TtlTooLong",
    "Unauthorized",
    "UnknownKid",
]


class JwtsealError(Exception):
    """Root of every error jwtseal raises on purpose."""

    code: ClassVar[str] = "jwtseal_error"
    default_detail: ClassVar[str] = "The request failed."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class TokenError(JwtsealError):
    """A token was refused: one opaque failure per code, no internals."""

    code = "invalid_token"


class MalformedToken(TokenError):
    """Not a strict compact JWS with JSON object header and payload and numeric times."""

    code = "malformed_token"
    default_detail = "The token is not a well-formed compact JWS."


class MissingKid(TokenError):
    """The header has no ``kid``: jwtseal finds keys by ``kid`` alone."""

    code = "missing_kid"
    default_detail = "Token has no Key ID"


class AlgNotAllowed(TokenError):
    """``none``, HMAC, an ``alg`` outside the allow-list, or one its key does not have."""

    code = "alg_not_allowed"
    default_detail = "The token's algorithm is not allowed."


class UnknownKid(TokenError):
    """No usable key has the ``kid``, even after the one refetch a cooldown allows."""

    code = "unknown_kid"
    default_detail = "No usable key has the token's Key ID."


class BadSignature(TokenError):
    """The signature does not verify with the token's key."""

    code = "bad_signature"
    default_detail = "The token's signature does not verify."


class Expired(TokenError):
    """``exp`` has passed, or the token is older than the maximum age, beyond the leeway."""

    code = "expired"
    default_detail = "The token has expired."


class NotYetValid(TokenError):
    """``nbf`` or ``iat`` lies in the future, beyond the leeway."""

    code = "not_yet_valid"
    default_detail = "The token is not valid yet."


class InvalidAudience(TokenError):
    """``aud`` names none of the accepted audiences, or names one where none is accepted."""

    code = "invalid_audience"
    default_detail = "The token is not meant for this audience."


class InvalidIssuer(TokenError):
    """``iss`` is not the expected issuer, or not one the verifier trusts."""

    code = "invalid_issuer"
    default_detail = "The token was not issued by the expected issuer."


class InvalidType(TokenError):
    """The header's ``typ`` is not the one configured (RFC 8725 section 3.11)."""

    code = "invalid_type"
    default_detail = "The token is not of the expected type (typ)."


class MissingClaim(TokenError):
    """A claim the verifier requires is absent."""

    code = "missing_claim"
    default_detail = "The token lacks a required claim."


class InsufficientScope(TokenError):
    """The token is valid but lacks scopes the caller needs: a 403, not a 401."""

    code = "insufficient_scope"
    default_detail = "The token lacks a required scope."

    def __init__(self, missing: frozenset[str] = frozenset()) -> None:
        self.missing = missing
        names = " ".join(sorted(missing))
        super().__init__(f"The token lacks the scope {names}." if names else None)


class TokenRejected(TokenError):
    """Raised by an application's own check to refuse a token that passed every other."""

    code = "token_rejected"
    default_detail = "The token was rejected by the application."


class RequestError(JwtsealError):
    """The caller asked for something jwtseal refuses to do."""

    code = "invalid_request"


class InvalidRequest(RequestError):
    """The request body is not JSON, not an object, or lacks a required field."""

    code = "invalid_request"
    default_detail = "The request is not valid."


class ReservedClaim(RequestError):
    """``/encode`` got ``iss``, ``iat`` or ``jti``: the server sets them."""

    code = "reserved_claim"
    default_detail = "The claims iss, iat and jti are set by the server."


class TtlTooLong(RequestError):
    """``/encode`` got an ``exp`` past the maximum token lifetime."""

    code = "ttl_too_long"
    default_detail = "The requested lifetime exceeds the maximum."


class InvalidClaim(RequestError):
    """``/encode`` got an ``exp`` in the past, or a time claim that is not a number."""

    code = "invalid_claim"
    default_detail = "A claim has a value that cannot be issued."


class Unauthorized(RequestError):
    """``/encode`` without a valid bearer API key."""

    code = "unauthorized"
    default_detail = "A valid bearer API key is required."


class PayloadTooLarge(RequestError):
    """The request body is over the limit."""

    code = "payload_too_large"
    default_detail = "The request body is too large."


class JwksError(JwtsealError):
    """A JSON Web Key or key set could not be used."""

    code = "jwks_error"


class JwksUriNotAllowed(JwksError):
    """The address guard refused the JWKS URI; nothing was sent to it."""

    code = "jwks_uri_not_allowed"
    default_detail = "The JWKS URI is not allowed."


class JwksUnavailable(JwksError):
    """No usable key set could be fetched, and no cached one is within its stale bound."""

    code = "jwks_unavailable"
    default_detail = "The JWKS could not be fetched or parsed."


class InvalidKey(JwksError):
    """A JSON Web Key that jwtseal cannot or will not use."""

    code = "invalid_key"
    default_detail = "The key is not a usable JSON Web Key."


class KeyStoreError(JwtsealError):
    """The key store is unreadable or corrupt; it is never silently replaced."""

    code = "key_store_error"
    default_detail = "The key store could not be read or written."


class ConcurrentUpdate(KeyStoreError):
    """Another writer changed the store after it was read; nothing was overwritten."""

    default_detail = "The key store was changed by another writer; nothing was overwritten."


class SigningUnavailable(KeyStoreError):
    """The service that holds the private key cannot sign now; nothing was signed.

    A ``KeyStoreError``, so a key ring that meets it while reloading keeps its
    last good key set, as for any unreadable store.
    """

    code = "signing_unavailable"
    default_detail = "The signing key cannot be used right now; retry later."

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

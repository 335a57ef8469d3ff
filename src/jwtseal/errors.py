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
    │   └── InvalidIssuer           invalid_issuer
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
    ├── KeyStoreError               key_store_error
    │   ├── ConcurrentUpdate        key_store_error (another writer won; retry)
    │   └── StoreUnreachable        key_store_error (a networked store is away; in stores/base.py)
    └── SigningUnavailable          signing_unavailable (503 with Retry-After)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlgNotAllowed",
    "BadSignature",
    "ConcurrentUpdate",
    "Expired",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidKey",
    "InvalidRequest",
    "JwksError",
    "JwksUnavailable",
    "JwksUriNotAllowed",
    "JwtsealError",
    "KeyStoreError",
    "MalformedToken",
    "MissingKid",
    "NotYetValid",
    "PayloadTooLarge",
    "RequestError",
    "ReservedClaim",
    "SigningUnavailable",
    "TokenError",
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
    code = "malformed_token"
    default_detail = "The token is not a well-formed compact JWS."


class MissingKid(TokenError):
    code = "missing_kid"
    default_detail = "Token has no Key ID"


class AlgNotAllowed(TokenError):
    code = "alg_not_allowed"
    default_detail = "The token's algorithm is not allowed."


class UnknownKid(TokenError):
    code = "unknown_kid"
    default_detail = "No usable key has the token's Key ID."


class BadSignature(TokenError):
    code = "bad_signature"
    default_detail = "The token's signature does not verify."


class Expired(TokenError):
    code = "expired"
    default_detail = "The token has expired."


class NotYetValid(TokenError):
    code = "not_yet_valid"
    default_detail = "The token is not valid yet."


class InvalidAudience(TokenError):
    code = "invalid_audience"
    default_detail = "The token is not meant for this audience."


class InvalidIssuer(TokenError):
    code = "invalid_issuer"
    default_detail = "The token was not issued by the expected issuer."


class RequestError(JwtsealError):
    """The caller asked for something jwtseal refuses to do."""

    code = "invalid_request"


class InvalidRequest(RequestError):
    code = "invalid_request"
    default_detail = "The request is not valid."


class ReservedClaim(RequestError):
    code = "reserved_claim"
    default_detail = "The claims iss, iat and jti are set by the server."


class TtlTooLong(RequestError):
    code = "ttl_too_long"
    default_detail = "The requested lifetime exceeds the maximum."


class InvalidClaim(RequestError):
    code = "invalid_claim"
    default_detail = "A claim has a value that cannot be issued."


class Unauthorized(RequestError):
    code = "unauthorized"
    default_detail = "A valid bearer API key is required."


class PayloadTooLarge(RequestError):
    code = "payload_too_large"
    default_detail = "The request body is too large."


class JwksError(JwtsealError):
    """A JSON Web Key or key set could not be used."""

    code = "jwks_error"


class JwksUriNotAllowed(JwksError):
    code = "jwks_uri_not_allowed"
    default_detail = "The JWKS URI is not allowed."


class JwksUnavailable(JwksError):
    code = "jwks_unavailable"
    default_detail = "The JWKS could not be fetched or parsed."


class InvalidKey(JwksError):
    code = "invalid_key"
    default_detail = "The key is not a usable JSON Web Key."


class KeyStoreError(JwtsealError):
    """The key store is unreadable or corrupt; it is never silently replaced."""

    code = "key_store_error"
    default_detail = "The key store could not be read or written."


class ConcurrentUpdate(KeyStoreError):
    """Another writer changed the store after it was read; nothing was overwritten."""

    default_detail = "The key store was changed by another writer; nothing was overwritten."


class SigningUnavailable(JwtsealError):
    """Nothing may sign right now (the key store or the KMS is away); ``retry_after`` seconds."""

    code = "signing_unavailable"
    default_detail = "Signing is unavailable right now; try again later."

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

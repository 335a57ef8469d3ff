"""jwtseal: issue JSON Web Tokens anyone can verify, and verify anyone's.

The public API is a few nouns: :class:`Issuer` signs; :class:`Verifier`
verifies, against local keys or :class:`TrustedIssuer` s whose key sets a
:class:`JWKSCache` keeps; :class:`KeyRing` holds and rotates keys in a
:class:`KeyStore`. Every refusal is a :class:`JwtsealError` with a ``code``.
"""

from ._algorithms import SUPPORTED_ALGORITHMS
from ._token import KeySource, UnverifiedToken, inspect
from .claims import Claims, ClaimsPolicy
from .errors import (
    AlgNotAllowed,
    BadSignature,
    ConcurrentUpdate,
    Expired,
    InsufficientScope,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidKey,
    InvalidRequest,
    InvalidType,
    JwksError,
    JwksUnavailable,
    JwksUriNotAllowed,
    JwtsealError,
    KeyStoreError,
    MalformedToken,
    MissingClaim,
    MissingKid,
    NotYetValid,
    PayloadTooLarge,
    RequestError,
    ReservedClaim,
    SigningUnavailable,
    TokenError,
    TokenRejected,
    TtlTooLong,
    Unauthorized,
    UnknownKid,
)
from .issuer import IssuedToken, Issuer
from .issuers import TrustedIssuer
from .jwks import PublicKeySet
from .jwks_cache import JWKSCache
from .keyring import KeyRing
from .keys import SigningKey, VerifyingKey
from .keyset import KeyState
from .rotation import RotationPolicy
from .stores import FileKeyStore, KeyStore
from .verified import VerifiedToken
from .verifier import Verifier

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AlgNotAllowed",
    "BadSignature",
    "Claims",
    "ClaimsPolicy",
    "ConcurrentUpdate",
    "Expired",
    "FileKeyStore",
    "InsufficientScope",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidKey",
    "InvalidRequest",
    "InvalidType",
    "IssuedToken",
    "Issuer",
    "JWKSCache",
    "JwksError",
    "JwksUnavailable",
    "JwksUriNotAllowed",
    "JwtsealError",
    "KeyRing",
    "KeySource",
    "KeyState",
    "KeyStore",
    "KeyStoreError",
    "MalformedToken",
    "MissingClaim",
    "MissingKid",
    "NotYetValid",
    "PayloadTooLarge",
    "PublicKeySet",
    "RequestError",
    "ReservedClaim",
    "RotationPolicy",
    "SigningKey",
    "SigningUnavailable",
    "TokenError",
    "TokenRejected",
    "TrustedIssuer",
    "TtlTooLong",
    "Unauthorized",
    "UnknownKid",
    "UnverifiedToken",
    "VerifiedToken",
    "Verifier",
    "VerifyingKey",
    "__version__",
    "inspect",
]

"""jwtseal: issue JSON Web Tokens anyone can verify, and verify anyone's.

The public API is a few nouns: :class:`Issuer` signs, :class:`Verifier`
verifies, :class:`KeyRing` holds and rotates keys in a :class:`KeyStore`.
"""

from ._algorithms import SUPPORTED_ALGORITHMS
from ._netguard import AddressGuard
from .apikeys import ApiKeys
from .claims import Claims, ClaimsPolicy
from .errors import (
    AlgNotAllowed,
    BadSignature,
    ConcurrentUpdate,
    Expired,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidKey,
    InvalidRequest,
    JwksError,
    JwksUnavailable,
    JwksUriNotAllowed,
    JwtsealError,
    KeyStoreError,
    MalformedToken,
    MissingKid,
    NotYetValid,
    PayloadTooLarge,
    RequestError,
    ReservedClaim,
    SigningUnavailable,
    TokenError,
    TtlTooLong,
    Unauthorized,
    UnknownKid,
)
from .issuer import IssuedToken, Issuer, UnsignedToken
from .jwks import PublicKeySet
from .keyring import KeyRing, KeyRingView
from .keys import SigningKey, VerifyingKey
from .keyset import KeyRecord, KeySet, KeyState
from .remote import RemoteEvent, RemoteJWKS, RemoteStats
from .rotation import RotationPolicy
from .service import Service
from .settings import Settings, SettingsError
from .stores import FileKeyStore, KeyStore
from .verifier import KeySource, PendingToken, SignedToken, UnverifiedToken, Verifier, inspect

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AddressGuard",
    "AlgNotAllowed",
    "ApiKeys",
    "BadSignature",
    "Claims",
    "ClaimsPolicy",
    "ConcurrentUpdate",
    "Expired",
    "FileKeyStore",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidKey",
    "InvalidRequest",
    "IssuedToken",
    "Issuer",
    "JwksError",
    "JwksUnavailable",
    "JwksUriNotAllowed",
    "JwtsealError",
    "KeyRecord",
    "KeyRing",
    "KeyRingView",
    "KeySet",
    "KeySource",
    "KeyState",
    "KeyStore",
    "KeyStoreError",
    "MalformedToken",
    "MissingKid",
    "NotYetValid",
    "PayloadTooLarge",
    "PendingToken",
    "PublicKeySet",
    "RemoteEvent",
    "RemoteJWKS",
    "RemoteStats",
    "RequestError",
    "ReservedClaim",
    "RotationPolicy",
    "Service",
    "Settings",
    "SettingsError",
    "SignedToken",
    "SigningKey",
    "SigningUnavailable",
    "TokenError",
    "TtlTooLong",
    "Unauthorized",
    "UnknownKid",
    "UnsignedToken",
    "UnverifiedToken",
    "Verifier",
    "VerifyingKey",
    "__version__",
    "inspect",
]

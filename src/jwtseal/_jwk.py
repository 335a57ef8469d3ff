"""JSON Web Keys (RFC 7517/7518/8037) to and from pyca/cryptography keys.

Import is strict: the key type and curve must fit the algorithm, RSA keys
must have at least 2048 bits, every number must be canonical base64url, and
EC coordinates must have their curve's full size (32, 48 or 66 bytes).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Final, NotRequired, TypedDict

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ._algorithms import ALGORITHMS, Algorithm, PrivateKey, PublicKey
from ._b64 import b64url_decode, b64url_encode
from ._json import dumps_compact
from .errors import InvalidKey

PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_THUMBPRINT_MEMBERS: Final = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
_PROBE: Final = b"jwtseal private key self-test"
_IMPLIED_ALG: Final[dict[tuple[object, object], str]] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
    ("EC", "P-384"): "ES384",
    ("EC", "P-521"): "ES512",
    ("OKP", "Ed25519"): "EdDSA",
}
_CURVES: Final[dict[str, ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_CRV_OF_CURVE: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


class Jwk(TypedDict):
    """A public JSON Web Key as jwtseal publishes it."""

    kty: str
    kid: str
    use: str
    alg: str
    n: NotRequired[str]
    e: NotRequired[str]
    crv: NotRequired[str]
    x: NotRequired[str]
    y: NotRequired[str]


class Jwks(TypedDict):
    keys: list[Jwk]


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def public_members(key: PublicKey) -> dict[str, str]:
    """The members that define a public key, for export and thumbprints."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        point = key.public_numbers()
        crv = _CRV_OF_CURVE[key.curve.name]
        return {"kty": "EC", "crv": crv, "x": _uint(point.x, size), "y": _uint(point.y, size)}
    raw = key.public_bytes_raw()
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def private_members(key: PrivateKey) -> dict[str, str]:
    """The private members, for the key store only: never published or logged."""
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return {
            "d": _uint(n.d),
            "p": _uint(n.p),
            "q": _uint(n.q),
            "dp": _uint(n.dmp1),
            "dq": _uint(n.dmq1),
            "qi": _uint(n.iqmp),
        }
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return {"d": _uint(key.private_numbers().private_value, size)}
    return {"d": b64url_encode(key.private_bytes_raw())}


def thumbprint(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint with SHA-256: a kid that names the key itself."""
    members = public_members(key)
    required = {name: members[name] for name in _THUMBPRINT_MEMBERS[members["kty"]]}
    return b64url_encode(hashlib.sha256(dumps_compact(required)).digest())


def _member_int(jwk: dict[str, Any], name: str) -> int:
    return int.from_bytes(_member_bytes(jwk, name), "big")


def _member_bytes(jwk: dict[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidKey(f"The JWK has no valid {name!r}.")
    try:
        return b64url_decode(value)
    except ValueError as exc:
        raise InvalidKey(f"The JWK member {name!r} is not base64url.") from exc


def load_public(jwk: dict[str, Any], algorithm: Algorithm) -> PublicKey:
    """Build the public key a JWK describes, for ``algorithm`` only.

    Raises:
        InvalidKey: the JWK does not describe a key ``algorithm`` can use.
    """
    if jwk.get("kty") != algorithm.kty or jwk.get("crv", algorithm.crv) != algorithm.crv:
        raise InvalidKey(f"The JWK's type does not fit {algorithm.name}.")
    try:
        key = _construct_public(jwk, algorithm)
    except ValueError as exc:
        raise InvalidKey("The JWK does not describe a valid public key.") from exc
    if not algorithm.accepts(key):
        raise InvalidKey(f"The JWK is too weak for {algorithm.name}.")
    return key


def _construct_public(jwk: dict[str, Any], algorithm: Algorithm) -> PublicKey:
    if algorithm.kty == "RSA":
        return rsa.RSAPublicNumbers(_member_int(jwk, "e"), _member_int(jwk, "n")).public_key()
    if algorithm.kty == "EC":
        curve = _CURVES[str(algorithm.crv)]
        x, y = _member_bytes(jwk, "x"), _member_bytes(jwk, "y")
        # RFC 7518 section 6.2.1.2: each coordinate is the full size (66 bytes for P-521), as PyJWT checks.
        if len(x) != len(y) or len(x) != (curve.key_size + 7) // 8:
            raise ValueError("an EC coordinate is not the curve's full size")
        return ec.EllipticCurvePublicNumbers(int.from_bytes(x), int.from_bytes(y), curve).public_key()
    return ed25519.Ed25519PublicKey.from_public_bytes(_member_bytes(jwk, "x"))


def load_private(jwk: dict[str, Any], algorithm: Algorithm) -> PrivateKey:
    """Build a private key from a stored JWK, checking it matches its public part.

    Raises:
        InvalidKey: the JWK is not a valid private key for ``algorithm``.
    """
    public = load_public(jwk, algorithm)
    try:
        key = _construct_private(jwk, public)
    except ValueError as exc:
        raise InvalidKey("The stored private key is not valid.") from exc
    # A signature round trip proves the private half belongs to the public one
    # (and, for RSA loaded without the slow prime checks, that its CRT values
    # are sound: a faulty CRT signature would not verify, and is never published).
    if not algorithm.verifier(public)(_PROBE, algorithm.signer(key)(_PROBE)):
        raise InvalidKey("The stored private key does not match its public key.")
    return key


def _construct_private(jwk: dict[str, Any], public: PublicKey) -> PrivateKey:
    if isinstance(public, rsa.RSAPublicKey):
        numbers = rsa.RSAPrivateNumbers(
            p=_member_int(jwk, "p"),
            q=_member_int(jwk, "q"),
            d=_member_int(jwk, "d"),
            dmp1=_member_int(jwk, "dp"),
            dmq1=_member_int(jwk, "dq"),
            iqmp=_member_int(jwk, "qi"),
            public_numbers=public.public_numbers(),
        )
        if not _consistent(numbers):
            raise ValueError("inconsistent RSA private numbers")
        # OpenSSL's prime checks cost ~50 ms per key at every (re)load; the
        # arithmetic above and the signature round trip in load_private stand in.
        return numbers.private_key(unsafe_skip_rsa_key_validation=True)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ec.derive_private_key(_member_int(jwk, "d"), public.curve)
    return ed25519.Ed25519PrivateKey.from_private_bytes(_member_bytes(jwk, "d"))


def _consistent(numbers: rsa.RSAPrivateNumbers) -> bool:
    """The RSA private values agree with each other and with n and e."""
    p, q, d = numbers.p, numbers.q, numbers.d
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    return (
        min(p, q) > 1
        and p * q == n
        and numbers.dmp1 == d % (p - 1)
        and numbers.dmq1 == d % (q - 1)
        and numbers.iqmp * q % p == 1
        and d * e % math.lcm(p - 1, q - 1) == 1
    )


def algorithm_for(jwk: dict[str, Any]) -> Algorithm:
    """The algorithm a JWK binds: its ``alg``, else the one its type implies.

    Raises:
        InvalidKey: an ``alg`` jwtseal does not support, or none and a key
            type that implies none.
    """
    alg = jwk.get("alg")
    if "alg" not in jwk:
        kty, crv = jwk.get("kty"), jwk.get("crv")
        alg = _IMPLIED_ALG.get((kty, crv)) if isinstance(kty, str) and isinstance(crv, str | None) else None
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise InvalidKey("The JWK's algorithm is missing or not supported.")
    return ALGORITHMS[alg]

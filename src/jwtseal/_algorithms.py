"""The closed, read-only registry of signature algorithms.

Only RS256, PS256, ES256, ES384 and EdDSA (Ed25519) exist here: no ``none``,
no HMAC, and no way to register another. Each algorithm names the key type it
needs, so a key can only ever be used with its own algorithm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from types import MappingProxyType
from typing import Final, Literal, Protocol, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

AlgorithmName = Literal["RS256", "PS256", "ES256", "ES384", "EdDSA"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

RSA_KEY_SIZE: Final = 2048
_SHA256: Final = hashes.SHA256()
_PKCS1V15: Final = padding.PKCS1v15()
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
# DER of DigestInfo { sha256, NULL } up to the digest (RFC 8017 section 9.2, note 1).
_SHA256_DIGEST_INFO: Final = bytes.fromhex("3031300d060960864801650304020105000420")


Signer = Callable[[bytes], bytes]
"""Signs data with one key: the signature in its JWS form."""
Verifier = Callable[[bytes, bytes], bool]
"""Whether a signature (second) in its JWS form is one key's over data (first)."""


class Algorithm(Protocol):
    """What every registry entry can do; keys call these, nothing else does.

    ``signer`` and ``verifier`` bind one key once, when the key is loaded, so
    signing and verifying a token is a single call with nothing to look up.
    """

    @property
    def name(self) -> AlgorithmName: ...

    @property
    def kty(self) -> str: ...

    @property
    def crv(self) -> str | None: ...

    def generate(self) -> PrivateKey: ...

    def accepts(self, key: PublicKey) -> bool: ...

    def signer(self, key: PrivateKey) -> Signer: ...

    def verifier(self, key: PublicKey) -> Verifier: ...


@dataclass(frozen=True, slots=True)
class _Rsa:
    name: AlgorithmName
    kty: str
    crv: None
    pad: padding.AsymmetricPadding

    def generate(self) -> PrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)

    def accepts(self, key: PublicKey) -> bool:
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= RSA_KEY_SIZE

    def signer(self, key: PrivateKey) -> Signer:
        sign, pad = cast("rsa.RSAPrivateKey", key).sign, self.pad
        return lambda data: sign(data, pad, _SHA256)

    def verifier(self, key: PublicKey) -> Verifier:
        check, pad = cast("rsa.RSAPublicKey", key).verify, self.pad

        def verify(data: bytes, signature: bytes) -> bool:
            try:
                check(signature, data, pad, _SHA256)
            except InvalidSignature:
                return False
            return True

        return verify


@dataclass(frozen=True, slots=True)
class _RsaPkcs1v15(_Rsa):
    """RS256, verified as RFC 8017 section 8.2.2 words it: encode, then compare.

    OpenSSL recovers the encoded message and checks its ``00 01 FF.. 00``
    padding (at least 8 bytes of FF); what follows must equal the DigestInfo
    of SHA-256 over the data, byte for byte, so exactly one encoded message
    passes, as with ``key.verify``. It skips ``key.verify``'s per-call digest
    lookup and DigestInfo parsing: about a tenth of the whole verification.
    """

    def verifier(self, key: PublicKey) -> Verifier:
        rsa_key, pad = cast("rsa.RSAPublicKey", key), self.pad
        recover, length = rsa_key.recover_data_from_signature, (rsa_key.key_size + 7) // 8

        def verify(data: bytes, signature: bytes) -> bool:
            # OpenSSL reads a short signature as the same number; key.verify refuses it, so must this.
            if len(signature) != length:
                return False
            try:
                recovered = recover(signature, pad, None)
            except InvalidSignature:
                return False
            return recovered == _SHA256_DIGEST_INFO + sha256(data).digest()

        return verify


@dataclass(frozen=True, slots=True)
class _Ecdsa:
    """ECDSA with the JWS signature form: raw, fixed-length R || S."""

    name: AlgorithmName
    kty: str
    crv: str
    curve: ec.EllipticCurve
    ecdsa: ec.ECDSA
    size: int
    order: int

    def generate(self) -> PrivateKey:
        return ec.generate_private_key(self.curve)

    def accepts(self, key: PublicKey) -> bool:
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == self.curve.name

    def signer(self, key: PrivateKey) -> Signer:
        sign, ecdsa, size = cast("ec.EllipticCurvePrivateKey", key).sign, self.ecdsa, self.size

        def sign_raw(data: bytes) -> bytes:
            der = sign(data, ecdsa)
            # OpenSSL's own DER, read directly (a third of the cost of decode_dss_signature and
            # to_bytes): SEQUENCE { INTEGER r, INTEGER s } with short-form lengths, as every
            # length is under 128 for P-256 and P-384. Each INTEGER is minimal and positive: at
            # most size + 1 bytes, the extra one a leading zero, so the last ``size`` bytes,
            # left-padded with zeros, are its fixed-length form.
            r_end = 4 + der[3]
            return der[4:r_end][-size:].rjust(size, b"\0") + der[r_end + 2 :][-size:].rjust(size, b"\0")

        return sign_raw

    def verifier(self, key: PublicKey) -> Verifier:
        check, ecdsa, size, order = (
            cast("ec.EllipticCurvePublicKey", key).verify,
            self.ecdsa,
            self.size,
            self.order,
        )

        def verify(data: bytes, signature: bytes) -> bool:
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            if not (0 < r < order and 0 < s < order):
                return False
            try:
                check(encode_dss_signature(r, s), data, ecdsa)
            except InvalidSignature:
                return False
            return True

        return verify


@dataclass(frozen=True, slots=True)
class _EdDsa:
    name: AlgorithmName
    kty: str
    crv: str

    def generate(self) -> PrivateKey:
        return ed25519.Ed25519PrivateKey.generate()

    def accepts(self, key: PublicKey) -> bool:
        return isinstance(key, ed25519.Ed25519PublicKey)

    def signer(self, key: PrivateKey) -> Signer:
        return cast("ed25519.Ed25519PrivateKey", key).sign

    def verifier(self, key: PublicKey) -> Verifier:
        check = cast("ed25519.Ed25519PublicKey", key).verify

        def verify(data: bytes, signature: bytes) -> bool:
            try:
                check(signature, data)
            except InvalidSignature:
                return False
            return True

        return verify


_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_ORDER: Final = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)

ALGORITHMS: Final[Mapping[str, Algorithm]] = MappingProxyType(
    {
        "RS256": _RsaPkcs1v15("RS256", "RSA", None, _PKCS1V15),
        "PS256": _Rsa("PS256", "RSA", None, _PSS),
        "ES256": _Ecdsa("ES256", "EC", "P-256", ec.SECP256R1(), ec.ECDSA(hashes.SHA256()), 32, _P256_ORDER),
        "ES384": _Ecdsa("ES384", "EC", "P-384", ec.SECP384R1(), ec.ECDSA(hashes.SHA384()), 48, _P384_ORDER),
        "EdDSA": _EdDsa("EdDSA", "OKP", "Ed25519"),
    }
)
"""Every algorithm jwtseal signs or verifies with, keyed by its JWS ``alg``."""

SUPPORTED_ALGORITHMS: Final[tuple[str, ...]] = tuple(ALGORITHMS)

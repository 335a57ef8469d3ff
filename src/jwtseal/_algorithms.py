"""The closed, read-only registry of signature algorithms.

Only RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA
(Ed25519) exist here: no ``none``, no HMAC, and no way to register another.
Each algorithm names the key type (and curve) it needs, so a key can only
ever be used with its own algorithm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import sha256, sha384, sha512
from types import MappingProxyType
from typing import Final, Literal, Protocol, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

AlgorithmName = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

RSA_KEY_SIZE: Final = 2048
_PKCS1V15: Final = padding.PKCS1v15()
# DER of DigestInfo { shaN, NULL } up to the digest (RFC 8017 section 9.2, note 1).
_SHA256_DIGEST_INFO: Final = bytes.fromhex("3031300d060960864801650304020105000420")
_SHA384_DIGEST_INFO: Final = bytes.fromhex("3041300d060960864801650304020205000430")
_SHA512_DIGEST_INFO: Final = bytes.fromhex("3051300d060960864801650304020305000440")


class _Hash(Protocol):
    def digest(self) -> bytes: ...


HashFunction = Callable[[bytes], _Hash]
"""A one-shot hash, as ``hashlib.sha256`` is."""


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
    """RSA through ``key.sign`` and ``key.verify``: the PS* algorithms.

    RSASSA-PSS as RFC 7518 section 3.5 has it: MGF1 with the message's hash
    and a salt as long as the hash, set rather than left to "auto", so a
    signature with any other salt length is refused.
    """

    name: AlgorithmName
    kty: str
    crv: None
    pad: padding.AsymmetricPadding
    digest: hashes.HashAlgorithm

    def generate(self) -> PrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)

    def accepts(self, key: PublicKey) -> bool:
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= RSA_KEY_SIZE

    def signer(self, key: PrivateKey) -> Signer:
        sign, pad, digest = cast("rsa.RSAPrivateKey", key).sign, self.pad, self.digest
        return lambda data: sign(data, pad, digest)

    def verifier(self, key: PublicKey) -> Verifier:
        rsa_key, pad, digest = cast("rsa.RSAPublicKey", key), self.pad, self.digest
        check, length = rsa_key.verify, (rsa_key.key_size + 7) // 8

        def verify(data: bytes, signature: bytes) -> bool:
            # RFC 8017 section 8.1.2 step 1: exactly k octets. OpenSSL reads a short PSS signature
            # as the same number, so one starting with 00 would have a second, shorter spelling.
            if len(signature) != length:
                return False
            try:
                check(signature, data, pad, digest)
            except InvalidSignature:
                return False
            return True

        return verify


@dataclass(frozen=True, slots=True)
class _RsaPkcs1v15(_Rsa):
    """RS256, RS384 and RS512, verified as RFC 8017 section 8.2.2 words it: encode, then compare.

    OpenSSL recovers the encoded message and checks its ``00 01 FF.. 00``
    padding (at least 8 bytes of FF); what follows must equal the DigestInfo
    of the hash over the data, byte for byte, so exactly one encoded message
    passes, as with ``key.verify``. It skips ``key.verify``'s per-call digest
    lookup and DigestInfo parsing: about a tenth of the whole verification.
    """

    digest_info: bytes
    hash_function: HashFunction

    def verifier(self, key: PublicKey) -> Verifier:
        rsa_key, pad, digest_info, hash_ = (
            cast("rsa.RSAPublicKey", key),
            self.pad,
            self.digest_info,
            self.hash_function,
        )
        recover, length = rsa_key.recover_data_from_signature, (rsa_key.key_size + 7) // 8

        def verify(data: bytes, signature: bytes) -> bool:
            # OpenSSL reads a short signature as the same number; key.verify refuses it, so must this.
            if len(signature) != length:
                return False
            try:
                recovered = recover(signature, pad, None)
            except InvalidSignature:
                return False
            return recovered == digest_info + hash_(data).digest()

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
            # to_bytes): SEQUENCE { INTEGER r, INTEGER s }. The SEQUENCE's length is one byte
            # under 128 and 0x81 then one byte from 128 to 255 (P-521's 136 at most); each
            # INTEGER's length is under 128 on every curve here. Each INTEGER is minimal and
            # positive: at most size + 1 bytes, the extra one a leading zero, so the last
            # ``size`` bytes, left-padded with zeros, are its fixed-length form.
            r_start = 5 if der[1] == 0x81 else 4
            r_end = r_start + der[r_start - 1]
            return der[r_start:r_end][-size:].rjust(size, b"\0") + der[r_end + 2 :][-size:].rjust(size, b"\0")

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
_P521_ORDER: Final = int(
    "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)


def _pkcs1(
    name: AlgorithmName, digest: hashes.HashAlgorithm, digest_info: bytes, hash_: HashFunction
) -> Algorithm:
    return _RsaPkcs1v15(name, "RSA", None, _PKCS1V15, digest, digest_info, hash_)


def _pss(name: AlgorithmName, digest: hashes.HashAlgorithm) -> Algorithm:
    pad = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    return _Rsa(name, "RSA", None, pad, digest)


def _ecdsa(
    name: AlgorithmName, crv: str, curve: ec.EllipticCurve, digest: hashes.HashAlgorithm, order: int
) -> Algorithm:
    return _Ecdsa(name, "EC", crv, curve, ec.ECDSA(digest), (curve.key_size + 7) // 8, order)


ALGORITHMS: Final[Mapping[str, Algorithm]] = MappingProxyType(
    {
        "RS256": _pkcs1("RS256", hashes.SHA256(), _SHA256_DIGEST_INFO, sha256),
        "RS384": _pkcs1("RS384", hashes.SHA384(), _SHA384_DIGEST_INFO, sha384),
        "RS512": _pkcs1("RS512", hashes.SHA512(), _SHA512_DIGEST_INFO, sha512),
        "PS256": _pss("PS256", hashes.SHA256()),
        "PS384": _pss("PS384", hashes.SHA384()),
        "PS512": _pss("PS512", hashes.SHA512()),
        "ES256": _ecdsa("ES256", "P-256", ec.SECP256R1(), hashes.SHA256(), _P256_ORDER),
        "ES384": _ecdsa("ES384", "P-384", ec.SECP384R1(), hashes.SHA384(), _P384_ORDER),
        "ES512": _ecdsa("ES512", "P-521", ec.SECP521R1(), hashes.SHA512(), _P521_ORDER),
        "EdDSA": _EdDsa("EdDSA", "OKP", "Ed25519"),
    }
)
"""Every algorithm jwtseal signs or verifies with, keyed by its JWS ``alg``."""

SUPPORTED_ALGORITHMS: Final[tuple[str, ...]] = tuple(ALGORITHMS)

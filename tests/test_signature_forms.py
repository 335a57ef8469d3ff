"""Signatures in their JWS form, at the edges of their encodings.

RS256 verification must accept exactly the one encoded message RFC 8017
allows, as cryptography's own ``verify`` does; ECDSA signing must write
fixed-length ``r || s`` whatever the lengths of the DER integers it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from jwtseal import BadSignature, SigningKey
from tests.tokens import NOW, sign_claims, signing_key, unb64, verifier_for, with_signature

DATA = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"
SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
SHA256_INFO_WITHOUT_NULL = bytes.fromhex("302f300b06096086480165030402010420")
SHA512_INFO = bytes.fromhex("3051300d060960864801650304020305000440")


def _int(member: str) -> int:
    return int.from_bytes(unb64(member), "big")


def _rsa_numbers(key: SigningKey) -> tuple[int, int, int]:
    jwk = key.to_private_jwk()
    return _int(jwk["n"]), _int(jwk["e"]), _int(jwk["d"])


def _reference_accepts(key: SigningKey, signature: bytes) -> bool:
    """What cryptography's own verify says, the behaviour RS256 must keep."""
    n, e, _ = _rsa_numbers(key)
    public = rsa.RSAPublicNumbers(e, n).public_key()
    try:
        public.verify(signature, DATA, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _encoded(block: bytes, tail: bytes, *, pad_byte: int = 0xFF, k: int = 256) -> int:
    """00 || block || PS || 00 || tail, PS filling the rest of k bytes."""
    return int.from_bytes(b"\0" + block + bytes([pad_byte]) * (k - 3 - len(tail)) + b"\0" + tail, "big")


def _forged_encodings() -> dict[str, Callable[[bytes], int]]:
    """Encoded messages that are not EMSA-PKCS1-v1_5 of DATA with SHA-256, by the digest."""
    return {
        "digest-info-without-null": lambda h: _encoded(b"\1", SHA256_INFO_WITHOUT_NULL + h),
        "sha512-digest-info": lambda h: _encoded(b"\1", SHA512_INFO + hashlib.sha512(DATA).digest()),
        "trailing-byte": lambda h: _encoded(b"\1", SHA256_INFO + h + b"\0"),
        "hash-alone": lambda h: _encoded(b"\1", h),
        "block-type-2": lambda h: _encoded(b"\2", SHA256_INFO + h),
        "padding-not-ff": lambda h: _encoded(b"\1", SHA256_INFO + h, pad_byte=0xFE),
        "seven-padding-bytes": lambda h: _encoded(b"\1", bytes(256 - 3 - 7 - 51) + SHA256_INFO + h),
        "other-digest": lambda h: _encoded(b"\1", SHA256_INFO + hashlib.sha256(b"other").digest()),
    }


def test_rs256_accepts_the_rfc_8017_encoding_signed_by_hand() -> None:
    key = signing_key("RS256")
    n, _, d = _rsa_numbers(key)
    signature = pow(_encoded(b"\1", SHA256_INFO + hashlib.sha256(DATA).digest()), d, n).to_bytes(256, "big")
    assert signature == key.sign(DATA)  # PKCS#1 v1.5 is deterministic: this is the one signature
    assert key.public.verify(DATA, signature)


@pytest.mark.parametrize("form", list(_forged_encodings()))
def test_rs256_refuses_every_other_encoded_message(form: str) -> None:
    key = signing_key("RS256")
    n, _, d = _rsa_numbers(key)
    encoded = _forged_encodings()[form](hashlib.sha256(DATA).digest())
    signature = pow(encoded, d, n).to_bytes(256, "big")
    assert not key.public.verify(DATA, signature)
    assert not _reference_accepts(key, signature)


@pytest.mark.parametrize("value", ["zero", "one", "n-1", "n", "all-ones"])
def test_rs256_refuses_signature_values_outside_the_group(value: str) -> None:
    key = signing_key("RS256")
    n, _, _ = _rsa_numbers(key)
    number = {"zero": 0, "one": 1, "n-1": n - 1, "n": n, "all-ones": 2**2048 - 1}[value]
    signature = number.to_bytes(256, "big")
    assert not key.public.verify(DATA, signature)
    assert not _reference_accepts(key, signature)


def test_rs256_refuses_a_signature_without_its_leading_zero_byte() -> None:
    """The same number in 255 bytes is another spelling of the signature: refused."""
    key = signing_key("RS256")
    tokens = (sign_claims(key, {"sub": "alice", "exp": NOW + 600, "n": n}) for n in range(10_000))
    token = next(t for t in tokens if unb64(t.rsplit(".", 1)[1])[0] == 0)
    verifier = verifier_for(key)
    assert verifier.verify(token).claims["sub"] == "alice"
    short = unb64(token.rsplit(".", 1)[1])[1:]
    assert not _reference_accepts(key, short)
    with pytest.raises(BadSignature):
        verifier.verify(with_signature(token, short))
    with pytest.raises(BadSignature):
        verifier.verify(with_signature(token, b"\0" + unb64(token.rsplit(".", 1)[1])))


@pytest.mark.parametrize(
    ("alg", "curve", "size"), [("ES256", ec.SECP256R1(), 32), ("ES384", ec.SECP384R1(), 48)]
)
def test_ecdsa_signatures_are_fixed_length_r_and_s_for_every_integer_length(
    alg: str, curve: ec.EllipticCurve, size: int
) -> None:
    key = signing_key(alg)
    jwk = key.public.to_jwk()
    public = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve).public_key()
    digest = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
    lengths: set[tuple[bool, bool]] = set()
    for n in range(2_000):
        data = b"signing input %d" % n
        signature = key.sign(data)
        assert len(signature) == 2 * size
        r, s = signature[:size], signature[size:]
        # DER keeps a leading zero when the top bit is set and drops zero bytes: both occur here.
        forms = {(part[0] == 0, part[0] >= 0x80) for part in (r, s)}
        if n < 20 or forms - lengths:  # every new form, checked by cryptography itself
            der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
            public.verify(der, data, ec.ECDSA(digest))  # raises if r or s were misread
        lengths |= forms
    assert lengths == {(True, False), (False, True), (False, False)}

"""Signatures in their JWS form, at the edges of their encodings.

RS256, RS384 and RS512 verification must accept exactly the one encoded
message RFC 8017 allows, as cryptography's own ``verify`` does; PS256, PS384
and PS512 only a salt as long as the hash and MGF1 with that hash (RFC 7518
section 3.5); ECDSA signing must write fixed-length ``r || s`` whatever the
lengths of the DER integers it reads.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from jwtseal import BadSignature, SigningKey, VerifyingKey
from jwtseal._algorithms import ALGORITHMS
from tests.tokens import NOW, sign_claims, signing_key, unb64, verifier_for, with_signature

DATA = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"
K = 256  # bytes in a 2048-bit modulus


@dataclass(frozen=True, slots=True)
class Pkcs1:
    """One RS* algorithm: its hash and the DER DigestInfo prefixes (RFC 8017 section 9.2, note 1)."""

    hash: Callable[[bytes], Any]
    digest: hashes.HashAlgorithm
    info: bytes
    info_without_null: bytes

    def of(self, data: bytes) -> bytes:
        digest: bytes = self.hash(data).digest()
        return digest


PKCS1 = {
    "RS256": Pkcs1(
        hashlib.sha256,
        hashes.SHA256(),
        bytes.fromhex("3031300d060960864801650304020105000420"),
        bytes.fromhex("302f300b06096086480165030402010420"),
    ),
    "RS384": Pkcs1(
        hashlib.sha384,
        hashes.SHA384(),
        bytes.fromhex("3041300d060960864801650304020205000430"),
        bytes.fromhex("303f300b06096086480165030402020430"),
    ),
    "RS512": Pkcs1(
        hashlib.sha512,
        hashes.SHA512(),
        bytes.fromhex("3051300d060960864801650304020305000440"),
        bytes.fromhex("304f300b06096086480165030402030440"),
    ),
}


def _int(member: str) -> int:
    return int.from_bytes(unb64(member), "big")


def _rsa_numbers(key: SigningKey) -> tuple[int, int, int]:
    jwk = key.to_private_jwk()
    return _int(jwk["n"]), _int(jwk["e"]), _int(jwk["d"])


def _rsa_private(key: SigningKey) -> rsa.RSAPrivateKey:
    """The cryptography object of a jwtseal RSA key, built from its stored JWK."""
    jwk = key.to_private_jwk()
    public = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"]))
    names = ("p", "q", "d", "dp", "dq", "qi")
    p, q, d, dp, dq, qi = (_int(jwk[name]) for name in names)
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()


def _reference_accepts(key: SigningKey, signature: bytes) -> bool:
    """What cryptography's own verify says, the behaviour every RS* must keep."""
    n, e, _ = _rsa_numbers(key)
    public = rsa.RSAPublicNumbers(e, n).public_key()
    try:
        public.verify(signature, DATA, padding.PKCS1v15(), PKCS1[key.alg].digest)
    except InvalidSignature:
        return False
    return True


def _encoded(block: bytes, tail: bytes, *, pad_byte: int = 0xFF) -> int:
    """00 || block || PS || 00 || tail, PS filling the rest of K bytes."""
    return int.from_bytes(b"\0" + block + bytes([pad_byte]) * (K - 3 - len(tail)) + b"\0" + tail, "big")


def _forged_encodings(alg: str) -> dict[str, int]:
    """Encoded messages that are not EMSA-PKCS1-v1_5 of DATA with ``alg``'s hash."""
    own = PKCS1[alg]
    info, h = own.info, own.of(DATA)
    forms = {
        "digest-info-without-null": _encoded(b"\1", own.info_without_null + h),
        "trailing-byte": _encoded(b"\1", info + h + b"\0"),
        "hash-alone": _encoded(b"\1", h),
        "block-type-2": _encoded(b"\2", info + h),
        "padding-not-ff": _encoded(b"\1", info + h, pad_byte=0xFE),
        "seven-padding-bytes": _encoded(b"\1", bytes(K - 3 - 7 - len(info + h)) + info + h),
        "other-data": _encoded(b"\1", info + own.of(b"other")),
    }
    for other, form in PKCS1.items():
        if other != alg:  # the genuine encoding of another RS* over the same data, and a hybrid
            forms[f"{other}-encoding"] = _encoded(b"\1", form.info + form.of(DATA))
            forms[f"{other}-info-own-hash"] = _encoded(b"\1", form.info + h)
    return forms


@pytest.mark.parametrize("alg", PKCS1)
def test_rs_accepts_the_rfc_8017_encoding_signed_by_hand(alg: str) -> None:
    key = signing_key(alg)
    n, _, d = _rsa_numbers(key)
    form = PKCS1[alg]
    signature = pow(_encoded(b"\1", form.info + form.of(DATA)), d, n).to_bytes(K, "big")
    assert signature == key.sign(DATA)  # PKCS#1 v1.5 is deterministic: this is the one signature
    assert key.public.verify(DATA, signature)
    assert _reference_accepts(key, signature)


def test_rs_digest_info_prefixes_are_the_ones_openssl_writes() -> None:
    for alg, form in PKCS1.items():
        private = _rsa_private(signing_key(alg))
        signature = private.sign(DATA, padding.PKCS1v15(), form.digest)
        recovered = private.public_key().recover_data_from_signature(signature, padding.PKCS1v15(), None)
        assert recovered == form.info + form.of(DATA), alg


@pytest.mark.parametrize(("alg", "form"), [(alg, form) for alg in PKCS1 for form in _forged_encodings(alg)])
def test_rs_refuses_every_other_encoded_message(alg: str, form: str) -> None:
    key = signing_key(alg)
    n, _, d = _rsa_numbers(key)
    signature = pow(_forged_encodings(alg)[form], d, n).to_bytes(K, "big")
    assert not key.public.verify(DATA, signature)
    assert not _reference_accepts(key, signature)


@pytest.mark.parametrize("alg", PKCS1)
@pytest.mark.parametrize("value", ["zero", "one", "n-1", "n", "all-ones"])
def test_rs_refuses_signature_values_outside_the_group(alg: str, value: str) -> None:
    key = signing_key(alg)
    n, _, _ = _rsa_numbers(key)
    number = {"zero": 0, "one": 1, "n-1": n - 1, "n": n, "all-ones": 2**2048 - 1}[value]
    signature = number.to_bytes(K, "big")
    assert not key.public.verify(DATA, signature)
    assert not _reference_accepts(key, signature)


@pytest.mark.parametrize("alg", PKCS1)
def test_rs_refuses_a_signature_without_its_leading_zero_byte(alg: str) -> None:
    """The same number in 255 bytes is another spelling of the signature: refused."""
    key = signing_key(alg)
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


# RSASSA-PSS ------------------------------------------------------------------------------

PSS_HASHES = {"PS256": hashes.SHA256(), "PS384": hashes.SHA384(), "PS512": hashes.SHA512()}


def _pss(mgf_hash: hashes.HashAlgorithm, salt_length: int) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=salt_length)


@pytest.mark.parametrize("alg", PSS_HASHES)
def test_ps_signs_with_mgf1_of_its_hash_and_a_salt_as_long_as_the_hash(alg: str) -> None:
    key, digest = signing_key(alg), PSS_HASHES[alg]
    public = _rsa_private(key).public_key()
    signature = key.sign(DATA)

    public.verify(signature, DATA, _pss(digest, digest.digest_size), digest)  # raises if not
    assert key.sign(DATA) != signature  # a fresh random salt each time
    for wrong in {0, 20, 32, 48, 64} - {digest.digest_size}:
        with pytest.raises(InvalidSignature):
            public.verify(signature, DATA, _pss(digest, wrong), digest)


@pytest.mark.parametrize("alg", PSS_HASHES)
def test_ps_verifies_only_its_own_hash_mgf1_and_salt_length(alg: str) -> None:
    key, digest = signing_key(alg), PSS_HASHES[alg]
    private = _rsa_private(key)
    lengths = {0, 20, 32, 48, 64, digest.digest_size - 1, digest.digest_size + 1}
    variants = [
        (message_hash, mgf_hash, salt)
        for message_hash in PSS_HASHES.values()
        for mgf_hash in PSS_HASHES.values()
        for salt in lengths | {digest.digest_size}
    ]

    verdicts = {
        (m.name, g.name, salt): key.public.verify(DATA, private.sign(DATA, _pss(g, salt), m))
        for m, g, salt in variants
    }

    assert {variant for variant, ok in verdicts.items() if ok} == {
        (digest.name, digest.name, digest.digest_size)
    }


@functools.cache
def _rsa_3072() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _b64(value: int) -> str:
    return (
        base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    )


@pytest.mark.parametrize("alg", [*PKCS1, "PS256", "PS384", "PS512"])
def test_rsa_keys_over_2048_bits_verify_what_cryptography_verifies(alg: str) -> None:
    # API.md: RSA 2048 or more. The RS* fast path sizes the signature by the key: 384 bytes here.
    private = _rsa_3072()
    numbers = private.public_key().public_numbers()
    key = VerifyingKey.from_jwk({"kty": "RSA", "alg": alg, "n": _b64(numbers.n), "e": _b64(numbers.e)})
    pad = padding.PKCS1v15() if alg in PKCS1 else _pss(PSS_HASHES[alg], PSS_HASHES[alg].digest_size)
    signature = private.sign(DATA, pad, PKCS1[alg].digest if alg in PKCS1 else PSS_HASHES[alg])

    assert len(signature) == 384
    assert key.verify(DATA, signature)
    assert not key.verify(DATA + b"x", signature)
    assert not key.verify(DATA, signature[1:] if signature[0] == 0 else signature[:-1])
    assert not key.verify(DATA, b"\0" + signature)


# ECDSA ----------------------------------------------------------------------------------

EC_FORMS = {
    "ES256": (ec.SECP256R1(), 32, hashes.SHA256()),
    "ES384": (ec.SECP384R1(), 48, hashes.SHA384()),
    "ES512": (ec.SECP521R1(), 66, hashes.SHA512()),
}
# (first byte zero, top bit set) of r and s in their fixed-length form. A P-521 number has 521
# bits, so its first byte of 66 is 0 or 1: never the top bit, and no DER leading zero byte.
EXPECTED_FORMS = {
    "ES256": {(True, False), (False, True), (False, False)},
    "ES384": {(True, False), (False, True), (False, False)},
    "ES512": {(True, False), (False, False)},
}


@pytest.mark.parametrize("alg", EC_FORMS)
def test_ecdsa_signatures_are_fixed_length_r_and_s_for_every_integer_length(alg: str) -> None:
    curve, size, digest = EC_FORMS[alg]
    key = signing_key(alg)
    jwk = key.public.to_jwk()
    public = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve).public_key()
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
    assert lengths == EXPECTED_FORMS[alg]


class _FixedDer:
    """Stands in for a private key whose ``sign`` returns one chosen DER signature."""

    def __init__(self, der: bytes) -> None:
        self.der = der

    def sign(self, data: bytes, algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        return self.der


@st.composite
def _r_and_s(draw: st.DrawFn, alg: str) -> tuple[int, int]:
    # Bits drawn first, so that short numbers (a P-521 SEQUENCE under 128 bytes, which random
    # signatures give with odds near 2**-70) come up as often as full-size ones.
    size = EC_FORMS[alg][1]
    number = st.integers(1, 8 * size).flatmap(lambda bits: st.integers(1, 2**bits - 1))
    return draw(number), draw(number)


@pytest.mark.parametrize("alg", EC_FORMS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_ecdsa_der_reading_gives_r_and_s_for_every_der_length_form(alg: str, data: st.DataObject) -> None:
    # The signer reads OpenSSL's DER by hand: short and long (0x81) SEQUENCE lengths, integers
    # of any length up to the curve's size, with and without a leading zero byte.
    r, s = data.draw(_r_and_s(alg))
    size = EC_FORMS[alg][1]
    der = encode_dss_signature(r, s)

    raw = ALGORITHMS[alg].signer(cast("ec.EllipticCurvePrivateKey", _FixedDer(der)))(DATA)

    assert raw == r.to_bytes(size, "big") + s.to_bytes(size, "big")

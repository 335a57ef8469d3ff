"""Keys: generation, RFC 7638 kids, JWK import and export, and secrets that never print.

Every refusal on import is ``InvalidKey``; a key set skips what it cannot use
instead of failing as a whole.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk as jwcrypto_jwk

from jwtseal import (
    SUPPORTED_ALGORITHMS,
    AlgNotAllowed,
    FileKeyStore,
    InvalidKey,
    JwksUnavailable,
    KeyRing,
    PublicKeySet,
    RotationPolicy,
    SigningKey,
    VerifyingKey,
)
from jwtseal.apikeys import ApiKeys
from jwtseal.cli import main
from jwtseal.settings import Settings, SettingsError
from tests.tokens import ALGORITHMS, b64, sign_claims, signing_key, verifier_for

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_CURVES = {"ES256": ("P-256", 32), "ES384": ("P-384", 48), "ES512": ("P-521", 66)}
TYPE_OF = {
    **dict.fromkeys(RSA_ALGORITHMS, ("RSA", None)),
    **{alg: ("EC", crv) for alg, (crv, _) in EC_CURVES.items()},
    "EdDSA": ("OKP", "Ed25519"),
}
SHAPE_OF_TYPE = {
    "RSA": {"kty", "kid", "use", "alg", "n", "e"},
    "EC": {"kty", "kid", "use", "alg", "crv", "x", "y"},
    "OKP": {"kty", "kid", "use", "alg", "crv", "x"},
}
PUBLIC_SHAPE = {alg: SHAPE_OF_TYPE[kty] for alg, (kty, _) in TYPE_OF.items()}
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}

# RFC 7638 section 3.1: the example key and its SHA-256 thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
        "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8K"
        "JZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_x"
        "BniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 section 3, computed here independently of jwtseal."""
    required = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


def public_of(alg: str) -> dict[str, Any]:
    return dict(signing_key(alg).public.to_jwk())


def private_of(alg: str) -> dict[str, Any]:
    return signing_key(alg).to_private_jwk()


def _uint(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@functools.cache
def weak_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_jwk(key: rsa.RSAPrivateKey, *, private: bool = False) -> dict[str, Any]:
    """The JWK of a pyca RSA key, built without jwtseal."""
    numbers = key.private_numbers()
    jwk = {
        "kty": "RSA",
        "alg": "RS256",
        "n": _uint(numbers.public_numbers.n),
        "e": _uint(numbers.public_numbers.e),
    }
    if private:
        jwk |= {
            "d": _uint(numbers.d),
            "p": _uint(numbers.p),
            "q": _uint(numbers.q),
            "dp": _uint(numbers.dmp1),
            "dq": _uint(numbers.dmq1),
            "qi": _uint(numbers.iqmp),
        }
    return jwk


# Generation and kids -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_generate_makes_a_key_of_each_algorithm(alg: str) -> None:
    key = SigningKey.generate(alg)
    public = key.public.to_jwk()

    assert key.alg == key.public.alg == public["alg"] == alg
    assert (public["kty"], public.get("crv")) == TYPE_OF[alg]
    if public["kty"] == "RSA":
        assert len(base64.urlsafe_b64decode(public["n"] + "==")) * 8 == 2048
        assert public["e"] == "AQAB"
    assert SigningKey.generate(alg).kid != key.kid


def test_the_registry_is_exactly_the_ten_algorithms() -> None:
    assert set(SUPPORTED_ALGORITHMS) == set(ALGORITHMS) == set(TYPE_OF)
    assert len(ALGORITHMS) == 10


@pytest.mark.parametrize(
    "alg", ["HS256", "none", "RS1", "PS", "ES521", "ES256K", "rs384", "Ed25519", "Ed448", "RS512 ", ""]
)
def test_generate_refuses_algorithms_outside_the_registry(alg: str) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.generate(alg)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_kid_is_the_rfc7638_thumbprint(alg: str) -> None:
    key = signing_key(alg)
    public = key.public.to_jwk()

    assert key.kid == key.public.kid == public["kid"]
    assert key.kid == thumbprint(dict(public))
    assert key.kid == jwcrypto_jwk.JWK(**public).thumbprint()


def test_rfc7638_example_key_has_the_rfcs_thumbprint() -> None:
    without_kid = {name: value for name, value in RFC7638_JWK.items() if name != "kid"}

    assert thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT
    assert VerifyingKey.from_jwk(without_kid).kid == RFC7638_THUMBPRINT
    assert VerifyingKey.from_jwk(RFC7638_JWK).kid == "2011-04-29"


def test_thumbprint_ignores_member_order_and_non_key_members() -> None:
    shuffled = {"e": "AQAB", "use": "sig", "x5u": "https://example.com", "n": RFC7638_JWK["n"], "kty": "RSA"}

    assert VerifyingKey.from_jwk(shuffled).kid == RFC7638_THUMBPRINT


# JWK export and import -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_public_jwk_has_its_members_and_no_private_ones(alg: str) -> None:
    public = public_of(alg)

    assert set(public) == PUBLIC_SHAPE[alg]
    assert public["use"] == "sig"
    assert not set(public) & set(PRIVATE_MEMBERS)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_importing_a_private_jwk_as_public_drops_the_private_members(alg: str) -> None:
    imported = VerifyingKey.from_jwk(private_of(alg))

    assert dict(imported.to_jwk()) == public_of(alg)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_private_jwk_round_trips(alg: str) -> None:
    original = signing_key(alg)
    stored = json.loads(json.dumps(original.to_private_jwk()))

    loaded = SigningKey.from_private_jwk(stored)

    assert (loaded.kid, loaded.alg) == (original.kid, original.alg)
    assert loaded.to_private_jwk() == original.to_private_jwk()
    assert verifier_for(original).verify(sign_claims(loaded, {"sub": "alice"})).claims == {"sub": "alice"}
    assert set(stored) & set(PRIVATE_MEMBERS) == (set(PRIVATE_MEMBERS) if alg in RSA_ALGORITHMS else {"d"})


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_private_jwk_without_kid_or_alg_loads_with_the_thumbprint_and_implied_alg(alg: str) -> None:
    stored = {name: value for name, value in private_of(alg).items() if name not in ("kid", "alg")}

    loaded = SigningKey.from_private_jwk(stored)

    assert loaded.kid == signing_key(alg).kid
    assert loaded.alg == ("RS256" if alg in RSA_ALGORITHMS else alg)


@pytest.mark.parametrize(
    ("kty", "crv", "implied"),
    [
        ("RSA", None, "RS256"),
        ("EC", "P-256", "ES256"),
        ("EC", "P-384", "ES384"),
        ("EC", "P-521", "ES512"),
        ("OKP", "Ed25519", "EdDSA"),
    ],
)
def test_a_jwk_without_alg_gets_the_implied_one(kty: str, crv: str | None, implied: str) -> None:
    alg = next(alg for alg, kind in TYPE_OF.items() if kind == (kty, crv))
    jwk = {name: value for name, value in public_of(alg).items() if name != "alg"}

    assert VerifyingKey.from_jwk(jwk).alg == implied
    assert PublicKeySet.from_document({"keys": [jwk]}).find(jwk["kid"]) is not None


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "PS384", "PS512"])
def test_an_rsa_jwk_without_alg_verifies_only_rs256_tokens(alg: str) -> None:
    # The implied algorithm of an RSA key is RS256 (as PyJWT's PyJWK has it); any other must be stated.
    key = signing_key(alg)
    jwk = {name: value for name, value in key.public.to_jwk().items() if name != "alg"}
    verifier = verifier_for(VerifyingKey.from_jwk(jwk))

    with pytest.raises(AlgNotAllowed):
        verifier.verify(sign_claims(key, {"sub": "alice"}))
    assert verifier_for(VerifyingKey.from_jwk({**jwk, "alg": alg})).verify(sign_claims(key, {"sub": "bob"}))


def test_a_2048_bit_rsa_key_is_accepted() -> None:
    assert VerifyingKey.from_jwk(RFC7638_JWK).alg == "RS256"


# Refused imports -----------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1024, 2047])
def test_rsa_keys_under_2048_bits_are_refused(bits: int) -> None:
    key = weak_rsa_key(bits)

    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk(rsa_jwk(key))
    with pytest.raises(InvalidKey):
        SigningKey.from_private_jwk(rsa_jwk(key, private=True))
    assert PublicKeySet.from_document({"keys": [rsa_jwk(key)]}).kids == ()


@pytest.mark.parametrize(
    ("alg", "claimed"),
    [
        ("ES384", "ES256"),
        ("ES256", "ES384"),
        ("ES512", "ES384"),
        ("ES384", "ES512"),
        ("ES512", "ES256"),
        ("ES256", "ES512"),
        ("ES512", "PS512"),
        ("RS512", "ES512"),
        ("EdDSA", "ES512"),
        ("EdDSA", "ES256"),
        ("ES256", "EdDSA"),
        ("RS256", "ES256"),
        ("ES256", "RS256"),
        ("EdDSA", "RS256"),
        ("RS256", "EdDSA"),
    ],
)
def test_a_key_type_or_curve_that_does_not_fit_the_alg_is_refused(alg: str, claimed: str) -> None:
    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk({**public_of(alg), "alg": claimed})
    with pytest.raises(InvalidKey):
        SigningKey.from_private_jwk({**private_of(alg), "alg": claimed})


@pytest.mark.parametrize(
    ("alg", "crv"),
    [
        ("ES256", "P-384"),
        ("ES256", "P-521"),
        ("ES384", "P-521"),
        ("ES512", "P-256"),
        ("ES512", "P-384"),
        ("ES512", "secp521r1"),
        ("ES256", "secp256k1"),
        ("EdDSA", "X25519"),
        ("EdDSA", "Ed448"),
    ],
)
def test_a_curve_name_that_does_not_fit_the_alg_is_refused(alg: str, crv: str) -> None:
    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk({**public_of(alg), "crv": crv})


def _corruptions() -> Iterator[Any]:
    spellings: dict[str, Callable[[str], Any]] = {
        "padding": lambda value: value + "=" * (-len(value) % 4 or 4),
        "plus": lambda value: "+" + value[1:],
        "slash": lambda value: "/" + value[1:],
        "space": lambda value: value[:5] + " " + value[5:],
        "spare-bits-or-bad-length": lambda value: (value[:-1] + "_") if len(value) % 4 else (value + "A"),
        "empty": lambda value: "",
        "number": lambda value: 65537,
        "null": lambda value: None,
        "truncated": lambda value: value[:-4],
    }
    members = {"RS256": ("n", "e"), "ES256": ("x", "y"), "ES512": ("x", "y"), "EdDSA": ("x",)}
    for alg, names in members.items():
        for name in names:
            for spelling, corrupt in spellings.items():
                yield pytest.param(alg, name, corrupt, id=f"{alg}-{name}-{spelling}")


@pytest.mark.parametrize(("alg", "name", "corrupt"), list(_corruptions()))
def test_bad_base64url_numbers_are_refused(alg: str, name: str, corrupt: Callable[[str], Any]) -> None:
    jwk = public_of(alg)
    jwk[name] = corrupt(jwk[name])

    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk(jwk)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_missing_number_is_refused(alg: str) -> None:
    for name in PUBLIC_SHAPE[alg] - {"kty", "kid", "use", "alg", "crv"}:
        jwk = public_of(alg)
        del jwk[name]
        with pytest.raises(InvalidKey):
            VerifyingKey.from_jwk(jwk)


def test_ec_point_not_on_the_curve_is_refused() -> None:
    jwk = public_of("ES256")
    y = base64.urlsafe_b64decode(jwk["y"] + "=")
    jwk["y"] = b64(y[:-1] + bytes([y[-1] ^ 1]))

    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk(jwk)


@pytest.mark.parametrize("alg", EC_CURVES)
def test_ec_coordinates_are_exported_at_the_curves_full_size(alg: str) -> None:
    # RFC 7518 section 6.2.1.2: 32, 48 and 66 bytes, even when the number has leading zeros.
    _, size = EC_CURVES[alg]
    keys = [signing_key(alg), *(SigningKey.generate(alg) for _ in range(40))]

    for key in keys:
        jwk = key.public.to_jwk()
        assert len(base64.urlsafe_b64decode(jwk["x"] + "==")) == size
        assert len(base64.urlsafe_b64decode(jwk["y"] + "==")) == size
        assert len(base64.urlsafe_b64decode(key.to_private_jwk()["d"] + "==")) == size
    # P-521 numbers have 521 bits: the first of the 66 bytes is 0 or 1, so short forms are common.
    if alg == "ES512":
        tops = {base64.urlsafe_b64decode(key.public.to_jwk()["x"] + "==")[0] for key in keys}
        assert tops == {0, 1}


CURVE_OBJECTS = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


@functools.cache
def _point_with_a_zero_first_byte(alg: str, member: str) -> dict[str, Any]:
    """A public EC JWK (built without jwtseal) whose ``member`` coordinate starts with a zero byte."""
    _, size = EC_CURVES[alg]
    for scalar in range(1, 10_000):
        point = ec.derive_private_key(scalar, CURVE_OBJECTS[alg]).public_key().public_numbers()
        coordinates = {"x": point.x.to_bytes(size, "big"), "y": point.y.to_bytes(size, "big")}
        if coordinates[member][0] == 0:
            crv = EC_CURVES[alg][0]
            return {
                "kty": "EC",
                "crv": crv,
                "alg": alg,
                **{name: b64(raw) for name, raw in coordinates.items()},
            }
    raise AssertionError("no such point among the first scalars")


@pytest.mark.parametrize("alg", EC_CURVES)
@pytest.mark.parametrize("member", ["x", "y"])
@pytest.mark.parametrize("change", ["zero-byte-added", "zero-byte-dropped"])
def test_an_ec_coordinate_that_is_not_the_curves_full_size_is_refused(
    alg: str, member: str, change: str
) -> None:
    # The same number, one byte longer or shorter than RFC 7518 section 6.2.1.2 allows (PyJWT
    # refuses both too). The full-size form of the same key is accepted.
    full = _point_with_a_zero_first_byte(alg, member)
    raw = base64.urlsafe_b64decode(full[member] + "==")
    jwk = {**full, member: b64(b"\0" + raw if change == "zero-byte-added" else raw[1:])}

    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk(jwk)
    assert PublicKeySet.from_document({"keys": [jwk]}).kids == ()
    assert VerifyingKey.from_jwk(full).alg == alg


@pytest.mark.parametrize(
    "alg",
    ["HS256", "HS512", "none", "RS1", "PS", "ES521", "rs512", "RSA-OAEP", "", 256, None, ["RS256"]],
)
def test_an_unsupported_alg_is_refused(alg: Any) -> None:
    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk({**public_of("RS256"), "alg": alg})


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "h"}, id="hmac-secret"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}, id="oct-without-alg"),
        pytest.param({"kty": "RSA-PSS", "kid": "x"}, id="unknown-kty"),
        pytest.param({"kid": "x"}, id="no-kty"),
        pytest.param({"kty": "EC", "x": "AA", "y": "AA"}, id="ec-without-crv-or-alg"),
        pytest.param({"kty": "OKP", "crv": "X25519", "x": "AA"}, id="x25519"),
    ],
)
def test_keys_jwtseal_has_no_algorithm_for_are_refused(jwk: dict[str, Any]) -> None:
    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk(jwk)


@pytest.mark.parametrize("kid", ["", 123, None, ["kid"]])
def test_a_kid_that_is_not_a_non_empty_string_is_refused(kid: Any) -> None:
    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk({**public_of("EdDSA"), "kid": kid})


def _mismatches() -> Iterator[Any]:
    for name in PRIVATE_MEMBERS:
        yield pytest.param("RS256", name, id=f"RS256-{name}")
    for alg in ("ES256", "ES384", "ES512", "EdDSA"):
        yield pytest.param(alg, "d", id=f"{alg}-d")
        yield pytest.param(alg, "x", id=f"{alg}-x")


@pytest.mark.parametrize(("alg", "member"), list(_mismatches()))
def test_private_and_public_parts_of_different_keys_are_refused(alg: str, member: str) -> None:
    stranger = SigningKey.generate(alg).to_private_jwk() if alg != "RS256" else _stranger_rsa()
    mixed = {**private_of(alg), member: stranger[member]}

    with pytest.raises(InvalidKey) as refused:
        SigningKey.from_private_jwk(mixed)
    _assert_no_secrets([str(refused.value), repr(refused.value), str(refused.value.__cause__)], mixed)


@functools.cache
def _stranger_rsa() -> dict[str, Any]:
    return SigningKey.generate("RS256").to_private_jwk()


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_private_jwk_without_its_private_members_is_refused(alg: str) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.from_private_jwk(public_of(alg))


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_private_jwk_whose_kid_is_not_its_thumbprint_is_refused(alg: str) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.from_private_jwk({**private_of(alg), "kid": "chosen-by-someone-else"})


@pytest.mark.parametrize(
    "d", ["AA", "A" * 43, b64((2**256 - 1).to_bytes(32, "big"))], ids=["zero", "zero-43", "max"]
)
def test_an_ec_private_value_out_of_range_is_refused(d: str) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.from_private_jwk({**private_of("ES256"), "d": d})


JWK_MEMBER = st.one_of(
    st.binary(max_size=300).map(b64),
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    st.sampled_from(["AQAB", "AA", "_w", "A", "AQAB=", "+/+/"]),
)
JWK_NAME = (
    st.sampled_from(["RSA", "EC", "OKP", "oct", "P-256", "P-384", "P-521", "Ed25519", "X25519", None])
    | st.text(max_size=4)
    | st.lists(st.text(max_size=3), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=1)
)
ARBITRARY_JWKS = st.fixed_dictionaries(
    {},
    optional={
        "kty": JWK_NAME,
        "crv": JWK_NAME,
        "alg": st.sampled_from([*ALGORITHMS, "HS256", "none"])
        | st.none()
        | st.integers()
        | st.text(max_size=6),
        "kid": st.none() | st.integers() | st.text(max_size=6),
        "use": st.sampled_from(["sig", "enc"]) | st.none(),
        **dict.fromkeys(("n", "e", "x", "y", *PRIVATE_MEMBERS), JWK_MEMBER),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARBITRARY_JWKS)
def test_arbitrary_jwks_are_imported_or_refused_with_invalid_key_only(jwk: dict[str, Any]) -> None:
    for load in (VerifyingKey.from_jwk, SigningKey.from_private_jwk):
        try:
            loaded = load(jwk)
        except InvalidKey:
            continue
        assert loaded.alg in ALGORITHMS
    assert isinstance(PublicKeySet.from_document({"keys": [jwk]}).kids, tuple)


def test_key_ops_must_allow_verify() -> None:
    for key_ops in (["encrypt"], "verify", []):
        with pytest.raises(InvalidKey, match="key_ops"):
            VerifyingKey.from_jwk({**public_of("ES256"), "key_ops": key_ops})
    assert VerifyingKey.from_jwk({**public_of("ES256"), "key_ops": ["verify"]}).alg == "ES256"


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param({"kty": ["RSA"]}, id="list-kty"),
        pytest.param({"kty": "EC", "crv": {"name": "P-256"}}, id="object-crv"),
        pytest.param({**public_of("ES256"), "crv": ["P-256"]}, id="list-crv-with-alg"),
    ],
)
def test_a_jwk_with_an_unhashable_kty_or_crv_is_refused_and_skipped(jwk: dict[str, Any]) -> None:
    assert PublicKeySet.from_document({"keys": [jwk, public_of("EdDSA")]}).kids == (signing_key("EdDSA").kid,)
    with pytest.raises(InvalidKey):
        VerifyingKey.from_jwk(jwk)


# The configured algorithm: settings, the key ring and `jwtseal keys` -----------------------

ADDED_ALGORITHMS = ("RS384", "RS512", "PS384", "PS512", "ES512")


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwtseal_algorithm_accepts_each_algorithm_of_the_registry(alg: str) -> None:
    assert Settings.load({"JWTSEAL_ALGORITHM": alg}).algorithm == alg


@pytest.mark.parametrize("alg", ["ES521", "es512", "PS512 ", "RSA", "HS512"])
def test_jwtseal_algorithm_refuses_names_outside_the_registry(alg: str) -> None:
    with pytest.raises(SettingsError, match="JWTSEAL_ALGORITHM"):
        Settings.load({"JWTSEAL_ALGORITHM": alg})


@pytest.mark.parametrize("alg", ADDED_ALGORITHMS)
def test_jwtseal_keys_makes_lists_rotates_and_publishes_keys_of_the_configured_algorithm(
    alg: str, tmp_path: Path
) -> None:
    def jwtseal(*args: str) -> str:
        result = CliRunner().invoke(
            main, [*args, "--data-dir", str(tmp_path)], env={"JWTSEAL_ALGORITHM": alg}, catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    rows = json.loads(jwtseal("keys", "list", "--json"))
    assert [(row["state"], row["alg"]) for row in rows] == [("current", alg), ("next", alg)]
    assert [line.split()[1] for line in jwtseal("keys", "list").splitlines()] == ["ALG", alg, alg]
    token = jwtseal("sign", "--claims", '{"sub": "alice"}').strip()
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"] == alg

    jwtseal("keys", "rotate")

    after = json.loads(jwtseal("keys", "list", "--json"))
    assert sorted(row["state"] for row in after) == ["current", "next", "retired"]
    assert {row["alg"] for row in after} == {alg}
    published = json.loads(jwtseal("keys", "jwks"))["keys"]
    assert {(jwk["alg"], jwk["kty"], jwk.get("crv")) for jwk in published} == {(alg, *TYPE_OF[alg])}
    assert json.loads(jwtseal("verify", token))["sub"] == "alice"  # signed by the now retired key


# Public key sets -----------------------------------------------------------------------


def test_a_key_set_keeps_only_usable_keys() -> None:
    usable = [public_of("RS256"), {**public_of("ES256"), "use": "sig"}]
    del usable[0]["use"]
    skipped = [
        {**public_of("ES384"), "use": "enc"},
        {**public_of("EdDSA"), "alg": "RS512"},
        {**public_of("PS256"), "n": "AQAB"},
        {**rsa_jwk(weak_rsa_key(1024)), "kid": "weak"},
        {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "hmac"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AA", "kid": "short"},
        "not a key",
        None,
        ["kty", "RSA"],
    ]

    keys = PublicKeySet.from_document({"keys": [skipped[0], usable[0], *skipped[1:], usable[1]]})

    assert keys.kids == (signing_key("RS256").kid, signing_key("ES256").kid)
    for jwk in skipped:
        if isinstance(jwk, dict):
            assert keys.find(jwk["kid"]) is None


def test_a_kid_that_two_keys_share_is_unusable() -> None:
    first, second = public_of("ES256"), public_of("EdDSA")
    document = {"keys": [{**first, "kid": "dup"}, {**second, "kid": "dup"}, public_of("RS256")]}

    keys = PublicKeySet.from_document(document)

    assert keys.find("dup") is None
    assert keys.kids == (signing_key("RS256").kid,)


def test_the_same_key_listed_twice_is_unusable_too() -> None:
    keys = PublicKeySet.from_document({"keys": [public_of("ES256"), public_of("ES256")]})

    assert keys.find(signing_key("ES256").kid) is None


def test_a_key_set_ignores_private_members() -> None:
    keys = PublicKeySet.from_document({"keys": [private_of("ES256")]})
    found = keys.find(signing_key("ES256").kid)

    assert found is not None
    assert not set(found.to_jwk()) & set(PRIVATE_MEMBERS)


@pytest.mark.parametrize("document", [None, [], {}, {"keys": {}}, {"keys": "x"}, {"keys": None}, "keys"])
def test_a_document_that_is_not_a_key_set_is_unavailable(document: Any) -> None:
    with pytest.raises(JwksUnavailable):
        PublicKeySet.from_document(document)


def test_an_empty_key_set_finds_nothing() -> None:
    keys = PublicKeySet.from_document({"keys": []})

    assert keys.kids == ()
    assert keys.find("anything") is None


# Secrets never print -------------------------------------------------------------------

PEM_MARKERS = ("-----BEGIN", "PRIVATE KEY")


def _secret_values(document: Any) -> set[str]:
    """Every private member value anywhere in a JSON-like document."""
    if isinstance(document, dict):
        found = {
            value for name, value in document.items() if name in PRIVATE_MEMBERS and isinstance(value, str)
        }
        return found.union(*(_secret_values(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(_secret_values(value) for value in document))
    return set()


def _assert_no_secrets(texts: list[str], *documents: Any) -> None:
    secrets = set().union(*(_secret_values(document) for document in documents))
    assert secrets
    for text in texts:
        assert not any(marker in text for marker in PEM_MARKERS), text
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, text


def _printed(value: object) -> list[str]:
    return [
        repr(value),
        str(value),
        f"{value}",
        f"{value!r}",
        format(value, ""),
        repr([value]),
        repr({"k": value}),
    ]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_keys_print_only_kid_and_alg(alg: str, caplog: pytest.LogCaptureFixture) -> None:
    key = signing_key(alg)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("jwtseal.test").info("key %s %r", key, key)

    texts = [*_printed(key), *_printed(key.public), caplog.text]

    _assert_no_secrets(texts, key.to_private_jwk())
    assert repr(key) == f"SigningKey(kid={key.kid!r}, alg={alg!r})"
    assert repr(key.public) == f"VerifyingKey(kid={key.kid!r}, alg={alg!r})"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_key_ring_and_its_view_print_no_secrets(alg: str, tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path)
    ring = KeyRing(store, RotationPolicy(algorithm=alg))
    view = ring.view()

    texts = [
        *_printed(ring),
        *_printed(view),
        *_printed(view.keyset),
        *_printed(store),
        repr(view.keyset.keys),
    ]

    _assert_no_secrets(texts, store.load())
    assert view.signing_key.kid in repr(view)


def test_settings_and_api_keys_print_no_api_key() -> None:
    secret = "jws_live_do-not-print-0123456789"

    texts = [*_printed(Settings(api_keys=(secret,))), *_printed(ApiKeys.from_keys([secret]))]

    for text in texts:
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text


@pytest.mark.parametrize("member", ["p", "q"])
def test_degenerate_rsa_primes_are_refused_not_crashed(member: str) -> None:
    for value in ("AA", "AQ"):  # 0 and 1
        with pytest.raises(InvalidKey):
            SigningKey.from_private_jwk({**private_of("RS256"), member: value})

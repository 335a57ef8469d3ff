"""Issuing: the claims policy of API.md through Issuer and ClaimsPolicy."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtseal import (
    ClaimsPolicy,
    Expired,
    FileKeyStore,
    InvalidClaim,
    Issuer,
    KeyRing,
    NotYetValid,
    ReservedClaim,
    RotationPolicy,
    TtlTooLong,
    Verifier,
    inspect,
)

NOW = 1_700_000_000.5


@pytest.fixture
def keyring(tmp_path: Path) -> KeyRing:
    return KeyRing(FileKeyStore(tmp_path), RotationPolicy(algorithm="EdDSA"), clock=lambda: NOW)


def issuer(keyring: KeyRing, **policy: int) -> Issuer:
    return Issuer(keyring, ClaimsPolicy(issuer="https://jwtseal.test", **policy), clock=lambda: NOW)


def test_issue_sets_iss_iat_exp_jti_and_keeps_the_rest(keyring: KeyRing) -> None:
    issued = issuer(keyring, token_ttl=600, max_token_ttl=3600).issue({"sub": "w", "aud": "a", "nbf": 5})
    assert issued.claims == {
        "sub": "w",
        "aud": "a",
        "nbf": 5,
        "iss": "https://jwtseal.test",
        "iat": 1_700_000_000,
        "exp": 1_700_000_600,
        "jti": issued.claims["jti"],
    }
    assert len(issued.claims["jti"]) >= 22
    assert issued.kid == keyring.view().signing_key.kid
    assert issued.alg == "EdDSA"
    header = inspect(issued.token).header
    assert header == {"alg": "EdDSA", "kid": issued.kid, "typ": "JWT"}


def test_prepare_checks_and_encodes_now_and_signs_when_asked(keyring: KeyRing) -> None:
    with pytest.raises(ReservedClaim):  # refused before any signature
        issuer(keyring).prepare({"jti": "mine"})
    unsigned = issuer(keyring).prepare({"groceryList": ["milk"]})
    assert unsigned.key.kid == keyring.view().signing_key.kid
    issued = unsigned.sign()
    assert issued.token.startswith(unsigned.signing_input.decode() + ".")
    assert issued.claims == unsigned.claims
    assert Verifier(keyring, clock=lambda: NOW).verify(issued.token).claims == issued.claims


def test_sign_returns_a_token_the_verifier_accepts(keyring: KeyRing) -> None:
    token = issuer(keyring).sign({"groceryList": ["milk"]})
    assert Verifier(keyring, clock=lambda: NOW).verify(token).claims["groceryList"] == ["milk"]


@pytest.mark.parametrize("claim", ["iss", "iat", "jti"])
def test_reserved_claims_are_refused_not_overwritten(keyring: KeyRing, claim: str) -> None:
    with pytest.raises(ReservedClaim, match=claim):
        issuer(keyring).issue({claim: "mine"})


def test_exp_at_the_maximum_is_allowed_and_past_it_refused(keyring: KeyRing) -> None:
    iat = int(NOW)
    limited = issuer(keyring, token_ttl=100, max_token_ttl=100)
    assert limited.issue({"exp": iat + 100}).claims["exp"] == iat + 100
    with pytest.raises(TtlTooLong):
        limited.issue({"exp": iat + 101})


@pytest.mark.parametrize("exp", [NOW, NOW - 1, 0, -5])
def test_exp_in_the_past_is_refused(keyring: KeyRing, exp: float) -> None:
    with pytest.raises(InvalidClaim, match="past"):
        issuer(keyring).issue({"exp": exp})


@pytest.mark.parametrize("claims", [{"exp": "1"}, {"nbf": [1]}, {"exp": False}, {"nbf": None}])
def test_non_numeric_exp_or_nbf_is_refused(keyring: KeyRing, claims: dict[str, object]) -> None:
    with pytest.raises(InvalidClaim, match="number"):
        issuer(keyring).issue(claims)


def _nested(depth: int) -> list[object]:
    """Built in Python, not parsed: the only way the library meets claims it cannot serialize."""
    nested: list[object] = []
    for _ in range(depth - 1):
        nested = [nested]
    return nested


def test_claims_nested_deeper_than_any_interpreter_can_write_are_an_invalid_claim(keyring: KeyRing) -> None:
    with pytest.raises(InvalidClaim, match="UTF-8 JSON"):
        issuer(keyring).issue({"cart": _nested(100_000)})


def test_claims_must_be_a_mapping(keyring: KeyRing) -> None:
    with pytest.raises(TypeError, match="claims"):
        issuer(keyring).issue(["not", "a", "mapping"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("ttl", "max_ttl", "leeway"), [(0, 10, 0), (20, 10, 0), (5, 10, -1)])
def test_policy_refuses_impossible_lifetimes(ttl: int, max_ttl: int, leeway: int) -> None:
    with pytest.raises(ValueError, match=r"token_ttl|leeway"):
        ClaimsPolicy(issuer="i", token_ttl=ttl, max_token_ttl=max_ttl, leeway=leeway)


def test_time_checks_allow_exactly_the_leeway(keyring: KeyRing) -> None:
    token = issuer(keyring, token_ttl=100, max_token_ttl=100).sign({"nbf": NOW + 50})
    exp = int(NOW) + 100

    def verify_at(now: float) -> None:
        Verifier(keyring, leeway=60, clock=lambda: now).verify(token)

    verify_at(NOW - 10)
    with pytest.raises(NotYetValid):
        verify_at(NOW - 10.5)
    verify_at(exp + 59.9)
    with pytest.raises(Expired):
        verify_at(exp + 60)

"""The public surface: exported names, the error tree and its HTTP mapping."""

from __future__ import annotations

import inspect

import jwtseal
from jwtseal.apikeys import ApiKeys
from jwtseal.http.problems import STATUS_BY_CODE


def test_exported_names_are_pinned() -> None:
    assert jwtseal.__all__ == sorted(jwtseal.__all__, key=lambda name: (not name.isupper(), name))
    assert set(jwtseal.__all__) == {
        "SUPPORTED_ALGORITHMS", "AlgNotAllowed", "BadSignature", "Claims", "ClaimsPolicy",
        "ConcurrentUpdate", "Expired", "FileKeyStore", "InsufficientScope", "InvalidAudience",
        "InvalidClaim", "InvalidIssuer", "InvalidKey", "InvalidRequest", "InvalidType", "IssuedToken",
        "Issuer", "JWKSCache", "JwksError", "JwksUnavailable", "JwksUriNotAllowed", "JwtsealError",
        "KeyRing", "KeySource", "KeyState", "KeyStore", "KeyStoreError", "MalformedToken",
        "MissingClaim", "MissingKid", "NotYetValid", "PayloadTooLarge", "PublicKeySet", "RequestError",
        "ReservedClaim", "RotationPolicy", "SigningKey", "SigningUnavailable", "TokenError",
        "TokenRejected", "TrustedIssuer", "TtlTooLong", "Unauthorized", "UnknownKid", "UnverifiedToken",
        "VerifiedToken", "Verifier", "VerifyingKey", "__version__", "inspect",
    }  # fmt: skip
    for name in jwtseal.__all__:
        assert hasattr(jwtseal, name)


def test_every_public_name_says_why_it_exists() -> None:
    for name in jwtseal.__all__:
        value = getattr(jwtseal, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, name
            assert value.__doc__.strip(), name


def test_supported_algorithms_are_exactly_the_contract() -> None:
    assert jwtseal.SUPPORTED_ALGORITHMS == (
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
    )  # fmt: skip


def _error_classes() -> list[type[jwtseal.JwtsealError]]:
    found, stack = [], [jwtseal.JwtsealError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_a_code_and_a_status() -> None:
    classes = _error_classes()
    assert len(classes) == 30
    for cls in classes:
        assert cls.code in STATUS_BY_CODE, cls
        assert cls().detail


def test_error_codes_match_the_contract() -> None:
    contract = {
        "invalid_request": 400, "reserved_claim": 400, "ttl_too_long": 400, "invalid_claim": 400,
        "unauthorized": 401, "malformed_token": 401, "missing_kid": 401, "unknown_kid": 401,
        "alg_not_allowed": 401, "bad_signature": 401, "expired": 401, "not_yet_valid": 401,
        "invalid_audience": 401, "invalid_issuer": 401, "jwks_uri_not_allowed": 400,
        "jwks_unavailable": 502, "payload_too_large": 413, "signing_unavailable": 503,
        "not_found": 404, "method_not_allowed": 405,
    }  # fmt: skip
    for code, status in contract.items():
        assert STATUS_BY_CODE[code] == status
    leaves = {cls.code for cls in _error_classes()}
    assert leaves >= set(contract) - {"not_found", "method_not_allowed"}


def test_missing_kid_detail_is_the_original_message() -> None:
    assert jwtseal.MissingKid().detail == "Token has no Key ID"
    assert str(jwtseal.MissingKid()) == "Token has no Key ID"


def test_api_keys_never_print_and_compare_by_hash() -> None:
    keys = ApiKeys.from_keys(["alpha-key", "beta-key"])
    assert keys.check("beta-key")
    assert not keys.check("gamma-key")
    assert "alpha" not in repr(keys)
    assert repr(keys) == "ApiKeys(count=2)"

"""The app-facing Verifier: configured once, the same checks sync and async, issuers by exact iss."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from jwtseal import (
    AlgNotAllowed,
    Expired,
    InsufficientScope,
    InvalidAudience,
    InvalidIssuer,
    InvalidType,
    JWKSCache,
    JwksUnavailable,
    JwksUriNotAllowed,
    MissingClaim,
    SigningKey,
    TokenError,
    TokenRejected,
    TrustedIssuer,
    UnknownKid,
    VerifiedToken,
    Verifier,
)
from tests.remote_origin import Origin, Reply
from tests.tokens import NOW, fixed_clock, key_set, sign_claims, sign_raw, signing_key

ISSUER_A = "https://a.example"
ISSUER_B = "https://b.example"


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "iat": int(NOW) - 10, "exp": int(NOW) + 3600, **extra}


def local(**options: Any) -> Verifier:
    return Verifier(key_set(signing_key("ES256")), clock=fixed_clock(), **options)


def both(verifier: Verifier, token: str, **options: Any) -> VerifiedToken:
    """Verify sync and async: the same result, or the same first error, is the contract."""
    try:
        synced: VerifiedToken | TokenError = verifier.verify(token, **options)
    except TokenError as exc:
        synced = exc
    try:
        asynced: VerifiedToken | TokenError = asyncio.run(verifier.averify(token, **options))
    except TokenError as exc:
        asynced = exc
    if isinstance(synced, TokenError):
        assert type(asynced) is type(synced)
        assert str(asynced) == str(synced)
        raise synced
    assert asynced == synced
    return synced


def token(**extra_claims: Any) -> str:
    return sign_claims(signing_key("ES256"), claims(**extra_claims))


def test_a_good_token_gives_a_typed_result() -> None:
    verified = both(local(), token(scope="lists:read lists:write", iss=ISSUER_A))
    assert verified.claims["sub"] == "alice"
    assert verified.subject == "alice"
    assert verified.issuer == ISSUER_A
    assert verified.kid == signing_key("ES256").kid
    assert verified.alg == "ES256"
    assert verified.header == {"alg": "ES256", "kid": signing_key("ES256").kid, "typ": "JWT"}
    assert verified.scopes == {"lists:read", "lists:write"}


def test_the_header_given_out_is_a_copy() -> None:
    verified = both(local(), token())
    verified.header["kid"] = "changed"
    assert verified.header["kid"] == signing_key("ES256").kid


def test_without_a_configured_audience_a_token_that_names_one_is_refused() -> None:
    with pytest.raises(InvalidAudience, match="accepts none"):
        both(local(), token(aud="api"))
    assert both(local(), token()).claims["sub"] == "alice"


@pytest.mark.parametrize(
    ("aud", "accepted"),
    [
        ("api", True),
        (["other", "api"], True),
        (["other"], False),
        ("other", False),
        (None, False),
        (7, False),
    ],
)
def test_one_or_several_accepted_audiences(aud: object, accepted: bool) -> None:
    verifier = local(audience=["api", "admin"])
    jwt = token() if aud is None else token(aud=aud)
    if accepted:
        assert both(verifier, jwt).claims["aud"] == aud
    else:
        with pytest.raises(InvalidAudience):
            both(verifier, jwt)


def test_a_single_audience_string_is_one_audience_not_its_letters() -> None:
    with pytest.raises(InvalidAudience):
        both(local(audience="api"), token(aud="a"))
    assert both(local(audience="api"), token(aud="api")).claims["aud"] == "api"


def test_the_algorithm_allow_list_is_checked_before_any_key_lookup() -> None:
    rs = signing_key("RS256")
    verifier = Verifier(key_set(rs, signing_key("ES256")), algorithms=["ES256"], clock=fixed_clock())
    with pytest.raises(AlgNotAllowed, match="not allowed here"):
        both(verifier, sign_claims(rs, claims()))
    assert both(verifier, token()).alg == "ES256"


@pytest.mark.parametrize(
    ("header_typ", "accepted"),
    [("at+jwt", True), ("application/at+jwt", True), ("AT+JWT", True), ("JWT", False), (None, False)],
)
def test_typ_accepts_the_application_form_and_any_case(header_typ: str | None, accepted: bool) -> None:
    key = signing_key("ES256")
    header = {"alg": key.alg, "kid": key.kid} | ({} if header_typ is None else {"typ": header_typ})
    jwt = sign_raw(key, header, claims())
    if accepted:
        assert both(local(typ="application/at+jwt"), jwt).claims["sub"] == "alice"
    else:
        with pytest.raises(InvalidType):
            both(local(typ="at+jwt"), jwt)


def test_required_claims_and_maximum_age() -> None:
    with pytest.raises(MissingClaim, match="tenant"):
        both(local(required_claims=["sub", "tenant"]), token())
    assert both(local(required_claims=["sub"]), token()).subject == "alice"
    with pytest.raises(Expired, match="maximum age"):
        both(local(max_age=60, leeway=0), token(iat=int(NOW) - 61))
    assert both(local(max_age=60, leeway=0), token(iat=int(NOW) - 59)).subject == "alice"
    no_iat = sign_claims(signing_key("ES256"), {"sub": "alice", "exp": int(NOW) + 60})
    with pytest.raises(MissingClaim, match="iat"):
        both(local(max_age=60), no_iat)


@pytest.mark.parametrize(
    "granted",
    [
        {"scope": "lists:read lists:write"},
        {"scp": ["lists:read", "lists:write"]},
        {"scp": "lists:write lists:read"},
    ],
)
def test_scopes_from_scope_or_scp_configured_and_per_call(granted: dict[str, Any]) -> None:
    verifier = local(scopes=["lists:read"])
    assert both(verifier, token(**granted), scopes=["lists:write"]).scopes == {"lists:read", "lists:write"}
    with pytest.raises(InsufficientScope) as refused:
        both(verifier, token(**granted), scopes=["lists:delete"])
    assert refused.value.missing == {"lists:delete"}
    assert refused.value.code == "insufficient_scope"
    with pytest.raises(InsufficientScope):
        both(verifier, token(scope=7))


def test_a_custom_check_sees_the_verified_token_and_may_refuse_it() -> None:
    seen: list[str | None] = []

    def tenant_must_be_acme(verified: VerifiedToken) -> None:
        seen.append(verified.subject)
        if verified.claims.get("tenant") != "acme":
            raise TokenRejected("Only acme's tokens are accepted here.")

    verifier = local(check=tenant_must_be_acme)
    assert both(verifier, token(tenant="acme")).claims["tenant"] == "acme"
    with pytest.raises(TokenRejected, match="acme"):
        both(verifier, token(tenant="globex"))
    assert seen == ["alice"] * 4


def test_the_rfc9068_access_token_profile() -> None:
    verifier = local(profile="rfc9068", audience="api")
    key = signing_key("ES256")
    full = claims(iss=ISSUER_A, aud="api", client_id="app", jti="1")
    assert both(verifier, sign_claims(key, full, typ="at+jwt")).claims["client_id"] == "app"
    with pytest.raises(InvalidType):
        both(verifier, sign_claims(key, full))
    for name in ("iss", "aud", "sub", "client_id", "iat", "jti"):
        partial = {claim: value for claim, value in full.items() if claim != name}
        with pytest.raises((MissingClaim, InvalidAudience)):
            both(verifier, sign_claims(key, partial, typ="at+jwt"))
    with pytest.raises(ValueError, match="audience"):
        local(profile="rfc9068")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, TypeError),
        (
            {"keys": key_set(), "issuers": [TrustedIssuer(ISSUER_A, jwks_uri="https://a.example/j")]},
            TypeError,
        ),
        ({"keys": key_set(), "algorithms": ["HS256"]}, ValueError),
        ({"keys": key_set(), "algorithms": []}, ValueError),
        ({"keys": key_set(), "audience": []}, ValueError),
        ({"keys": key_set(), "audience": [""]}, ValueError),
    ],
)
def test_contradictory_options_are_refused_at_construction(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Verifier(**options)


@pytest.mark.parametrize(
    ("issuer", "options"),
    [("", {}), ("https://a.example", {"jwks_uri": "https://a.example/j", "keys": key_set()})],
)
def test_a_trusted_issuer_needs_a_name_and_at_most_one_key_source(
    issuer: str, options: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        TrustedIssuer(issuer, **options)


# Several issuers: the token's iss picks one by exact match, before any key lookup.


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    with Origin() as first, Origin() as second:
        yield first, second


def issuers_of(first: Origin, second: Origin, **options: Any) -> Verifier:
    return Verifier(
        issuers=[
            TrustedIssuer(first.url(""), jwks_uri=first.url()),
            TrustedIssuer(second.url(""), jwks_uri=second.url()),
        ],
        clock=fixed_clock(),
        **options,
    )


def test_each_issuer_verifies_only_with_its_own_keys(origins: tuple[Origin, Origin]) -> None:
    first, second = origins
    key_a, key_b = signing_key("ES256"), signing_key("EdDSA")
    first.serve_keys(key_a)
    second.serve_keys(key_b)
    verifier = issuers_of(first, second)
    assert both(verifier, sign_claims(key_a, claims(iss=first.url("")))).issuer == first.url("")
    assert both(verifier, sign_claims(key_b, claims(iss=second.url("")))).issuer == second.url("")
    with pytest.raises(UnknownKid):  # A's key, claiming B: B's keys are the only ones tried
        both(verifier, sign_claims(key_a, claims(iss=second.url(""))))
    assert (first.count, second.count) == (1, 1)


@pytest.mark.parametrize("iss", [None, "https://evil.example", 7, "HTTP://127.0.0.1"])
def test_a_token_naming_no_trusted_issuer_is_refused_before_any_fetch(
    origins: tuple[Origin, Origin], iss: object
) -> None:
    first, second = origins
    verifier = issuers_of(first, second)
    extra = {} if iss is None else {"iss": iss}
    with pytest.raises(InvalidIssuer, match="trusts"):
        both(verifier, token(**extra))
    assert (first.count, second.count) == (0, 0)


def test_an_issuer_with_local_keys() -> None:
    verifier = Verifier(
        issuers=[TrustedIssuer(ISSUER_A, keys=key_set(signing_key("ES256")))], clock=fixed_clock()
    )
    assert both(verifier, token(iss=ISSUER_A)).issuer == ISSUER_A
    with pytest.raises(InvalidIssuer):
        both(verifier, token(iss=ISSUER_B))
    verifier.hydrate()  # local keys: nothing to fetch
    asyncio.run(verifier.ahydrate())


def metadata(origin: Origin, issuer: str, jwks_uri: str | None) -> None:
    document: dict[str, Any] = {"issuer": issuer}
    if jwks_uri is not None:
        document["jwks_uri"] = jwks_uri
    origin.reply = Reply(headers={"Content-Type": "application/json"}, body=json.dumps(document).encode())


def test_discovery_finds_the_key_set_from_the_issuers_metadata(origins: tuple[Origin, Origin]) -> None:
    idp, keys = origins
    key = signing_key("ES256")
    keys.serve_keys(key)
    issuer = idp.url("")
    metadata(idp, issuer, keys.url())
    trusted = TrustedIssuer(issuer)
    assert trusted.discovery_uri == idp.url("/.well-known/openid-configuration")
    # The key set lives on another host: the default guard (https, public) applies to it.
    verifier = Verifier(issuers=[trusted], clock=fixed_clock())
    with pytest.raises(JwksUriNotAllowed, match="https"):
        verifier.verify(sign_claims(key, claims(iss=issuer)))
    assert keys.count == 0


def test_discovery_on_the_issuers_own_origin(origins: tuple[Origin, Origin]) -> None:
    idp, _ = origins
    key = signing_key("ES256")
    issuer = idp.url("")
    metadata(idp, issuer, idp.url("/keys"))
    verifier = Verifier(issuers=[TrustedIssuer(issuer)], clock=fixed_clock())

    async def discover_then_verify() -> None:
        await verifier.ahydrate()  # discovery only: the origin answers metadata to every path
        assert [seen.path for seen in idp.requests] == ["/.well-known/openid-configuration", "/keys"]

    with pytest.raises(JwksUnavailable):  # the "key set" it serves is the metadata: no keys
        asyncio.run(discover_then_verify())
    idp.serve_keys(key)
    verifier = Verifier(issuers=[TrustedIssuer(issuer, jwks_uri=idp.url("/keys"))], clock=fixed_clock())
    verifier.hydrate()
    assert verifier.verify(sign_claims(key, claims(iss=issuer))).issuer == issuer


@pytest.mark.parametrize(
    "document", [{"issuer": "https://impostor.example", "jwks_uri": "x"}, {"issuer": "same"}, None]
)
def test_discovery_refuses_metadata_of_another_issuer_and_fetches_nothing_else(
    origins: tuple[Origin, Origin], document: dict[str, str] | None
) -> None:
    idp, keys = origins
    issuer = idp.url("")
    if document is None:
        idp.reply = Reply(status=500)
    else:
        metadata(
            idp, issuer if document["issuer"] == "same" else document["issuer"], document.get("jwks_uri")
        )
    verifier = Verifier(issuers=[TrustedIssuer(issuer)], clock=fixed_clock())
    with pytest.raises(JwksUnavailable):
        both(verifier, sign_claims(signing_key("ES256"), claims(iss=issuer)))
    with pytest.raises(JwksUnavailable):
        verifier.hydrate()
    with pytest.raises(JwksUnavailable):
        asyncio.run(verifier.averify(sign_claims(signing_key("ES256"), claims(iss=issuer))))
    assert idp.count == 1  # one attempt, then the retry waits
    assert keys.count == 0


def test_hydrate_fetches_every_issuers_keys_up_front(origins: tuple[Origin, Origin]) -> None:
    first, second = origins
    first.serve_keys(signing_key("ES256"))
    second.serve_keys(signing_key("EdDSA"))
    verifier = issuers_of(first, second)
    verifier.hydrate()
    assert (first.count, second.count) == (1, 1)
    asyncio.run(verifier.ahydrate())
    assert (first.count, second.count) == (1, 1)
    first.stop()
    assert both(verifier, token(iss=first.url(""))).subject == "alice"


def test_a_shared_cache_serves_several_verifiers(origins: tuple[Origin, Origin]) -> None:
    first, second = origins
    first.serve_keys(signing_key("ES256"))
    cache = JWKSCache()
    for audience in ("one", "two"):
        verifier = issuers_of(first, second, cache=cache, audience=audience)
        assert both(verifier, token(iss=first.url(""), aud=audience)).subject == "alice"
    assert first.count == 1


def test_a_verifier_of_own_keys_begins_in_steps() -> None:
    verifier = local()
    assert verifier.begin(token()).check_signature().claims()["sub"] == "alice"
    with pytest.raises(AssertionError):
        Verifier(issuers=[TrustedIssuer(ISSUER_A, keys=key_set())]).begin(token())


def test_every_refusal_is_a_token_error_with_a_code() -> None:
    other = SigningKey.generate("ES256")
    with pytest.raises(UnknownKid) as refused:
        both(local(), sign_claims(other, claims()))
    assert refused.value.code == "unknown_kid"

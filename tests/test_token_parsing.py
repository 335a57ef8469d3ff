"""The verifier's parser and checks: anything in, only a TokenError out, and the right one.

Hypothesis feeds arbitrary text, bytes and three-segment strings to
``Verifier.verify`` and ``inspect``; the explicit cases then pin the exact
error class for each rule of API.md's "Tokens" section, and tokens failing
two checks show that the earlier check in API.md's order wins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jwtseal import (
    AlgNotAllowed,
    BadSignature,
    Expired,
    InvalidAudience,
    InvalidIssuer,
    MalformedToken,
    MissingKid,
    NotYetValid,
    PublicKeySet,
    SigningKey,
    TokenError,
    UnknownKid,
    Verifier,
    VerifyingKey,
    inspect,
)
from jwtseal._json import MAX_DEPTH
from tests.tokens import (
    ALGORITHMS,
    NOW,
    b64,
    fixed_clock,
    header_for,
    key_set,
    other_signing_key,
    sign_claims,
    sign_raw,
    sign_segments,
    signature_of,
    signing_key,
    unb64,
    verifier_for,
    with_signature,
)

B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
MAX_TOKEN_LENGTH = 64 * 1024
ARTICLE_HS256_TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJleHAiOjE2MTUwNjI5OTUsImlhdCI6MTYxNTA1ODk2NSwiZ3JvY2VyeUxpc3QiOlsibWlsayIsImVnZ3MiLCJjb29raWVzIiwiY2"
    "FuZHkiXSwianRpIjoiZjFlYjRiMTktYjQwYy00NWQ3LWIyZjgtYWNlMjY1NWNhZDliIn0."
    "-B-8-m8hwmOWKSUI1B3wOmYaPWyegihVIi6U17D5H1M"
)
ParseError = type[TokenError]


def key() -> SigningKey:
    return signing_key("EdDSA")


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "iat": NOW, "exp": NOW + 600, **extra}


def good_token(**extra: Any) -> str:
    return sign_claims(key(), claims(**extra))


def verify(token: str, *, audience: str | None = None, issuer: str | None = None) -> dict[str, Any]:
    return verifier_for(key()).verify(token, audience=audience, issuer=issuer).claims


def replace_segment(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


class RecordingKeys:
    """A key source that remembers every kid it was asked for."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = key_set(*keys)
        self.asked: list[str] = []

    def find(self, kid: str) -> VerifyingKey | None:
        self.asked.append(kid)
        return self.keys.find(kid)


def test_a_good_token_verifies_to_exactly_its_claims() -> None:
    assert verify(good_token(groceryList=["milk", "eggs"])) == claims(groceryList=["milk", "eggs"])


# Anything in, only a TokenError out ---------------------------------------------------

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def _refused_or_inspected(token: str) -> None:
    verifier = verifier_for(key())
    with pytest.raises(TokenError):
        verifier.verify(token)
    try:
        inspected = inspect(token)
    except TokenError:
        return
    assert isinstance(inspected.claims, dict)
    assert isinstance(inspected.header, dict)


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_token_errors(token: str) -> None:
    _refused_or_inspected(token)


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_latin1_raise_only_token_errors(data: bytes) -> None:
    _refused_or_inspected(data.decode("latin-1"))


SEGMENTS = st.one_of(
    st.text(alphabet=B64URL + "=+/ ~\x00é", max_size=60),
    st.binary(max_size=60).map(b64),
    JSON_VALUES.map(lambda value: b64(json.dumps(value).encode())),
    st.dictionaries(st.sampled_from(["alg", "kid", "crit", "b64", "exp", "jwk"]), JSON_VALUES).map(
        lambda value: b64(json.dumps(value).encode())
    ),
)


@FUZZ
@given(SEGMENTS, SEGMENTS, SEGMENTS)
def test_arbitrary_three_segment_strings_raise_only_token_errors(
    header: str, payload: str, signature: str
) -> None:
    _refused_or_inspected(f"{header}.{payload}.{signature}")


GOOD_HEADERS = st.fixed_dictionaries(
    {"alg": st.just("EdDSA"), "kid": st.just(key().kid)},
    optional={"typ": st.just("JWT") | JSON_VALUES, "jwk": JSON_VALUES, "x5u": JSON_VALUES},
)
ODD_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from([*ALGORITHMS, "none", "None", "HS256", "ES256K"]) | JSON_VALUES,
        "kid": st.sampled_from([key().kid, other_signing_key("EdDSA").kid, ""]) | JSON_VALUES,
        "typ": st.just("JWT") | JSON_VALUES,
        "crit": JSON_VALUES,
        "b64": st.booleans(),
        "jwk": JSON_VALUES,
    },
)
TIMES = st.floats(NOW - 10**5, NOW + 10**5) | st.integers() | JSON_VALUES
PAYLOADS = st.fixed_dictionaries(
    {}, optional={"exp": TIMES, "nbf": TIMES, "iat": TIMES, "aud": JSON_VALUES, "iss": JSON_VALUES}
).flatmap(
    lambda base: st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3).map(
        lambda extra: {**extra, **base}
    )
)


@FUZZ
@given(GOOD_HEADERS | ODD_HEADERS, PAYLOADS | JSON_VALUES, st.booleans())
def test_structured_tokens_verify_only_when_everything_holds(header: Any, payload: Any, signed: bool) -> None:
    header_segment, payload_segment = b64(json.dumps(header).encode()), b64(json.dumps(payload).encode())
    token = (
        sign_segments(key(), header_segment, payload_segment)
        if signed
        else f"{header_segment}.{payload_segment}.{b64(b'x' * 64)}"
    )
    verifier = verifier_for(key())

    try:
        verified = verifier.verify(token)
    except TokenError as refused:
        event(type(refused).__name__)
        with pytest.raises(type(refused)):  # in steps, the same first failure
            verifier.begin(token).check_signature().claims()
        return
    assert verifier.begin(token).check_signature().claims() == verified.claims
    event("verified")
    assert signed
    assert header["alg"] == "EdDSA"
    assert header["kid"] == key().kid
    assert verified.claims == payload


@pytest.mark.parametrize("token", [b"e30.e30.", None, 123, ["a", "b", "c"]])
def test_a_token_that_is_not_a_string_is_malformed(token: Any) -> None:
    with pytest.raises(MalformedToken):
        verify(token)
    with pytest.raises(MalformedToken):
        inspect(token)


# Segments and base64url ----------------------------------------------------------------


@pytest.mark.parametrize(
    "reshape",
    [
        pytest.param(lambda parts: parts[:1], id="one"),
        pytest.param(lambda parts: parts[:2], id="two"),
        pytest.param(lambda parts: [*parts, parts[2]], id="four"),
        pytest.param(lambda parts: [*parts, "", ""], id="five"),
        pytest.param(lambda parts: [parts[0], "", parts[1], parts[2]], id="empty-inner"),
        pytest.param(lambda parts: ["", "", ""], id="all-empty"),
        pytest.param(lambda parts: [parts[0], "", parts[2]], id="empty-payload"),
        pytest.param(lambda parts: ["", parts[1], parts[2]], id="empty-header"),
    ],
)
def test_a_token_without_exactly_three_meaningful_segments_is_malformed(
    reshape: Callable[[list[str]], list[str]],
) -> None:
    with pytest.raises(MalformedToken):
        verify(".".join(reshape(good_token().split("."))))


def _padded(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
def test_padding_in_any_segment_is_malformed(index: int) -> None:
    token = next(t for n in range(8) if len((t := good_token(n="x" * n)).split(".")[index]) % 4)
    segment = token.split(".")[index]

    with pytest.raises(MalformedToken):
        verify(replace_segment(token, index, _padded(segment)))


def _token_with_url_safe_characters(index: int) -> str:
    for n in range(2000):
        token = sign_raw(key(), header_for(key(), x="~" * (n % 7)), claims(n=n, s="~?" * (n % 5)))
        if set(token.split(".")[index]) & set("-_"):
            return token
    raise AssertionError("no segment with - or _")  # pragma: no cover


@pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
def test_standard_base64_characters_in_any_segment_are_malformed(index: int) -> None:
    token = _token_with_url_safe_characters(index)
    segment = token.split(".")[index].translate(str.maketrans("-_", "+/"))
    assert verify(token)

    with pytest.raises(MalformedToken):
        verify(replace_segment(token, index, segment))


def _with_spare_bits(segment: str) -> str:
    mask = {2: 0b1111, 3: 0b11}[len(segment) % 4]
    return segment[:-1] + B64URL[B64URL.index(segment[-1]) | mask]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
def test_non_canonical_trailing_bits_in_any_segment_are_malformed(index: int) -> None:
    token = next(t for n in range(8) if len((t := good_token(n="x" * n)).split(".")[index]) % 4)
    segment = token.split(".")[index]
    respelled = _with_spare_bits(segment)
    assert respelled != segment
    assert unb64(respelled) == unb64(segment)  # a lenient decoder reads the same bytes

    with pytest.raises(MalformedToken):
        verify(replace_segment(token, index, respelled))


@pytest.mark.parametrize(
    "respell",
    [
        pytest.param(lambda token: f" {token}", id="leading-space"),
        pytest.param(lambda token: f"{token}\n", id="trailing-newline"),
        pytest.param(lambda token: token.replace(".", " .", 1), id="inner-space"),
        pytest.param(lambda token: token[:10] + "\u0130" + token[11:], id="non-ascii-letter"),
        pytest.param(lambda token: token[:10] + "\x00" + token[11:], id="nul"),
        pytest.param(lambda token: token[:-1] + "!", id="junk-in-signature"),
        pytest.param(lambda token: token + "AAA", id="impossible-length"),
        pytest.param(lambda token: f"Bearer {token}", id="bearer-prefix"),
    ],
)
def test_foreign_characters_and_impossible_lengths_are_malformed(respell: Callable[[str], str]) -> None:
    with pytest.raises(MalformedToken):
        verify(respell(good_token()))


def _signed_token_of_length(length: int) -> str:
    """A validly signed EdDSA token (86-character signature) exactly ``length`` characters long."""
    empty = len(json.dumps(claims(fill="")))
    for pad in range(4):  # a header one character longer when the payload length cannot fit
        header = b64(json.dumps(header_for(key(), x="a" * pad)).encode())
        room = length - len(header) - 2 - 86
        for fill in range(room * 3 // 4 - empty - 2, room * 3 // 4 - empty + 2):
            payload = b64(json.dumps(claims(fill="a" * fill)).encode())
            if len(payload) == room:
                return sign_segments(key(), header, payload)
    raise AssertionError(f"no token of length {length}")  # pragma: no cover


def test_a_token_of_exactly_64_kib_verifies() -> None:
    token = _signed_token_of_length(MAX_TOKEN_LENGTH)

    assert len(token) == MAX_TOKEN_LENGTH
    assert verify(token)["sub"] == "alice"


def test_a_validly_signed_token_over_64_kib_is_malformed() -> None:
    token = _signed_token_of_length(MAX_TOKEN_LENGTH + 1)

    assert len(token) == MAX_TOKEN_LENGTH + 1
    with pytest.raises(MalformedToken):
        verify(token)
    with pytest.raises(MalformedToken):
        verify("A" * 10_000_000)


# JSON ----------------------------------------------------------------------------------


def _header_bytes(**extra: str) -> bytes:
    members = ",".join(f'"{name}":{value}' for name, value in extra.items())
    return f'{{"alg":"EdDSA","kid":"{key().kid}"{"," if members else ""}{members}}}'.encode()


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        pytest.param(_header_bytes(), b'{"sub":"a","sub":"b"}', id="payload-different-values"),
        pytest.param(_header_bytes(), b'{"sub":"a","sub":"a"}', id="payload-same-values"),
        pytest.param(_header_bytes(), b'{"a":{"b":1,"b":2}}', id="payload-nested"),
        pytest.param(_header_bytes(), b'{"exp":9999999999,"exp":1}', id="payload-exp"),
        pytest.param(
            f'{{"alg":"EdDSA","kid":"{key().kid}","kid":"{key().kid}"}}'.encode(), b"{}", id="header-kid"
        ),
        pytest.param(f'{{"alg":"none","alg":"EdDSA","kid":"{key().kid}"}}'.encode(), b"{}", id="header-alg"),
    ],
)
def test_duplicate_member_names_are_malformed(header: bytes, payload: bytes) -> None:
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header, payload))


NOT_OBJECTS = [b"[]", b'"text"', b"1", b"null", b"true", b"", b" ", b"{", b"{}{}", b"{} x"]


@pytest.mark.parametrize("payload", NOT_OBJECTS)
def test_a_payload_that_is_not_a_json_object_is_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header_for(key()), payload))
    with pytest.raises(MalformedToken):
        inspect(sign_raw(key(), header_for(key()), payload))


@pytest.mark.parametrize("header", NOT_OBJECTS)
def test_a_header_that_is_not_a_json_object_is_malformed(header: bytes) -> None:
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header, claims()))


@pytest.mark.parametrize(
    "payload",
    [
        b'{"exp":NaN}',
        b'{"x":NaN}',
        b'{"x":Infinity}',
        b'{"x":-Infinity}',
        b'{"x":1e400}',
        b'{"exp":-1e400}',
        b'{"x":[1,2,{"y":1e999}]}',
    ],
)
def test_non_finite_numbers_are_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header_for(key()), payload))


def test_non_finite_numbers_in_the_header_are_malformed() -> None:
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), _header_bytes(x="NaN"), claims()))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b'{"sub":"\xff"}', id="latin-1"),
        pytest.param(b'\xef\xbb\xbf{"sub":"a"}', id="utf-8-bom"),
        pytest.param('{"sub":"a"}'.encode("utf-16"), id="utf-16"),
        pytest.param(b'{"sub":"a\x00"}', id="raw-control-character"),
        pytest.param(b'{"n":' + b"9" * 5000 + b"}", id="5000-digit-integer"),
    ],
)
def test_payloads_that_are_not_strict_utf8_json_are_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header_for(key()), payload))


def test_deeply_nested_payload_is_malformed_not_a_crash() -> None:
    payload = b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header_for(key()), payload))


def test_deeply_nested_header_is_malformed_not_a_crash() -> None:
    header = _header_bytes(x="[" * 1500 + "]" * 1500)

    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header, claims()))


def _nested_claim(depth: int) -> bytes:
    """A payload ``depth`` deep: the claims object holding arrays ``depth - 1`` deep."""
    return b'{"sub":"alice","cart":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_a_payload_as_deep_as_jwtseals_limit_verifies_and_one_deeper_is_malformed() -> None:
    # The same number on every interpreter: the limit is jwtseal's, not the recursion limit.
    assert verify(sign_raw(key(), header_for(key()), _nested_claim(MAX_DEPTH)))["sub"] == "alice"
    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header_for(key()), _nested_claim(MAX_DEPTH + 1)))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b'{"cart":[' + b"[{}]," * MAX_DEPTH + b"[]]}", id="many-shallow-arrays"),
        pytest.param(b'{"cart":"' + b"[{" * MAX_DEPTH + b'"}', id="brackets-in-a-string"),
        pytest.param(b'{"cart":"\\"' + b"[" * MAX_DEPTH + b'"}', id="brackets-after-escaped-quote"),
        pytest.param(b'{"cart":"' + b"[" * MAX_DEPTH + b'","more":"]"}', id="brackets-in-two-strings"),
    ],
)
def test_brackets_that_are_not_nesting_do_not_count_toward_the_limit(payload: bytes) -> None:
    assert verify(sign_raw(key(), header_for(key()), payload)) == json.loads(payload)


def test_brackets_beside_a_string_with_an_escaped_quote_still_count() -> None:
    # '"a\"' is one string holding a\ : the brackets after it are structure, not text.
    payload = b'{"a":"a\\","cart":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"

    with pytest.raises(MalformedToken):
        verify(sign_raw(key(), header_for(key()), payload))


def test_big_integers_and_far_times_are_numbers_not_errors() -> None:
    far = {"exp": 10**400, "nbf": -(10**400), "iat": NOW, "n": 2**64}

    assert verify(sign_claims(key(), far)) == far


# crit, b64 and alg ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"crit": ["exp"], "exp": 1}, id="crit"),
        pytest.param({"crit": []}, id="empty-crit"),
        pytest.param({"b64": False}, id="b64-false"),
        pytest.param({"b64": True}, id="b64-true"),
    ],
)
def test_crit_and_b64_headers_are_malformed_even_when_signed(extra: dict[str, Any]) -> None:
    with pytest.raises(MalformedToken) as refused:
        verify(sign_claims(key(), claims(), **extra))
    assert "crit or b64" in refused.value.detail


NONE_CASINGS = ["none", "None", "NONE", "nOnE"]


@pytest.mark.parametrize("alg", NONE_CASINGS)
@pytest.mark.parametrize("signature", [b"", b"\x00" * 64], ids=["unsigned", "with-signature"])
def test_alg_none_with_a_known_kid_is_not_allowed(alg: str, signature: bytes) -> None:
    header = b64(json.dumps({"alg": alg, "kid": key().kid, "typ": "JWT"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}.{b64(signature)}"

    with pytest.raises(AlgNotAllowed):
        verify(token)


@pytest.mark.parametrize("alg", NONE_CASINGS)
@pytest.mark.parametrize("signature", [b"", b"\x00" * 64], ids=["unsigned", "with-signature"])
def test_alg_none_without_kid_is_missing_kid(alg: str, signature: bytes) -> None:
    token = f"{b64(json.dumps({'alg': alg}).encode())}.{b64(json.dumps(claims()).encode())}.{b64(signature)}"

    with pytest.raises(MissingKid):
        verify(token)


def test_the_articles_forged_hs256_token_is_missing_kid() -> None:
    with pytest.raises(MissingKid) as refused:
        Verifier(PublicKeySet.from_document({"keys": []})).verify(ARTICLE_HS256_TOKEN)

    assert refused.value.detail == "Token has no Key ID"
    assert refused.value.code == "missing_kid"
    assert str(refused.value) == "Token has no Key ID"


@pytest.mark.parametrize(("alg", "digest"), [("HS256", "sha256"), ("HS384", "sha384"), ("HS512", "sha512")])
@pytest.mark.parametrize("secret_form", ["jwk-json", "n-member"])
def test_hmac_signed_with_the_public_key_under_its_kid_is_not_allowed(
    alg: str, digest: str, secret_form: str
) -> None:
    # The classic key-confusion forgery: HMAC keyed with the (public) RSA key itself.
    rsa_key = signing_key("RS256")
    public = rsa_key.public.to_jwk()
    secret = json.dumps(public).encode() if secret_form == "jwk-json" else unb64(public["n"])
    signing_input = (
        f"{b64(json.dumps({'alg': alg, 'kid': rsa_key.kid}).encode())}.{b64(json.dumps(claims()).encode())}"
    )
    mac = hmac.new(secret, signing_input.encode(), getattr(hashlib, digest)).digest()
    keys = RecordingKeys(rsa_key)

    with pytest.raises(AlgNotAllowed):
        Verifier(keys, clock=fixed_clock()).verify(f"{signing_input}.{b64(mac)}")
    assert keys.asked == []  # refused before any key lookup


@pytest.mark.parametrize(
    "alg",
    [
        "rs256",
        "Rs256",
        "RS1",
        "RS1024",
        "es512",
        "ES521",
        "PS",
        "ES256K",
        "Ed25519",
        "EDDSA",
        "dir",
        "",
        " RS256",
    ],
)
def test_algorithms_outside_the_registry_are_not_allowed_before_lookup(alg: str) -> None:
    keys = RecordingKeys(key())

    with pytest.raises(AlgNotAllowed):
        Verifier(keys, clock=fixed_clock()).verify(sign_raw(key(), {"alg": alg, "kid": key().kid}, claims()))
    assert keys.asked == []


@pytest.mark.parametrize("alg", [None, 256, ["EdDSA"], {"name": "EdDSA"}, True])
def test_a_missing_or_non_string_alg_is_not_allowed(alg: Any) -> None:
    header = {"kid": key().kid} if alg is None else {"alg": alg, "kid": key().kid}

    with pytest.raises(AlgNotAllowed):
        verify(sign_raw(key(), header, claims()))


MISMATCHED = [
    (key_alg, header_alg) for key_alg in ALGORITHMS for header_alg in ALGORITHMS if key_alg != header_alg
]


@pytest.mark.parametrize(("key_alg", "header_alg"), MISMATCHED)
def test_a_header_alg_that_differs_from_the_keys_is_not_allowed(key_alg: str, header_alg: str) -> None:
    signer = signing_key(key_alg)
    token = sign_raw(signer, {"alg": header_alg, "kid": signer.kid}, claims())

    with pytest.raises(AlgNotAllowed):
        verifier_for(signer).verify(token)


# kid -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", [None, "", 123, ["kid"], {"kid": "x"}, True])
def test_a_missing_empty_or_non_string_kid_is_missing_kid(kid: Any) -> None:
    header = {"alg": "EdDSA"} if kid is None else {"alg": "EdDSA", "kid": kid}

    with pytest.raises(MissingKid):
        verify(sign_raw(key(), header, claims()))


@pytest.mark.parametrize(
    "kid",
    [other_signing_key("EdDSA").kid, key().kid.upper(), key().kid + " ", "../" + key().kid],
)
def test_a_kid_outside_the_key_set_is_unknown(kid: str) -> None:
    with pytest.raises(UnknownKid):
        verify(sign_raw(key(), {"alg": "EdDSA", "kid": kid}, claims()))


# Signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "size"), [("ES256", 32), ("ES384", 48), ("ES512", 66)])
@pytest.mark.parametrize("value", ["zero", "order", "one"])
def test_degenerate_ecdsa_signatures_are_bad(alg: str, size: int, value: str) -> None:
    # r = s = 0 is CVE-2022-21449 ("psychic signatures"); r = s = n reduces to it.
    order = {
        "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        "ES384": int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        "ES512": int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
            "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
    }[alg]
    number = {"zero": 0, "order": order, "one": 1}[value]
    signer = signing_key(alg)
    token = with_signature(sign_claims(signer, claims()), number.to_bytes(size, "big") * 2)

    with pytest.raises(BadSignature):
        verifier_for(signer).verify(token)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_a_der_encoded_ecdsa_signature_is_bad(alg: str) -> None:
    signer = signing_key(alg)
    token = sign_claims(signer, claims())
    raw = signature_of(token)
    half = len(raw) // 2
    der = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    assert verifier_for(signer).verify(token)

    with pytest.raises(BadSignature):
        verifier_for(signer).verify(with_signature(token, der))


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize(
    "reshape",
    [
        pytest.param(lambda signature: signature[:-1], id="one-byte-short"),
        pytest.param(lambda signature: signature + b"\x00", id="one-byte-long"),
        pytest.param(lambda signature: b"\x00" + signature, id="leading-zero-byte"),
        pytest.param(lambda signature: b"", id="empty"),
        pytest.param(lambda signature: signature * 2, id="doubled"),
    ],
)
def test_a_signature_of_the_wrong_length_is_bad(alg: str, reshape: Callable[[bytes], bytes]) -> None:
    signer = signing_key(alg)
    token = sign_claims(signer, claims())

    with pytest.raises(BadSignature):
        verifier_for(signer).verify(with_signature(token, reshape(signature_of(token))))


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_signature_by_another_key_of_the_same_algorithm_is_bad(alg: str) -> None:
    signer, stranger = signing_key(alg), other_signing_key(alg)
    token = sign_raw(stranger, header_for(signer), claims())

    with pytest.raises(BadSignature):
        verifier_for(signer).verify(token)


# Time claims ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [str(int(NOW)), "", None, True, False, [NOW], {"t": NOW}])
def test_a_time_claim_that_is_not_a_number_is_malformed(name: str, value: Any) -> None:
    token = sign_claims(key(), {"sub": "alice", name: value})

    with pytest.raises(MalformedToken):
        verify(token)
    with pytest.raises(MalformedToken):
        inspect(token)


@pytest.mark.parametrize(
    ("name", "offset", "leeway", "expected"),
    [
        ("exp", 0, 0, Expired),
        ("exp", 0.001, 0, None),
        ("exp", -59.999, 60, None),
        ("exp", -60, 60, Expired),
        ("exp", -3600, 60, Expired),
        ("nbf", 0, 0, None),
        ("nbf", 0.001, 0, NotYetValid),
        ("nbf", 60, 60, None),
        ("nbf", 60.001, 60, NotYetValid),
        ("iat", 0, 0, None),
        ("iat", 0.001, 0, NotYetValid),
        ("iat", 60, 60, None),
        ("iat", 60.5, 60, NotYetValid),
        ("iat", -(10**9), 60, None),
    ],
)
def test_time_claims_hold_at_the_leeway_boundaries(
    name: str, offset: float, leeway: float, expected: ParseError | None
) -> None:
    # The claim lies ``offset`` seconds after the verifier's now.
    token = sign_claims(key(), {"sub": "alice", name: NOW + offset})
    verifier = verifier_for(key(), leeway=leeway)

    if expected is None:
        assert verifier.verify(token).claims == {"sub": "alice", name: NOW + offset}
    else:
        with pytest.raises(expected):
            verifier.verify(token)


def test_a_token_without_time_claims_verifies() -> None:
    assert verify(sign_claims(key(), {"sub": "alice"})) == {"sub": "alice"}


# Audience and issuer ---------------------------------------------------------------------

ABSENT = object()


@pytest.mark.parametrize(
    ("aud", "audience", "accepted"),
    [
        ("api", "api", True),
        ("api", "other", False),
        (["other", "api"], "api", True),
        (["other"], "api", False),
        ([], "api", False),
        (ABSENT, "api", False),
        (None, "api", False),
        ("apis", "api", False),
        ("my-api", "api", False),
        (["apis"], "api", False),
        ({"api": True}, "api", False),
        ("API", "api", False),
        ("api", None, True),
        (ABSENT, None, True),
    ],
)
def test_audience_is_checked_only_when_asked_and_exactly(
    aud: Any, audience: str | None, accepted: bool
) -> None:
    token = good_token() if aud is ABSENT else good_token(aud=aud)

    if accepted:
        assert verify(token, audience=audience)
    else:
        with pytest.raises(InvalidAudience):
            verify(token, audience=audience)


@pytest.mark.parametrize(
    ("iss", "issuer", "accepted"),
    [
        ("https://issuer.example", "https://issuer.example", True),
        ("https://issuer.example", "https://other.example", False),
        ("https://issuer.example/", "https://issuer.example", False),
        ("https://issuer.example.evil", "https://issuer.example", False),
        (["https://issuer.example"], "https://issuer.example", False),
        (ABSENT, "https://issuer.example", False),
        (None, "https://issuer.example", False),
        ("https://anyone.example", None, True),
    ],
)
def test_issuer_is_checked_only_when_asked_and_exactly(iss: Any, issuer: str | None, accepted: bool) -> None:
    token = good_token() if iss is ABSENT else good_token(iss=iss)

    if accepted:
        assert verify(token, issuer=issuer)
    else:
        with pytest.raises(InvalidIssuer):
            verify(token, issuer=issuer)


# Key-carrying headers ------------------------------------------------------------------

KEY_HEADERS = {
    "jku": "https://attacker.example/jwks.json",
    "x5u": "https://attacker.example/cert.pem",
    "x5c": [b64(b"not a certificate")],
    "x5t": b64(b"0" * 20),
}


def test_key_carrying_headers_on_a_good_token_are_ignored() -> None:
    attacker = other_signing_key("EdDSA")
    keys = RecordingKeys(key())
    token = sign_claims(key(), claims(), jwk=attacker.public.to_jwk(), **KEY_HEADERS)

    assert Verifier(keys, clock=fixed_clock()).verify(token).claims == claims()
    assert keys.asked == [key().kid]


@pytest.mark.parametrize(("kid_of", "expected"), [("attacker", UnknownKid), ("victim", BadSignature)])
@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_an_attackers_embedded_jwk_is_never_used(alg: str, kid_of: str, expected: ParseError) -> None:
    victim, attacker = signing_key(alg), other_signing_key(alg)
    kid = attacker.kid if kid_of == "attacker" else victim.kid
    header = {"alg": alg, "kid": kid, "jwk": attacker.public.to_jwk(), **KEY_HEADERS}

    with pytest.raises(expected):
        verifier_for(victim).verify(sign_raw(attacker, header, claims()))


# Verification order --------------------------------------------------------------------


def _unsigned(header: dict[str, Any], payload: dict[str, Any] | bytes) -> str:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64(json.dumps(header).encode())}.{b64(body)}.{b64(b'not a signature')}"


def _order_cases() -> list[Any]:
    kid, stranger = key().kid, other_signing_key("EdDSA").kid
    ours, theirs = {"alg": "EdDSA", "kid": kid}, {"alg": "EdDSA", "kid": stranger}
    expired = claims(exp=NOW - 3600, aud="other", iss="https://other.example")
    early = claims(nbf=NOW + 3600, iss="https://other.example")
    cases = {
        "malformed>missing_kid": (_unsigned({"alg": "EdDSA"}, b"plain text"), MalformedToken),
        "malformed>unknown_kid": (_unsigned(theirs, {"exp": "soon"}), MalformedToken),
        "malformed>alg_none": (_unsigned({"alg": "none", "kid": kid, "crit": []}, claims()), MalformedToken),
        "missing_kid>alg_none": (_unsigned({"alg": "none"}, claims()), MissingKid),
        "missing_kid>expired": (_unsigned({"alg": "HS256"}, claims(exp=NOW - 3600)), MissingKid),
        "alg_not_allowed>unknown_kid": (
            _unsigned({"alg": "HS256", "kid": stranger}, claims()),
            AlgNotAllowed,
        ),
        "unknown_kid>bad_signature": (_unsigned(theirs, claims()), UnknownKid),
        "alg_mismatch>bad_signature": (_unsigned({"alg": "ES256", "kid": kid}, claims()), AlgNotAllowed),
        "bad_signature>expired": (_unsigned(ours, expired), BadSignature),
        "bad_signature>invalid_audience": (_unsigned(ours, claims(aud="x")), BadSignature),
        "expired>invalid_audience+issuer": (sign_claims(key(), expired), Expired),
        "not_yet_valid>invalid_issuer": (sign_claims(key(), early), NotYetValid),
    }
    return [pytest.param(token, expected, id=name) for name, (token, expected) in cases.items()]


@pytest.mark.parametrize(("token", "expected"), _order_cases())
def test_the_earliest_failed_check_in_api_order_wins(token: str, expected: ParseError) -> None:
    with pytest.raises(TokenError) as refused:
        verify(token, audience="api", issuer="https://issuer.example")

    assert type(refused.value) is expected


# inspect -------------------------------------------------------------------------------


def test_inspect_takes_apart_without_verifying() -> None:
    token = with_signature(sign_claims(key(), claims(exp=NOW - 3600)), b"forged")

    unverified = inspect(token)

    assert unverified.claims == claims(exp=NOW - 3600)
    assert unverified.header == header_for(key())
    with pytest.raises(BadSignature):
        verify(token)


def test_inspect_does_not_need_a_kid_but_its_kid_property_does() -> None:
    unverified = inspect(_unsigned({"alg": "EdDSA"}, claims()))

    assert unverified.header == {"alg": "EdDSA"}
    with pytest.raises(MissingKid):
        _ = unverified.kid

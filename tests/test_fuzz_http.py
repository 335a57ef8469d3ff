"""Fuzzing the HTTP surface: hypothesis with our own strategies, then schemathesis.

Whatever arrives (any JSON, any bytes, any token, any header, any path),
the service answers below 500, and every 4xx is ``application/problem+json``
whose ``status`` and ``code`` agree with API.md's table. Schemathesis then
generates requests from the service's own ``/openapi.json`` (positive and
negative) and checks every answer against that document.

The service trusts one JWKS prefix on a closed loopback port that no
strategy produces, so a generated ``jwksUri`` is refused before any name is
resolved or any connection is made: fuzzing never leaves the machine.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from jwtseal import __version__
from jwtseal.http.openapi import openapi_document
from jwtseal.http.problems import STATUS_BY_CODE
from tests.conftest import API_KEY, RunningService, running_service
from tests.tokens import b64

NOWHERE = "http://127.0.0.1:9/jwtseal-fuzz-never-generated/"
B64URL = string.ascii_letters + string.digits + "-_"
EXAMPLES = 300
SCHEMATHESIS_EXAMPLES = 250
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with running_service(tmp_path_factory.mktemp("fuzz"), JWTSEAL_TRUSTED_JWKS_URIS=NOWHERE) as running:
        yield running


def assert_well_formed(response: httpx.Response) -> None:
    """Below 500; a 4xx is a problem whose status and code match API.md's table."""
    assert response.status_code < 500, response.text
    if response.status_code < 400:
        return
    assert response.headers["content-type"] == "application/problem+json", response.text
    if response.request.method == "HEAD":
        return  # no body to read
    problem = response.json()
    assert problem["status"] == response.status_code
    assert STATUS_BY_CODE[problem["code"]] == response.status_code
    assert isinstance(problem["title"], str)
    assert isinstance(problem["detail"], str)


def post(running: RunningService, path: str, content: bytes, **headers: str) -> httpx.Response:
    return running.client.post(
        path, content=content, headers={"authorization": f"Bearer {API_KEY}", **headers}
    )


# Hypothesis: bodies, tokens, claims, headers, paths ---------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
RAW_BODIES = st.one_of(
    JSON.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.sampled_from([b"", b"{", b'{"token":', b"NaN", b'{"a":1,"a":2}', b"\xef\xbb\xbf{}", b"{}" * 3]),
)


@FUZZ
@given(body=RAW_BODIES, path=st.sampled_from(["/decode", "/encode"]))
def test_any_body_to_decode_or_encode_is_answered_without_a_5xx(
    fuzzed: RunningService, body: bytes, path: str
) -> None:
    assert_well_formed(post(fuzzed, path, body))


SEGMENTS = st.one_of(
    st.text(alphabet=B64URL, max_size=40),
    st.text(alphabet=B64URL + "=+/.~ %\x00é", max_size=40),
    st.binary(max_size=48).map(b64),
    JSON.map(lambda value: b64(json.dumps(value).encode())),
    st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["RS256", "PS256", "ES256", "ES384", "EdDSA", "none", "HS256"]) | JSON,
            "kid": st.text(max_size=12) | JSON,
            "crit": JSON,
            "b64": st.booleans(),
            "jku": st.just(NOWHERE),
        },
    ).map(lambda header: b64(json.dumps(header).encode())),
)
TOKENS = st.one_of(
    st.tuples(SEGMENTS, SEGMENTS, SEGMENTS).map(".".join),
    st.lists(SEGMENTS, max_size=6).map(".".join),
    st.text(max_size=200),
)
OPTIONAL_STRINGS = st.none() | st.text(max_size=20) | JSON


@FUZZ
@given(
    token=TOKENS | JSON,
    jwks_uri=st.none()
    | st.sampled_from(["own", "file:///etc/passwd", "http://127.0.0.1:1/"])
    | st.text(max_size=30),
    audience=OPTIONAL_STRINGS,
    issuer=OPTIONAL_STRINGS,
)
def test_any_token_and_options_to_decode_are_refused_as_problems(
    fuzzed: RunningService, token: Any, jwks_uri: str | None, audience: Any, issuer: Any
) -> None:
    body: dict[str, Any] = {"token": token, "audience": audience, "issuer": issuer}
    if jwks_uri is not None:
        body["jwksUri"] = fuzzed.settings.jwks_uri if jwks_uri == "own" else jwks_uri
    answer = fuzzed.client.post("/decode", json=body)

    assert_well_formed(answer)
    assert answer.status_code in (400, 401)


@FUZZ
@given(data=st.data(), index=st.integers(0, 2))
def test_mutated_genuine_tokens_are_refused_over_http(
    fuzzed: RunningService, data: st.DataObject, index: int
) -> None:
    token = fuzzed.token({"groceryList": ["milk"]})
    parts = token.split(".")
    segment = parts[index]
    position = data.draw(st.integers(0, len(segment)), label="position")
    replacement = data.draw(st.text(alphabet=B64URL + "=+/.", min_size=0, max_size=2), label="replacement")
    parts[index] = segment[:position] + replacement + segment[position + 1 :]
    mutated = ".".join(parts)
    answer = fuzzed.client.post("/decode", json={"token": mutated})

    assert_well_formed(answer)
    if mutated != token:
        assert answer.status_code == 401


TIME = st.integers(-(10**12), 10**12) | st.floats(-1e12, 1e12) | st.just(int(time.time()) + 600) | JSON
CLAIMS = st.dictionaries(
    st.sampled_from(["exp", "nbf", "iat", "iss", "jti", "sub", "aud", "groceryList"]) | st.text(max_size=8),
    TIME,
    max_size=6,
)


def _valid_from(claims: dict[str, Any], now: float) -> bool | None:
    """Whether a token with these claims is already valid; None when too close to tell."""
    nbf = claims.get("nbf")
    if not isinstance(nbf, int | float) or isinstance(nbf, bool):
        return True
    distance = nbf - (now + 60)
    return None if abs(distance) < 5 else distance < 0


@FUZZ
@given(claims=CLAIMS)
def test_any_claims_to_encode_are_signed_or_refused_and_round_trip(
    fuzzed: RunningService, claims: dict[str, Any]
) -> None:
    answer = fuzzed.encode(claims)

    assert_well_formed(answer)
    if answer.status_code != 200:
        assert answer.json()["code"] in ("reserved_claim", "ttl_too_long", "invalid_claim")
        return
    decoded = fuzzed.client.post("/decode", json={"token": answer.json()["token"]})
    valid = _valid_from(claims, time.time())
    if valid is False or (valid is None and decoded.status_code == 401):
        assert decoded.json()["code"] == "not_yet_valid"
        return
    assert decoded.status_code == 200, decoded.text
    assert {name: decoded.json()[name] for name in claims} == claims


# Field values an HTTP client can send (RFC 9110 section 5.5): visible ASCII, space, tab and
# obs-text, no leading or trailing whitespace. Anything else is refused by the HTTP parser
# (jwtseal answers a 400 problem) before any handler sees it.
HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f") | st.just("\t"),
    max_size=40,
).map(str.strip)
BEARERS = st.builds(
    "{} {}{}".format,
    st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", ""]),
    st.sampled_from([API_KEY, API_KEY[:-1], API_KEY.upper(), "", f" {API_KEY}"]),
    st.sampled_from(["", " ", "x", "\t"]),
).map(str.strip)


@FUZZ
@given(authorization=HEADER_VALUES | BEARERS)
def test_any_authorization_header_gets_a_token_only_with_the_api_key(
    fuzzed: RunningService, authorization: str
) -> None:
    answer = fuzzed.client.post(
        "/encode", json={}, headers={b"authorization": authorization.encode("latin-1")}
    )

    assert_well_formed(answer)
    scheme, _, key = authorization.partition(" ")
    assert (answer.status_code == 200) is (scheme.lower() == "bearer" and key.strip() == API_KEY)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(["/encode", "/decode", "/.well-known/jwks.json", "/openapi.json", "/keys"])
    | st.text(alphabet=string.ascii_letters + string.digits + "/._~-%", max_size=30).map(lambda p: f"/{p}"),
)
def test_any_method_and_path_is_answered_without_a_5xx(
    fuzzed: RunningService, method: str, path: str
) -> None:
    answer = fuzzed.client.request(method, path)

    assert_well_formed(answer)
    if answer.status_code == 405:
        assert method not in answer.headers["allow"].split(", ")


# Schemathesis: the service against its own /openapi.json --------------------------------

DOCUMENT = openapi_document(__version__)
# Negative cases need something to break: only operations with a request body have any.
OPERATIONS = [
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, methods in DOCUMENT["paths"].items()
    for method, operation in methods.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or "requestBody" in operation
]


@dataclass(frozen=True, slots=True)
class Served:
    """The running service, its schema as served at /openapi.json, one HTTP session."""

    url: str
    schema: schemathesis.BaseSchema
    session: requests.Session


@pytest.fixture(scope="module")
def served(fuzzed: RunningService) -> Iterator[Served]:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    with requests.Session() as session:
        yield Served(fuzzed.url, schema, session)


def test_the_served_document_is_the_one_the_operations_come_from(fuzzed: RunningService) -> None:
    assert fuzzed.client.get("/openapi.json").json() == DOCUMENT


RESERVED = {"iss", "iat", "jti"}


def encode_refusals_have_a_reason(
    ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case[Any]
) -> None:
    """A schema-valid /encode body refused only with a code its own claims explain.

    Stands in for schemathesis's positive_data_acceptance on /encode: whether an ``exp``
    is acceptable depends on the clock (API.md: within the maximum lifetime, not past),
    which no static schema can state, so a schema-valid body may rightly get a 400.
    """
    if response.status_code != 400 or not isinstance(case.body, dict):
        return
    code = response.json()["code"]
    explained = {
        "reserved_claim": bool(RESERVED & case.body.keys()),
        "invalid_claim": "exp" in case.body or "nbf" in case.body,
        "ttl_too_long": "exp" in case.body,
    }
    assert explained.get(code, False), f"{code} for {case.body!r}"


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_schemathesis_finds_every_answer_conforming(
    served: Served, method: str, path: str, mode: GenerationMode
) -> None:
    operation = served.schema[path][method]
    replaced = (
        {
            "excluded_checks": [schemathesis.checks.positive_data_acceptance],
            "additional_checks": [encode_refusals_have_a_reason],
        }
        if path == "/encode"
        else {}
    )

    @settings(
        max_examples=SCHEMATHESIS_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(
            base_url=served.url,
            session=served.session,
            headers={"Authorization": f"Bearer {API_KEY}"},
            **replaced,
        )
        assert response.status_code < 500

    check()

"""The attack catalogue, through the HTTP API: one named test per attack.

Each attack is sent to a real service (one per algorithm) as ``POST /decode``
(or ``POST /encode`` where the attack is on issuing). Every answer must be a
4xx ``application/problem+json`` carrying exactly the code of the first check
that fails in API.md's order, never a 5xx, and never any claims: every
payload carries :data:`MARKER`, which must not come back. A counting origin
on 127.0.0.1 is the target of every key-carrying header and of ``jwksUri``
for tokens refused before the key lookup; it must receive nothing, ever.

The library-level twins of many of these cases are in test_token_parsing.py;
here they go through the edge, with the service's own keys.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from jwtseal import SigningKey
from jwtseal._json import MAX_DEPTH
from tests.conftest import API_KEY, RunningService, running_service
from tests.remote_origin import Origin
from tests.test_http import assert_problem
from tests.tokens import ALGORITHMS, b64, other_signing_key, sign_raw, sign_segments, unb64

MARKER = "attack-marker-6b1f0c"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}
MAX_BODY = 65_536
FAMILIES = ({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, {"ES256", "ES384", "ES512"}, {"EdDSA"})


# Services and the origin that must hear nothing -----------------------------------------


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        running.serve_keys(other_signing_key("RS256"), other_signing_key("ES256"))
        yield running


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, origin: Origin) -> Iterator[dict[str, RunningService]]:
    """One service per algorithm; each trusts the origin, so only the token decides a fetch."""
    trusted = origin.url("/")
    with ExitStack() as stack:
        yield {
            alg: stack.enter_context(
                running_service(
                    tmp_path_factory.mktemp(alg), JWTSEAL_ALGORITHM=alg, JWTSEAL_TRUSTED_JWKS_URIS=trusted
                )
            )
            for alg in ALGORITHMS
        }


@pytest.fixture(autouse=True)
def origin_hears_nothing(origin: Origin) -> Iterator[None]:
    yield
    assert origin.requests == []


def victim(services: dict[str, RunningService], alg: str) -> SigningKey:
    """The service's current signing key (the test may sign with it; an attacker may not)."""
    return services[alg].service.keyring.view().signing_key


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "mallory",
        "groceryList": ["cookies", "candy"],
        "marker": MARKER,
        "iat": now,
        "exp": now + 600,
        **extra,
    }


def decode(running: RunningService, token: str, **extra: str) -> httpx.Response:
    return running.client.post("/decode", json={"token": token, **extra})


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    """A 4xx problem with API.md's code, nothing but the problem members, no claim echoed."""
    body = assert_problem(response, status, code)
    assert set(body) == PROBLEM_MEMBERS
    assert MARKER not in response.text
    assert "groceryList" not in response.text


def assert_token_refused(running: RunningService, token: str, code: str) -> None:
    assert_refused(decode(running, token), 401, code)


def header_of(key: SigningKey, **extra: Any) -> dict[str, Any]:
    return {"alg": key.alg, "kid": key.kid, "typ": "JWT", **extra}


def json_segment(value: bytes | dict[str, Any]) -> str:
    return b64(value if isinstance(value, bytes) else json.dumps(value).encode())


# alg none, HMAC, and an alg the key does not have -------------------------------------

NONE_CASINGS = ["none", "None", "NONE", "nOnE", "NoNe"]


@pytest.mark.parametrize("alg", NONE_CASINGS)
@pytest.mark.parametrize("signature", ["unsigned", "zeros", "victims"])
@pytest.mark.parametrize("kid", ["victim", "absent"])
def test_alg_none_in_any_casing(
    services: dict[str, RunningService], origin: Origin, alg: str, signature: str, kid: str
) -> None:
    code = {"victim": "alg_not_allowed", "absent": "missing_kid"}[kid]  # API.md: missing_kid first
    key = victim(services, "RS256")
    header = {"alg": alg, "typ": "JWT", **({"kid": key.kid} if kid == "victim" else {})}
    signing_input = f"{json_segment(header)}.{json_segment(claims())}"
    raw = {"unsigned": b"", "zeros": bytes(256), "victims": key.sign(signing_input.encode())}[signature]
    token = f"{signing_input}.{b64(raw)}"

    assert_token_refused(services["RS256"], token, code)
    assert_refused(decode(services["RS256"], token, jwksUri=origin.url()), 401, code)


def _public_pem(public_jwk: dict[str, Any], form: str) -> bytes:
    key = jwt.PyJWK(public_jwk).key
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    if form == "pkcs1":
        assert isinstance(key, rsa.RSAPublicKey)
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _hmac(secret: bytes, alg: str, data: bytes) -> bytes:
    mac = hmac.HMAC(
        secret, {"HS256": hashes.SHA256(), "HS384": hashes.SHA384(), "HS512": hashes.SHA512()}[alg]
    )
    mac.update(data)
    return mac.finalize()


SECRETS = [
    ("RS256", "spki-pem"),
    ("RS256", "pkcs1-pem"),
    ("RS256", "jwk"),
    ("RS256", "jwks"),
    ("ES256", "spki-pem"),
    ("ES256", "jwk"),
]


@pytest.mark.parametrize("hmac_alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize(("alg", "secret"), SECRETS)
def test_hmac_keyed_with_the_published_public_key(
    services: dict[str, RunningService], origin: Origin, hmac_alg: str, alg: str, secret: str
) -> None:
    # The classic key confusion: the attacker takes the public key from the JWKS (as PEM, as
    # the JWK's JSON text, or the whole JWKS document) and uses it as an HMAC secret.
    running = services[alg]
    document = running.client.get("/.well-known/jwks.json").content
    current = victim(services, alg).kid
    (jwk,) = [entry for entry in json.loads(document)["keys"] if entry["kid"] == current]
    key_bytes = {
        "spki-pem": lambda: _public_pem(jwk, "spki"),
        "pkcs1-pem": lambda: _public_pem(jwk, "pkcs1"),
        "jwk": lambda: json.dumps(jwk, separators=(",", ":")).encode(),
        "jwks": lambda: document,
    }[secret]()
    signing_input = (
        f"{json_segment({'alg': hmac_alg, 'kid': current, 'typ': 'JWT'})}.{json_segment(claims())}"
    )
    token = f"{signing_input}.{b64(_hmac(key_bytes, hmac_alg, signing_input.encode()))}"

    assert_token_refused(running, token, "alg_not_allowed")
    assert_refused(decode(running, token, jwksUri=origin.url()), 401, "alg_not_allowed")


def _private_key(key: SigningKey) -> Any:
    """The cryptography object of a jwtseal key, through PyJWT (the test's own access)."""
    return jwt.PyJWK({**key.to_private_jwk()}).key


def sign_as(key: SigningKey, alg: str, signing_input: bytes) -> bytes:
    """A real signature under ``alg`` where ``key``'s type allows it (any RS* or PS* with an RSA
    key, any ES* with an EC key, whatever its curve), else the key's own signature."""
    if any({key.alg, alg} <= family for family in FAMILIES):
        signature: bytes = jwt.get_algorithm_by_name(alg).sign(signing_input, _private_key(key))
        return signature
    return key.sign(signing_input)


MISMATCHES = [(key_alg, alg) for key_alg in ALGORITHMS for alg in ALGORITHMS if key_alg != alg]


@pytest.mark.parametrize(("key_alg", "header_alg"), MISMATCHES)
def test_alg_that_does_not_match_the_key(
    services: dict[str, RunningService], key_alg: str, header_alg: str
) -> None:
    key = victim(services, key_alg)
    signing_input = f"{json_segment({'alg': header_alg, 'kid': key.kid})}.{json_segment(claims())}"
    token = f"{signing_input}.{b64(sign_as(key, header_alg, signing_input.encode()))}"

    assert_token_refused(services[key_alg], token, "alg_not_allowed")


# ECDSA signatures -----------------------------------------------------------------------

EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


@pytest.mark.parametrize("alg", EC_SIZES)
@pytest.mark.parametrize("form", ["raw", "der"])
def test_ecdsa_with_r_and_s_zero_cve_2022_21449(
    services: dict[str, RunningService], alg: str, form: str
) -> None:
    key = victim(services, alg)
    zero = bytes(2 * EC_SIZES[alg]) if form == "raw" else encode_dss_signature(0, 0)
    token = f"{json_segment(header_of(key))}.{json_segment(claims())}.{b64(zero)}"

    assert_token_refused(services[alg], token, "bad_signature")


@pytest.mark.parametrize("alg", EC_SIZES)
def test_der_encoded_ecdsa_signature(services: dict[str, RunningService], alg: str) -> None:
    # JWS wants R || S (RFC 7518 section 3.4); DER is what OpenSSL and Java produce natively.
    running = services[alg]
    token = running.token({"marker": MARKER})
    head, signature = token.rsplit(".", 1)
    raw = unb64(signature)
    half = EC_SIZES[alg]
    der = encode_dss_signature(int.from_bytes(raw[:half]), int.from_bytes(raw[half:]))
    assert decode(running, token).status_code == 200

    assert_token_refused(running, f"{head}.{b64(der)}", "bad_signature")


# crit and b64 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "crit",
    [["http://example.com/unknown"], ["exp"], ["kid"], [], "exp", None],
    ids=["unknown-uri", "exp", "kid", "empty", "not-a-list", "null"],
)
def test_unknown_crit(services: dict[str, RunningService], crit: Any) -> None:
    key = victim(services, "EdDSA")
    token = sign_raw(key, header_of(key, crit=crit, **{"http://example.com/unknown": True}), claims())

    assert_token_refused(services["EdDSA"], token, "malformed_token")


@pytest.mark.parametrize("payload_form", ["unencoded", "base64url"])
@pytest.mark.parametrize("with_crit", [True, False])
def test_b64_false(services: dict[str, RunningService], payload_form: str, with_crit: bool) -> None:
    # RFC 7797: the payload is signed (and sent) as is. Signed properly with the victim's key.
    key = victim(services, "EdDSA")
    header = header_of(key, b64=False, **({"crit": ["b64"]} if with_crit else {}))
    payload = json.dumps(claims(), separators=(",", ":"))
    signing_input = f"{json_segment(header)}.{payload}"
    shown = payload if payload_form == "unencoded" else b64(payload.encode())
    token = f"{json_segment(header)}.{shown}.{b64(key.sign(signing_input.encode()))}"

    assert_token_refused(services["EdDSA"], token, "malformed_token")


# Key-carrying headers -----------------------------------------------------------------


def _self_signed_certificate(key: SigningKey) -> bytes:
    private = _private_key(key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mallory")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    digest = None if isinstance(private, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(private, digest).public_bytes(serialization.Encoding.DER)


def key_headers(origin: Origin, attacker: SigningKey) -> dict[str, Any]:
    certificate = _self_signed_certificate(attacker)
    return {
        "jku": origin.url("/jwks.json"),
        "x5u": origin.url("/certificate.pem"),
        "jwk": dict(attacker.public.to_jwk()),
        "x5c": [base64.b64encode(certificate).decode()],
    }


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c", "all"])
@pytest.mark.parametrize("kid_of", ["attacker", "victim"])
def test_key_carrying_headers_pointing_at_a_local_origin(
    services: dict[str, RunningService], origin: Origin, alg: str, member: str, kid_of: str
) -> None:
    # The attacker signs with their own key and points every key-carrying header at it (the
    # origin serves the attacker's JWKS). jwtseal finds keys by kid in its own set only.
    attacker = other_signing_key(alg)
    members = key_headers(origin, attacker)
    chosen = members if member == "all" else {member: members[member]}
    kid = attacker.kid if kid_of == "attacker" else victim(services, alg).kid
    token = sign_raw(attacker, {"alg": alg, "kid": kid, **chosen}, claims())

    assert_token_refused(services[alg], token, "unknown_kid" if kid_of == "attacker" else "bad_signature")


def test_key_carrying_headers_on_a_genuine_token_are_ignored(
    services: dict[str, RunningService], origin: Origin
) -> None:
    # The other half of API.md's rule: the members are ignored, not refused, and never fetched.
    key = victim(services, "ES256")
    token = sign_raw(key, header_of(key, **key_headers(origin, other_signing_key("ES256"))), claims())

    answer = decode(services["ES256"], token)

    assert answer.status_code == 200, answer.text
    assert answer.json() == json.loads(unb64(token.split(".")[1]))


def test_jwks_uri_on_loopback_is_refused_before_any_request(
    tmp_path_factory: pytest.TempPathFactory, origin: Origin, services: dict[str, RunningService]
) -> None:
    # SSRF through the body instead of the token: a service that trusts nothing local.
    token = services["RS256"].token({"marker": MARKER})
    with running_service(tmp_path_factory.mktemp("untrusting")) as untrusting:
        for uri in (origin.url(), origin.url(host="localhost"), origin.url().replace("http:", "https:")):
            assert_refused(decode(untrusting, token, jwksUri=uri), 400, "jwks_uri_not_allowed")


# kid -----------------------------------------------------------------------------------

HOSTILE_KIDS = [
    "../../../../../../etc/passwd",
    "../keys.json",
    "keys.json",
    "api-keys.json",
    "/dev/zero",
    "..\\..\\keys.json",
    "%2e%2e%2fkeys.json",
    "file:///etc/passwd",
    "' OR '1'='1",
    "1; DROP TABLE keys; --",
    '" OR ""="',
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "*",
    "kid\u0000",
    "\u202e",
    "k" * 2000,
]


@pytest.mark.parametrize("kid", HOSTILE_KIDS, ids=range(len(HOSTILE_KIDS)))
def test_kid_with_path_and_sql_fragments(services: dict[str, RunningService], kid: str) -> None:
    running = services["EdDSA"]
    data_dir = running.settings.data_dir
    before = {path.name: path.read_bytes() for path in data_dir.iterdir() if path.is_file()}
    attacker = other_signing_key("EdDSA")

    for hostile in (kid, victim(services, "EdDSA").kid + kid):  # alone, and after the real kid
        token = sign_raw(attacker, {"alg": "EdDSA", "kid": hostile}, claims())
        assert_token_refused(running, token, "unknown_kid")
    assert {path.name: path.read_bytes() for path in data_dir.iterdir() if path.is_file()} == before


def test_kid_of_the_victims_key_with_a_trailing_nul(services: dict[str, RunningService]) -> None:
    key = victim(services, "EdDSA")
    token = sign_raw(other_signing_key("EdDSA"), {"alg": "EdDSA", "kid": f"{key.kid}\u0000"}, claims())

    assert_token_refused(services["EdDSA"], token, "unknown_kid")


# Segments and base64url -----------------------------------------------------------------


@pytest.mark.parametrize(
    "reshape",
    [
        pytest.param(lambda h, p, s: [h, p], id="two"),
        pytest.param(lambda h, p, s: [h, p, s, s], id="four"),
        pytest.param(lambda h, p, s: [h, "", p, "", s], id="five-jwe-shaped"),
        pytest.param(lambda h, p, s: [h, p, s, "", ""], id="five-trailing"),
    ],
)
def test_two_four_and_five_segments(
    services: dict[str, RunningService], reshape: Callable[[str, str, str], list[str]]
) -> None:
    running = services["ES256"]
    header, payload, signature = running.token({"marker": MARKER}).split(".")

    assert_token_refused(running, ".".join(reshape(header, payload, signature)), "malformed_token")


def _token_where(services: dict[str, RunningService], wanted: Callable[[list[str]], bool]) -> str:
    """A genuine EdDSA token whose segments satisfy ``wanted`` (a filler claim varies)."""
    key = victim(services, "EdDSA")
    for n in range(500):
        token = sign_raw(key, header_of(key, pad="?>" * (n % 7)), claims(filler="~" * n, q="?" * (n % 4)))
        if wanted(token.split(".")):
            assert decode(services["EdDSA"], token).status_code == 200
            return token
    raise AssertionError("no such token")  # pragma: no cover


def _padded(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4)


def _spare_bits(segment: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    mask = {2: 0b1111, 3: 0b11}[len(segment) % 4]
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) | mask]


def _standard_alphabet(segment: str) -> str:
    return segment.translate(str.maketrans("-_", "+/"))


RESPELLINGS: dict[str, tuple[Callable[[str], str], Callable[[str], bool]]] = {
    "padding": (_padded, lambda segment: len(segment) % 4 != 0),
    "spare-bits": (_spare_bits, lambda segment: len(segment) % 4 != 0),
    "standard-alphabet": (_standard_alphabet, lambda segment: bool(set(segment) & set("-_"))),
    "percent-encoded": (lambda segment: segment.replace("_", "%5F"), lambda segment: "_" in segment),
    "inner-whitespace": (lambda segment: f"{segment[:5]} {segment[5:]}", lambda segment: True),
    "line-break": (lambda segment: f"{segment[:5]}\n{segment[5:]}", lambda segment: True),
}


@pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
@pytest.mark.parametrize("respelling", RESPELLINGS)
def test_padding_and_non_canonical_base64url(
    services: dict[str, RunningService], index: int, respelling: str
) -> None:
    respell, applies = RESPELLINGS[respelling]
    parts = _token_where(services, lambda segments: applies(segments[index])).split(".")
    parts[index] = respell(parts[index])

    assert_token_refused(services["EdDSA"], ".".join(parts), "malformed_token")


# JSON ----------------------------------------------------------------------------------


def _duplicates(key: SigningKey) -> dict[str, tuple[bytes, bytes]]:
    good_header = json.dumps(header_of(key)).encode()
    good_payload = json.dumps(claims()).encode()
    future = int(time.time()) + 600
    return {
        "header-alg": (f'{{"alg":"none","alg":"{key.alg}","kid":"{key.kid}"}}'.encode(), good_payload),
        "header-kid": (f'{{"alg":"{key.alg}","kid":"other","kid":"{key.kid}"}}'.encode(), good_payload),
        "payload-exp": (good_header, f'{{"exp":1,"marker":"{MARKER}","exp":{future}}}'.encode()),
        "payload-sub": (good_header, f'{{"sub":"whitney","marker":"{MARKER}","sub":"mallory"}}'.encode()),
        "payload-nested": (good_header, f'{{"marker":"{MARKER}","cart":{{"a":1,"a":2}}}}'.encode()),
    }


@pytest.mark.parametrize("case", ["header-alg", "header-kid", "payload-exp", "payload-sub", "payload-nested"])
def test_duplicate_json_members(services: dict[str, RunningService], case: str) -> None:
    key = victim(services, "EdDSA")
    header, payload = _duplicates(key)[case]

    assert_token_refused(services["EdDSA"], sign_raw(key, header, payload), "malformed_token")


NOT_OBJECTS = [b"[]", b'["alg"]', b'"text"', b"1", b"null", b"true", b"", b"{}{}", b"\xef\xbb\xbf{}"]


@pytest.mark.parametrize("part", ["header", "payload"])
@pytest.mark.parametrize("value", NOT_OBJECTS)
def test_header_or_payload_that_is_not_an_object(
    services: dict[str, RunningService], part: str, value: bytes
) -> None:
    key = victim(services, "EdDSA")
    token = sign_raw(key, value, claims()) if part == "header" else sign_raw(key, header_of(key), value)

    assert_token_refused(services["EdDSA"], token, "malformed_token")


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH, 1_000, 5_000, 20_000])
def test_deeply_nested_payload(services: dict[str, RunningService], depth: int) -> None:
    key = victim(services, "EdDSA")
    payload = f'{{"marker":"{MARKER}","cart":{_nested(depth)}}}'.encode()  # depth + 1 deep

    assert_token_refused(services["EdDSA"], sign_raw(key, header_of(key), payload), "malformed_token")


def test_payload_nested_to_jwtseals_limit_is_answered_and_one_deeper_is_malformed(
    services: dict[str, RunningService],
) -> None:
    # The same answer on every interpreter: the limit is jwtseal's, not the recursion limit.
    key = victim(services, "EdDSA")
    for depth in range(MAX_DEPTH - 3, MAX_DEPTH + 3):
        payload = f'{{"marker":"{MARKER}","cart":{_nested(depth)}}}'.encode()
        answer = decode(services["EdDSA"], sign_raw(key, header_of(key), payload))
        if depth + 1 <= MAX_DEPTH:
            assert answer.status_code == 200
            assert answer.content == payload  # the claims, written back as they came
        else:
            assert_refused(answer, 401, "malformed_token")


def test_deeply_nested_header(services: dict[str, RunningService]) -> None:
    key = victim(services, "EdDSA")
    header = f'{{"alg":"EdDSA","kid":"{key.kid}","x":{_nested(2_000)}}}'.encode()

    assert_token_refused(services["EdDSA"], sign_raw(key, header, claims()), "malformed_token")


@pytest.mark.parametrize("path", ["/decode", "/encode"])
def test_deeply_nested_request_body(services: dict[str, RunningService], path: str) -> None:
    body = f'{{"token":{_nested(30_000)}}}'.encode()
    headers = {"authorization": f"Bearer {API_KEY}"}

    assert_refused(services["EdDSA"].client.post(path, content=body, headers=headers), 400, "invalid_request")


def _statuses_by_depth(running: RunningService, path: str, template: str) -> dict[int, int]:
    """POST bodies nested at every depth around jwtseal's limit; the status of each."""
    statuses = {}
    for depth in [*range(MAX_DEPTH - 3, MAX_DEPTH + 3), sys.getrecursionlimit()]:
        body = template.replace("NESTED", _nested(depth))
        answer = running.client.post(path, content=body, headers={"authorization": f"Bearer {API_KEY}"})
        statuses[depth + 1] = answer.status_code  # the body's depth
        if answer.status_code != 200:
            assert_refused(answer, answer.status_code, answer.json()["code"])
    return statuses


def test_decode_body_nested_past_jwtseals_limit_is_a_bad_request_never_500(
    services: dict[str, RunningService],
) -> None:
    statuses = _statuses_by_depth(services["EdDSA"], "/decode", '{"token":"x","cart":NESTED}')

    assert statuses == {depth: 401 if depth <= MAX_DEPTH else 400 for depth in statuses}  # 401: "x"


def test_encode_body_signs_up_to_jwtseals_limit_and_refuses_deeper(
    services: dict[str, RunningService],
) -> None:
    # What parses can be signed: the claims are as deep as the body that carried them.
    statuses = _statuses_by_depth(services["EdDSA"], "/encode", '{"cart":NESTED}')

    assert statuses == {depth: 200 if depth <= MAX_DEPTH else 400 for depth in statuses}


def test_very_large_header(services: dict[str, RunningService]) -> None:
    key = victim(services, "EdDSA")

    assert_token_refused(
        services["EdDSA"], sign_raw(key, header_of(key, x="a" * 5_000), claims()), "malformed_token"
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda: claims(cart=["x" * 40] * 1_000), id="long-array"),
        pytest.param(lambda: claims(**{f"k{n}": n for n in range(3_000)}), id="many-members"),
        pytest.param(lambda: claims(cart="\u00e9\u2713" * 8_000), id="long-non-ascii-string"),
    ],
)
def test_very_large_payload_signed_by_a_stranger(
    services: dict[str, RunningService], payload: Callable[[], dict[str, Any]]
) -> None:
    key = victim(services, "EdDSA")
    text = json.dumps(payload(), ensure_ascii=False).encode()
    token = sign_raw(other_signing_key("EdDSA"), header_of(key), text)
    assert 40_000 < len(token) < MAX_BODY - 100

    assert_token_refused(services["EdDSA"], token, "bad_signature")


@pytest.mark.parametrize(
    "number",
    [b"1e400", b"-1e400", b"1" * 5_000, b"NaN", b"Infinity"],
    ids=["1e400", "-1e400", "5000-digits", "NaN", "Infinity"],
)
def test_numbers_json_cannot_hold(services: dict[str, RunningService], number: bytes) -> None:
    key = victim(services, "EdDSA")
    payload = b'{"marker":"' + MARKER.encode() + b'","n":' + number + b"}"

    assert_token_refused(services["EdDSA"], sign_raw(key, header_of(key), payload), "malformed_token")


# Time claims -----------------------------------------------------------------------------

NOW = int(time.time())
TIME_CLAIMS = [
    ("exp", '"9999999999"', "malformed_token"),
    ("nbf", '"0"', "malformed_token"),
    ("iat", '""', "malformed_token"),
    ("exp", "true", "malformed_token"),
    ("exp", "null", "malformed_token"),
    ("exp", "[9999999999]", "malformed_token"),
    ("exp", '{"$date":9999999999}', "malformed_token"),
    ("exp", "1e400", "malformed_token"),
    ("nbf", "-1e400", "malformed_token"),
    ("iat", "9" * 5_000, "malformed_token"),
    ("exp", f"{NOW - 3_600}.5", "expired"),
    ("exp", f"{NOW - 3_600}E0", "expired"),
    ("exp", "1e-400", "expired"),
    ("exp", "0", "expired"),
    ("exp", "-1", "expired"),
    ("exp", "-1e308", "expired"),
    ("exp", "-" + "9" * 300, "expired"),
    ("nbf", f"{NOW + 3_600}.5", "not_yet_valid"),
    ("nbf", "1e308", "not_yet_valid"),
    ("iat", f"{NOW + 3_600}.25", "not_yet_valid"),
    ("iat", "1" + "0" * 30, "not_yet_valid"),
    ("iat", "1.7976931348623157e308", "not_yet_valid"),
]


@pytest.mark.parametrize(
    ("name", "value", "code"), TIME_CLAIMS, ids=[f"{n}={v[:16]}" for n, v, _ in TIME_CLAIMS]
)
def test_time_claims_as_strings_floats_huge_and_negative_numbers(
    services: dict[str, RunningService], name: str, value: str, code: str
) -> None:
    key = victim(services, "EdDSA")
    payload = f'{{"sub":"mallory","marker":"{MARKER}","{name}":{value}}}'.encode()

    assert_token_refused(services["EdDSA"], sign_raw(key, header_of(key), payload), code)


# Oversized bodies ----------------------------------------------------------------------


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        piece = min(8_192, size - sent)
        sent += piece
        yield b"x" * piece


@pytest.mark.parametrize("path", ["/decode", "/encode"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_oversized_bodies(services: dict[str, RunningService], path: str, framing: str) -> None:
    size = MAX_BODY + 1
    content: bytes | Iterator[bytes] = b"x" * size if framing == "content-length" else _chunks(size)
    headers = {"authorization": f"Bearer {API_KEY}"}

    assert_refused(
        services["ES256"].client.post(path, content=content, headers=headers), 413, "payload_too_large"
    )


def test_a_token_that_fills_the_body_limit_exactly_is_still_read(services: dict[str, RunningService]) -> None:
    prefix, suffix = b'{"token":"', b'"}'
    body = prefix + b"A" * (MAX_BODY - len(prefix) - len(suffix)) + suffix
    assert len(body) == MAX_BODY

    assert_refused(services["ES256"].client.post("/decode", content=body), 401, "malformed_token")


def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent(
    services: dict[str, RunningService],
) -> None:
    # Content-Length: 1 GB, then nothing: the answer must not wait for the body.
    host, port = services["ES256"].url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"POST /decode HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n{")
        answer = conn.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in answer
    assert b'"code": "payload_too_large"' in answer


# /encode ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b'{"exp":1,"exp":%d}' % (NOW + 60), 400, "invalid_request", id="duplicate-exp"),
        pytest.param(b'{"iss":"a","iss":"b"}', 400, "invalid_request", id="duplicate-iss"),
        pytest.param(b'{"exp":1e400}', 400, "invalid_request", id="exp-1e400"),
        pytest.param(b'{"nbf":-Infinity}', 400, "invalid_request", id="nbf-infinity"),
        pytest.param(b'{"exp":' + b"9" * 5_000 + b"}", 400, "invalid_request", id="exp-5000-digits"),
        pytest.param(b'{"exp":1e308}', 400, "ttl_too_long", id="exp-1e308"),
        pytest.param(b'{"exp":' + b"9" * 400 + b"}", 400, "ttl_too_long", id="exp-400-digits"),
        pytest.param(b'{"exp":-1}', 400, "invalid_claim", id="exp-negative"),
        pytest.param(b'{"exp":"%d"}' % (NOW + 60), 400, "invalid_claim", id="exp-string"),
        pytest.param(b'{"nbf":[1]}', 400, "invalid_claim", id="nbf-array"),
        pytest.param(b'{"jti":null}', 400, "reserved_claim", id="jti-null"),
    ],
)
def test_encode_refuses_hostile_claims(
    services: dict[str, RunningService], body: bytes, status: int, code: str
) -> None:
    answer = services["ES256"].client.post(
        "/encode", content=body, headers={"authorization": f"Bearer {API_KEY}"}
    )

    assert_refused(answer, status, code)


def test_encode_claims_cannot_reach_the_header(services: dict[str, RunningService]) -> None:
    # Claims named like header members stay claims: the header is always jwtseal's own.
    running = services["ES256"]
    hostile = {"alg": "none", "kid": "../keys.json", "typ": "none", "crit": ["exp"], "b64": False, "jku": "x"}

    token = running.token({**hostile, "marker": MARKER})

    verified = decode(running, token).json()
    assert json.loads(unb64(token.split(".")[0])) == header_of(victim(services, "ES256"))
    assert verified == json.loads(unb64(token.split(".")[1]))
    assert {name: verified[name] for name in hostile} == hostile


def test_encode_without_the_api_key_never_signs_an_attack(services: dict[str, RunningService]) -> None:
    running = services["ES256"]
    for authorization in ("Bearer", f"Bearer {API_KEY[:-1]}", f"bearer  {API_KEY} x", f"Token {API_KEY}"):
        answer = running.client.post(
            "/encode", json={"marker": MARKER}, headers={"authorization": authorization}
        )
        assert_refused(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_forged_token_stays_refused_after_every_attack(services: dict[str, RunningService]) -> None:
    # Nothing above changed a key: the service still signs, verifies, and refuses a forgery.
    running = services["RS256"]
    token = running.token({"marker": MARKER})
    header, payload, _ = token.split(".")

    assert decode(running, token).status_code == 200
    assert_token_refused(running, sign_segments(other_signing_key("RS256"), header, payload), "bad_signature")

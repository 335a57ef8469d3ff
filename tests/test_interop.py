"""jwtseal against the ecosystem's real clients, both ways, over real HTTP.

Our tokens in their verifiers: for every algorithm a jwtseal service is
started (``JWTSEAL_ALGORITHM``) and its tokens are verified, against the
service's own JWKS URL, by the article's decoder ring (jsonwebtoken
``decode`` with ``complete`` + jwks-rsa ``getSigningKey`` + jsonwebtoken
``verify``), by panva jose (``createRemoteJWKSet`` + ``jwtVerify``), by
PyJWT (``PyJWKClient`` + ``jwt.decode``) and by jwcrypto (a fetched
``JWKSet``). The Node clients run in one ``node`` process per batch
(``tests/interop/verify.mjs``).

Their tokens in our verifier: node-jose signs exactly as the article's
encoder ring did, and panva jose, PyJWT and jwcrypto sign too, for each
algorithm; their JWKS are served from a local origin that the service
trusts (``JWTSEAL_TRUSTED_JWKS_URIS``), and ``POST /decode`` with that
``jwksUri`` answers exactly their claims.

Where a client lacks an algorithm the limitation is asserted, with the
client's own error, so that a change in the client is noticed.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from tests.conftest import RunningService, ServedInThread, running_service
from tests.tokens import ALGORITHMS, b64, unb64

ROOT = Path(__file__).parent.parent
INTEROP = Path(__file__).parent / "interop"
NODE_TIMEOUT = 120
AUDIENCE = "store"
GROCERIES = {"groceryList": ["milk", "eggs", "healthy stuff"], "sub": "whitney", "aud": AUDIENCE}
NODE_PRODUCERS = ("node-jose", "jose")
PY_PRODUCERS = ("pyjwt", "jwcrypto")


# Node, once per module ------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_ready() -> None:
    """The pinned Node clients are installed (``scripts/install-interop`` is idempotent)."""
    installed = subprocess.run(
        [str(ROOT / "scripts" / "install-interop")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"scripts/install-interop failed:\n{installed.stdout}\n{installed.stderr}")


def run_node(script: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run one ``tests/interop`` script with ``request`` as JSON on stdin; its JSON stdout."""
    done = subprocess.run(
        ["node", script],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=INTEROP,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


# jwtseal services, one per algorithm ---------------------------------------------------


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    with ExitStack() as stack:
        yield {
            alg: stack.enter_context(running_service(tmp_path_factory.mktemp(alg), JWTSEAL_ALGORITHM=alg))
            for alg in ALGORITHMS
        }


def jwks_uri(running: RunningService) -> str:
    return f"{running.url}/.well-known/jwks.json"


def segment_json(token: str, index: int) -> dict[str, Any]:
    """One decoded segment of a token (test data only: no checks)."""
    value: dict[str, Any] = json.loads(unb64(token.split(".")[index]))
    return value


def tampered(token: str) -> str:
    """``token`` with one signature byte changed (still canonical base64url)."""
    head, signature = token.rsplit(".", 1)
    raw = bytearray(unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{b64(bytes(raw))}"


@dataclass(frozen=True, slots=True)
class Ours:
    """A token jwtseal issued, its tampered copy, and what a verifier must answer."""

    alg: str
    jwks_uri: str
    token: str
    forged: str
    claims: dict[str, Any]
    header: dict[str, Any]


@pytest.fixture(scope="module")
def our_tokens(ours: dict[str, RunningService]) -> dict[str, Ours]:
    issued = {}
    for alg, running in ours.items():
        token = running.token(GROCERIES)
        header = {"alg": alg, "kid": running.service.keyring.view().signing_key.kid, "typ": "JWT"}
        assert segment_json(token, 0) == header
        issued[alg] = Ours(alg, jwks_uri(running), token, tampered(token), segment_json(token, 1), header)
    return issued


@pytest.fixture(scope="module")
def node_verdicts(node_ready: None, our_tokens: dict[str, Ours]) -> dict[str, Any]:
    """Every Node client's verdict on every token: one ``node`` process for the batch."""
    cases = []
    for alg, issued in our_tokens.items():
        cases.append({"id": f"{alg}-good", "token": issued.token, "jwksUri": issued.jwks_uri})
        cases.append({"id": f"{alg}-forged", "token": issued.forged, "jwksUri": issued.jwks_uri})
    return run_node("verify.mjs", {"cases": cases})


def node_verdict(verdicts: dict[str, Any], client: str, case: str) -> dict[str, Any]:
    verdict: dict[str, Any] = verdicts["results"][client][case]
    return verdict


def assert_refused(verdict: dict[str, Any], **expected: str) -> None:
    assert not verdict["ok"], verdict
    assert {name: verdict[name] for name in expected} == expected


def assert_verified(verdict: dict[str, Any], issued: Ours) -> None:
    assert verdict["ok"], verdict
    assert verdict["payload"] == issued.claims
    assert verdict["header"] == issued.header


# Our tokens in their verifiers ---------------------------------------------------------

JSONWEBTOKEN_ALGS = tuple(alg for alg in ALGORITHMS if alg != "EdDSA")


@pytest.mark.parametrize("alg", JSONWEBTOKEN_ALGS)
def test_the_articles_decoder_ring_verifies_our_tokens(
    alg: str, our_tokens: dict[str, Ours], node_verdicts: dict[str, Any]
) -> None:
    assert_verified(node_verdict(node_verdicts, "original", f"{alg}-good"), our_tokens[alg])
    forged = node_verdict(node_verdicts, "original", f"{alg}-forged")
    assert_refused(forged, error="JsonWebTokenError", message="invalid signature")


def test_the_articles_decoder_ring_cannot_verify_eddsa(
    our_tokens: dict[str, Ours], node_verdicts: dict[str, Any]
) -> None:
    # A limitation of jsonwebtoken 9, not of our tokens: with no `algorithms` option (the
    # article passes none) it allows RS*/PS* for any key that is not RSA, EC or secret, and
    # its `jws` backend has no EdDSA at all. jwks-rsa finds the Ed25519 key; verify refuses.
    # jose, PyJWT and jwcrypto verify the same token below.
    for case in ("EdDSA-good", "EdDSA-forged"):
        verdict = node_verdict(node_verdicts, "original", case)
        assert_refused(verdict, error="JsonWebTokenError", message="invalid algorithm")
    assert our_tokens["EdDSA"].header["alg"] == "EdDSA"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_panva_jose_verifies_our_tokens_from_our_jwks_url(
    alg: str, our_tokens: dict[str, Ours], node_verdicts: dict[str, Any]
) -> None:
    assert_verified(node_verdict(node_verdicts, "jose", f"{alg}-good"), our_tokens[alg])
    forged = node_verdict(node_verdicts, "jose", f"{alg}-forged")
    assert_refused(forged, code="ERR_JWS_SIGNATURE_VERIFICATION_FAILED")


def pyjwt_verify(issued: Ours, token: str) -> dict[str, Any]:
    client = jwt.PyJWKClient(issued.jwks_uri, timeout=5)
    key = client.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=[issued.alg], audience=AUDIENCE)
    return claims


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_jwk_client_verifies_our_tokens_from_our_jwks_url(
    alg: str, our_tokens: dict[str, Ours]
) -> None:
    issued = our_tokens[alg]

    assert pyjwt_verify(issued, issued.token) == issued.claims
    assert jwt.get_unverified_header(issued.token) == issued.header
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_verify(issued, issued.forged)


def jwcrypto_verify(issued: Ours, token: str) -> dict[str, Any]:
    keys = jwcrypto_jwk.JWKSet.from_json(httpx.get(issued.jwks_uri, timeout=5).text)
    verified = jwcrypto_jwt.JWT(jwt=token, key=keys, algs=[issued.alg], check_claims={"aud": AUDIENCE})
    claims: dict[str, Any] = json.loads(verified.claims)
    return claims


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwcrypto_verifies_our_tokens_with_our_fetched_jwks(alg: str, our_tokens: dict[str, Ours]) -> None:
    issued = our_tokens[alg]

    assert jwcrypto_verify(issued, issued.token) == issued.claims
    # Given a key set, jwcrypto tries every key of the token's kid and reports a signature
    # that none of them verifies as a missing key.
    with pytest.raises(jwcrypto_jwt.JWTMissingKey):
        jwcrypto_verify(issued, issued.forged)


def test_node_client_versions_are_the_pinned_ones(node_verdicts: dict[str, Any]) -> None:
    lock = json.loads((INTEROP / "package-lock.json").read_text())["packages"]
    for name, version in node_verdicts["versions"].items():
        assert lock[f"node_modules/{name}"]["version"] == version


# Their tokens: a local origin for their JWKS --------------------------------------------


class _OriginServer(ThreadingHTTPServer):
    daemon_threads = True
    documents: dict[str, bytes]
    seen: Counter[str]
    lock: threading.Lock


class _OriginHandler(BaseHTTPRequestHandler):
    server: _OriginServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen[self.path] += 1
        body = self.server.documents.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet."""


class JwksOrigin(ServedInThread):
    """Serves one JWKS per path on 127.0.0.1 and counts the requests for each path."""

    _server: _OriginServer

    def __init__(self) -> None:
        self._server = _OriginServer(("127.0.0.1", 0), _OriginHandler)
        self._server.documents, self._server.seen = {}, Counter()
        self._server.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def publish(self, path: str, jwks: dict[str, Any]) -> str:
        self._server.documents[path] = json.dumps(jwks).encode()
        return f"{self.url}{path}"

    def seen(self, path: str) -> int:
        with self._server.lock:
            return self._server.seen[path]


@pytest.fixture(scope="module")
def origin() -> Iterator[JwksOrigin]:
    with JwksOrigin() as running:
        yield running


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory, origin: JwksOrigin) -> Iterator[RunningService]:
    """A jwtseal service that trusts the local origin's JWKS URIs (and only those)."""
    trusted = f"{origin.url}/"
    with running_service(tmp_path_factory.mktemp("verifier"), JWTSEAL_TRUSTED_JWKS_URIS=trusted) as running:
        yield running


# Their tokens: the producers -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Theirs:
    producer: str
    alg: str
    token: str
    jwks: dict[str, Any]
    claims: dict[str, Any]


def grocery_claims() -> dict[str, Any]:
    """The article's encoder payload: a day from now, the grocery list (plain ASCII)."""
    now = int(time.time())
    return {
        "exp": now + 86_400,
        "iat": now,
        "sub": "whitney",
        "groceryList": ["milk", "eggs", "healty stuff"],
        "nested": {"list": [1, 2.5, None, True, False], "empty": {}, "big": 2**53},
    }


def unicode_claims() -> dict[str, Any]:
    return {**grocery_claims(), "note": "grüße, crème brûlée ✓ \U0001f600"}


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
CURVES = {
    "ES256": ("P-256", ec.SECP256R1()),
    "ES384": ("P-384", ec.SECP384R1()),
    "ES512": ("P-521", ec.SECP521R1()),
}


def _private_key(alg: str) -> PrivateKey:
    if alg in RSA_ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in CURVES:
        return ec.generate_private_key(CURVES[alg][1])
    return ed25519.Ed25519PrivateKey.generate()


def pyjwt_issue(alg: str, claims: dict[str, Any]) -> Theirs:
    private = _private_key(alg)
    public: dict[str, Any] = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private.public_key()))
    kid = f"pyjwt-{alg}"
    token = jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})
    return Theirs("pyjwt", alg, token, {"keys": [{**public, "kid": kid, "alg": alg, "use": "sig"}]}, claims)


JWCRYPTO_KEYS: dict[str, dict[str, Any]] = {
    **{alg: {"kty": "RSA", "size": 2048} for alg in RSA_ALGORITHMS},
    **{alg: {"kty": "EC", "crv": crv} for alg, (crv, _) in CURVES.items()},
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
}


def jwcrypto_issue(alg: str, claims: dict[str, Any]) -> Theirs:
    kid = f"jwcrypto-{alg}"
    key = jwcrypto_jwk.JWK.generate(**JWCRYPTO_KEYS[alg], kid=kid, alg=alg, use="sig")
    token = jwcrypto_jwt.JWT(header={"alg": alg, "kid": kid, "typ": "JWT"}, claims=claims)
    token.make_signed_token(key)
    return Theirs("jwcrypto", alg, token.serialize(), {"keys": [key.export_public(as_dict=True)]}, claims)


@dataclass(frozen=True, slots=True)
class Production:
    issued: dict[tuple[str, str], Theirs]
    refused: dict[tuple[str, str], dict[str, str]]
    versions: dict[str, str]


# node-jose signs the article's ASCII payload (its update(string) reads text as Latin-1: see
# test_node_jose_mangles_text_outside_latin1); the others also carry text outside ASCII.
NODE_JOBS = [
    (producer, alg, grocery_claims if producer == "node-jose" else unicode_claims)
    for producer in NODE_PRODUCERS
    for alg in ALGORITHMS
] + [("node-jose-unicode", "RS256", unicode_claims)]


@pytest.fixture(scope="module")
def theirs(node_ready: None) -> Production:
    jobs: list[dict[str, Any]] = [
        {"id": f"{name}/{alg}", "producer": name.removesuffix("-unicode"), "alg": alg, "claims": claims()}
        for name, alg, claims in NODE_JOBS
    ]
    made = run_node("sign.mjs", {"jobs": jobs})
    issued, refused = {}, {}
    for job in jobs:
        name, alg = job["id"].split("/")
        result = made["issued"][job["id"]]
        if "error" in result:
            refused[name, alg] = result["error"]
        else:
            issued[name, alg] = Theirs(name, alg, result["token"], result["jwks"], job["claims"])
    for alg in ALGORITHMS:
        issued["pyjwt", alg] = pyjwt_issue(alg, unicode_claims())
        issued["jwcrypto", alg] = jwcrypto_issue(alg, unicode_claims())
    return Production(issued, refused, made["versions"])


def decode_remote(verifier: RunningService, origin: JwksOrigin, issued: Theirs) -> httpx.Response:
    uri = origin.publish(f"/{issued.producer}/{issued.alg}/jwks.json", issued.jwks)
    return verifier.client.post("/decode", json={"token": issued.token, "jwksUri": uri})


PEER_CASES = [
    pytest.param(producer, alg, id=f"{producer}-{alg}")
    for producer in (*NODE_PRODUCERS, *PY_PRODUCERS)
    for alg in ALGORITHMS
    if (producer, alg) != ("node-jose", "EdDSA")
]


@pytest.mark.parametrize(("producer", "alg"), PEER_CASES)
def test_their_tokens_verify_in_jwtseal_via_decode_with_their_jwks_uri(
    producer: str, alg: str, theirs: Production, verifier: RunningService, origin: JwksOrigin
) -> None:
    issued = theirs.issued[producer, alg]
    path = f"/{producer}/{alg}/jwks.json"

    for _ in range(2):
        answer = decode_remote(verifier, origin, issued)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == issued.claims
    assert origin.seen(path) == 1  # fetched once, then served from the cache

    forged = Theirs(producer, alg, tampered(issued.token), issued.jwks, issued.claims)
    refused = decode_remote(verifier, origin, forged)
    assert refused.status_code == 401
    assert refused.json()["code"] == "bad_signature"


def test_node_jose_signs_exactly_as_the_articles_encoder_ring(theirs: Production) -> None:
    issued = theirs.issued["node-jose", "RS256"]
    (jwk,) = issued.jwks["keys"]

    assert segment_json(issued.token, 0) == {"typ": "jwt", "alg": "RS256", "kid": jwk["kid"]}
    assert set(jwk) == {"kty", "kid", "use", "alg", "e", "n"}
    assert (jwk["kty"], jwk["use"], jwk["alg"]) == ("RSA", "sig", "RS256")
    assert len(unb64(jwk["n"])) * 8 == 2048
    assert theirs.versions == {"node-jose": "2.2.0", "jose": "6.2.18"}


def test_node_jose_cannot_make_eddsa_keys(theirs: Production) -> None:
    # A limitation of node-jose 2.2 (RSA, EC and oct keys only; no OKP), not of jwtseal:
    # the article's generator could never have made an Ed25519 key.
    assert theirs.refused == {("node-jose", "EdDSA"): {"error": "Error", "message": "unsupported key type"}}


def _latin1_truncated(text: str) -> bytes:
    """What Node's Buffer.from(text, "binary") keeps: the low byte of each UTF-16 unit."""
    units = text.encode("utf-16-le")
    return units[::2]


def test_node_jose_mangles_text_outside_latin1_and_jwtseal_refuses_it(
    theirs: Production, verifier: RunningService, origin: JwksOrigin
) -> None:
    # The article's encoder calls update(JSON.stringify(payload)) without an encoding, and
    # node-jose's default is "binary": each UTF-16 unit is cut to its low byte, so "ü" becomes
    # the lone byte 0xFC and "✓" a control character. The signed payload is not UTF-8, which
    # RFC 7519 section 7.2 and RFC 8259 section 8.1 require, and the original text cannot be
    # recovered: jwtseal answers malformed_token rather than claims with replacement characters.
    issued = theirs.issued["node-jose-unicode", "RS256"]
    text = json.dumps(issued.claims, ensure_ascii=False, separators=(",", ":"))

    assert unb64(issued.token.split(".")[1]) == _latin1_truncated(text)
    answer = decode_remote(verifier, origin, issued)
    assert answer.status_code == 401
    assert answer.json()["code"] == "malformed_token"


# A JWKS without "alg" ------------------------------------------------------------------


def _without_alg(jwks: dict[str, Any]) -> dict[str, Any]:
    return {"keys": [{name: value for name, value in key.items() if name != "alg"} for key in jwks["keys"]]}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_jwks_without_alg_binds_each_key_to_the_algorithm_its_type_implies(
    alg: str, theirs: Production, verifier: RunningService, origin: JwksOrigin
) -> None:
    # panva jose's exportJWK and PyJWT's to_jwk write no "alg". jwtseal then binds RSA keys to
    # RS256, P-256 to ES256, P-384 to ES384, P-521 to ES512 and Ed25519 to EdDSA (API.md: "the
    # key's own algorithm must equal the header's alg"), so an RS384, RS512 or PS* token needs
    # a JWKS that says so. PyJWT's PyJWK does the same (asserted below); panva jose and jwcrypto
    # would accept them with such a key. The algorithm comes from the key, never from the token
    # (STYLE point 3).
    issued = theirs.issued["jose", alg]
    bare = Theirs("jose-without-alg", alg, issued.token, _without_alg(issued.jwks), issued.claims)

    answer = decode_remote(verifier, origin, bare)

    if alg in RSA_ALGORITHMS and alg != "RS256":
        assert answer.status_code == 401
        assert answer.json()["code"] == "alg_not_allowed"
        with pytest.raises(jwt.InvalidAlgorithmError):
            jwt.decode(issued.token, jwt.PyJWK(bare.jwks["keys"][0]), algorithms=[alg])
    else:
        assert answer.status_code == 200, answer.text
        assert answer.json() == issued.claims


def test_the_articles_token_is_refused_by_jwtseal_only_because_its_jwks_is_gone(
    verifier: RunningService, origin: JwksOrigin
) -> None:
    # The article's "good token" (node-jose, RS256, typ "jwt") expired in March 2021, and its
    # JWKS was never published anywhere we can reach: with an empty JWKS it is unknown_kid,
    # which shows it passed parsing, the kid check and the algorithm allow-list.
    token = (
        "eyJ0eXAiOiJqd3QiLCJhbGciOiJSUzI1NiIsImtpZCI6InZSRVlZVFg1TERFTGdGbHRzSmNWYmZDQUFCUTFITklmTG9HTDNHQXJD"
        "RTAifQ.eyJleHAiOjE2MTUxNDUzOTQsImlhdCI6MTYxNTA1ODk5NCwiZ3JvY2VyeUxpc3QiOlsibWlsayIsImVnZ3MiLCJoZWFsdHk"
        "gc3R1ZmYiXX0.BXRWgNj7VR3cQwZJVOQGOzLcJhF3IIvEa624TlIDclafS63ITXLN2CZYq0vSFJtBHfPDxrkGRN5XPusfHeZnLHeX3"
        "HrVcYzxSL4jibH3bfq1ur_K23e4_5LVIKCkmWDduKewJ2cxgaXs5_7wRXQbCBdpPDFoXamxBKZXK1a_uWhZ4DjX4zFqfl2AZpF-yi"
        "uFIuMmKpzrxZ88rdaYjbtdsnX7CWc6I0TNf3i_3pGxzCZjY3UK8jKiHNmm4Lk2HBfRBT_8zvlVq2AhPOjjRHEUjqXKSp63rC16CcaM"
        "9sSYpM6YbtyucGKTltX9GrrJ_zBX6fSTDbgptq50hlyKeGY3tQ"
    )
    uri = origin.publish("/article/jwks.json", {"keys": []})

    answer = verifier.client.post("/decode", json={"token": token, "jwksUri": uri})

    assert answer.status_code == 401
    assert answer.json()["code"] == "unknown_kid"
    assert segment_json(token, 0) == {
        "typ": "jwt",
        "alg": "RS256",
        "kid": "vREYYTX5LDELgFltsJcVbfCAABQ1HNIfLoGL3GArCE0",
    }

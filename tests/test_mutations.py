"""Differential mutation testing: jwtseal accepts a mutated token exactly when PyJWT does.

For each algorithm, a valid token is mutated one byte at a time, seeded, in
three ways, each reaching a different layer:

- ``token``: one byte of the compact text replaced (by any byte 0-255),
  inserted or deleted: the segment splitter and the base64url decoder.
- ``decoded``: one byte of a decoded segment (header, payload or signature)
  replaced, bit-flipped, inserted or deleted, then re-encoded canonically:
  well-formed base64url, so the JSON parsers and the signature check.
- ``re-signed``: the same edits to the header or payload, then signed again
  with the key: the signature holds, so only the parsers' strictness and
  the claim checks decide. This is where two verifiers can really differ.

PyJWT picks the key by ``kid`` from the same JWKS (as ``PyJWKClient`` does)
and checks the same audience, issuer and leeway. Every disagreement must be
one where jwtseal is the stricter and RFC-backed side, classified by
:func:`why_jwtseal_is_stricter`; each such class is also pinned by its own
test below. (tests/test_differential.py has a smaller character-level run
against one fixed key; this is the thorough one.)
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest

from jwtseal import MalformedToken, PublicKeySet, SigningKey, TokenError, Verifier
from tests.tokens import ALGORITHMS, b64, sign_segments, signature_of, signing_key, unb64, with_signature

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"
LEEWAY = 60
PER_ALGORITHM = {"token": 5_000, "decoded": 2_500, "re-signed": 2_500}
# U+D7FF is the last code point before the surrogates: its UTF-8 form ED 9F BF is one
# byte away from ED A0 BF, an encoded surrogate (see test_encoded_surrogates_...).
NOTE = "grüße \ud7ff ✓"


def claims(now: int) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "whitney",
        "iat": now,
        "nbf": now - 10,
        "exp": now + 600,
        "groceryList": ["milk", "eggs"],
        "note": NOTE,
    }


def encode_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: SigningKey, header: bytes, payload: bytes) -> str:
    return sign_segments(key, b64(header), b64(payload))


@dataclass
class Judges:
    """jwtseal and PyJWT, each with the same public JWKS of one key."""

    key: SigningKey
    jwks: dict[str, Any] = field(init=False)
    verifier: Verifier = field(init=False)
    pyjwt_keys: dict[str, jwt.PyJWK] = field(init=False)

    def __post_init__(self) -> None:
        self.jwks = {"keys": [dict(self.key.public.to_jwk())]}
        self.verifier = Verifier(PublicKeySet.from_document(self.jwks), leeway=LEEWAY)
        self.pyjwt_keys = {jwk["kid"]: jwt.PyJWK(jwk) for jwk in self.jwks["keys"]}

    def jwtseal(self, token: str) -> str | None:
        """None when accepted, else the error code."""
        try:
            self.verifier.verify(token, audience=AUDIENCE, issuer=ISSUER)
        except TokenError as refused:
            return refused.code
        return None

    def pyjwt(self, token: str) -> str | None:
        """None when accepted, else the PyJWT exception's name."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.pyjwt_keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return "unknown kid"
            jwt.decode(token, key, algorithms=[self.key.alg], audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY)
        except jwt.PyJWTError as refused:
            return type(refused).__name__
        return None


# Mutations ---------------------------------------------------------------------------


def edit_bytes(data: bytes, rnd: random.Random) -> bytes:
    """One byte of ``data`` replaced (any value, or one bit flipped), inserted or deleted."""
    edit = rnd.choice(("replace", "replace", "flip", "insert", "delete"))
    if edit == "insert":
        position = rnd.randrange(len(data) + 1)
        return data[:position] + bytes([rnd.randrange(256)]) + data[position:]
    position = rnd.randrange(len(data))
    if edit == "delete":
        return data[:position] + data[position + 1 :]
    new = data[position] ^ (1 << rnd.randrange(8)) if edit == "flip" else rnd.randrange(256)
    return data[:position] + bytes([new]) + data[position + 1 :]


def token_mutations(token: str, rnd: random.Random) -> Iterator[str]:
    raw = token.encode("ascii")
    while True:
        yield edit_bytes(raw, rnd).decode("latin-1")


def decoded_mutations(token: str, rnd: random.Random) -> Iterator[str]:
    segments = [unb64(segment) for segment in token.split(".")]
    while True:
        index = rnd.randrange(3)
        edited = [*segments]
        edited[index] = edit_bytes(segments[index], rnd)
        yield ".".join(b64(segment) for segment in edited)


def resigned_mutations(key: SigningKey, header: bytes, payload: bytes, rnd: random.Random) -> Iterator[str]:
    while True:
        if rnd.random() < 0.3:
            yield sign(key, edit_bytes(header, rnd), payload)
        else:
            yield sign(key, header, edit_bytes(payload, rnd))


def distinct(mutated: Iterator[str], original: str, count: int) -> Iterator[str]:
    produced = 0
    for token in mutated:
        if token != original:
            produced += 1
            yield token
        if produced == count:
            return


# Why jwtseal may refuse what PyJWT accepts --------------------------------------------


def _lenient_segments(token: str) -> list[bytes] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return [unb64(part) for part in parts[:2]]
    except ValueError:
        return None


def _has_duplicate_members(data: bytes) -> bool:
    found = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({name for name, _ in items}) != len(items)
        return dict(items)

    try:
        json.loads(data, object_pairs_hook=pairs)
    except ValueError:
        return False
    return found


def _has_encoded_surrogates(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return False
        return True
    return False


def _is_short_rsa_signature(token: str, key: SigningKey | None) -> bool:
    if key is None or not key.alg.startswith(("RS", "PS")):
        return False
    try:
        signature = signature_of(token)
    except ValueError:
        return False
    return 0 < len(signature) < len(unb64(key.public.to_jwk()["n"]))


def why_jwtseal_is_stricter(token: str, key: SigningKey | None = None) -> str | None:
    """The documented reason jwtseal refuses a token PyJWT accepts (signed by ``key``), or None."""
    if _is_short_rsa_signature(token, key):
        return "short RSA signature"
    segments = _lenient_segments(token)
    if segments is None:
        return None
    if any(map(_has_encoded_surrogates, segments)):
        return "encoded surrogates"
    if any(map(_has_duplicate_members, segments)):
        return "duplicate members"
    return None


# The run -------------------------------------------------------------------------------


# Which PyJWT refusal answers to which jwtseal code. PyJWT checks the signature before it
# parses the payload and has no code of its own for a missing or unknown kid (our harness
# says "unknown kid"), so a malformed payload under a broken signature is its
# InvalidSignatureError, and a missing aud or iss is its MissingRequiredClaimError.
CORRESPONDING = {
    "malformed_token": {"DecodeError", "InvalidSignatureError", "InvalidIssuedAtError"},
    "missing_kid": {"unknown kid"},
    "alg_not_allowed": {"InvalidAlgorithmError"},
    "unknown_kid": {"unknown kid"},
    "bad_signature": {"InvalidSignatureError"},
    "expired": {"ExpiredSignatureError"},
    "not_yet_valid": {"ImmatureSignatureError"},
    "invalid_audience": {"InvalidAudienceError", "MissingRequiredClaimError"},
    "invalid_issuer": {"InvalidIssuerError", "MissingRequiredClaimError"},
}


@dataclass(frozen=True, slots=True)
class Tally:
    verdicts: Counter[tuple[str, str, str]]  # (kind, jwtseal, pyjwt)
    stricter: Counter[str]


def run(alg: str) -> Tally:
    key = signing_key(alg)
    judges = Judges(key)
    header = encode_json({"alg": alg, "kid": key.kid, "typ": "JWT"})
    payload = encode_json(claims(int(time.time())))
    token = sign(key, header, payload)
    assert judges.jwtseal(token) is None
    assert judges.pyjwt(token) is None
    rnd = random.Random(f"jwtseal-mutations-{alg}")
    sources: dict[str, Iterator[str]] = {
        "token": token_mutations(token, rnd),
        "decoded": decoded_mutations(token, rnd),
        "re-signed": resigned_mutations(key, header, payload, rnd),
    }
    verdicts: Counter[tuple[str, str, str]] = Counter()
    stricter: Counter[str] = Counter()
    for kind, count in PER_ALGORITHM.items():
        for mutated in distinct(sources[kind], token, count):
            ours, theirs = judges.jwtseal(mutated), judges.pyjwt(mutated)
            verdicts[kind, ours or "accepted", theirs or "accepted"] += 1
            if (ours is None) is (theirs is None):
                assert ours is None or theirs in CORRESPONDING[ours], (ours, theirs, mutated)
                continue
            reason = why_jwtseal_is_stricter(mutated, key)
            assert ours is not None, f"jwtseal accepts what PyJWT refuses ({theirs}): {mutated!r}"
            assert reason is not None, f"jwtseal refuses ({ours}) what PyJWT accepts: {mutated!r}"
            stricter[reason] += 1
    return Tally(verdicts, stricter)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwtseal_accepts_a_mutated_token_exactly_when_pyjwt_does(alg: str) -> None:
    tally = run(alg)

    assert sum(tally.verdicts.values()) == sum(PER_ALGORITHM.values())
    by_kind = Counter(kind for kind, _, _ in tally.verdicts.elements())
    assert by_kind == PER_ALGORITHM
    accepted = {kind: n for (kind, ours, _), n in tally.verdicts.items() if ours == "accepted"}
    # Only re-signed mutations can still be valid (a changed typ, note or list item, say).
    assert set(accepted) <= {"re-signed"}
    assert accepted.get("re-signed", 0) > 0
    refused_codes = {ours for (_, ours, _) in tally.verdicts if ours != "accepted"}
    assert {"malformed_token", "bad_signature"} <= refused_codes
    assert set(tally.stricter) <= {"encoded surrogates", "duplicate members", "short RSA signature"}


# The documented differences, one each ---------------------------------------------------


def _resign_with_payload(alg: str, payload: bytes) -> tuple[Judges, str]:
    key = signing_key(alg)
    header = encode_json({"alg": alg, "kid": key.kid, "typ": "JWT"})
    return Judges(key), sign(key, header, payload)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_encoded_surrogates_are_refused_by_jwtseal_though_pyjwt_accepts_them(alg: str) -> None:
    # One byte turns U+D7FF (ED 9F BF) into ED A0 BF, the UTF-8 shape of the lone surrogate
    # U+D83F. That is not UTF-8 (RFC 3629 section 3: surrogates "MUST NOT" be encoded), and
    # RFC 8259 section 8.1 requires UTF-8 JSON: jwtseal answers malformed_token. PyJWT's
    # json.loads(bytes) decodes with "surrogatepass" and hands the claim on.
    payload = encode_json(claims(int(time.time())))
    mutated = payload.replace(b"\xed\x9f\xbf", b"\xed\xa0\xbf")
    assert mutated != payload
    judges, token = _resign_with_payload(alg, mutated)

    assert judges.pyjwt(token) is None
    assert jwt.decode(token, options={"verify_signature": False})["note"] == "grüße \ud83f ✓"
    assert judges.jwtseal(token) == "malformed_token"
    assert why_jwtseal_is_stricter(token) == "encoded surrogates"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_duplicate_member_names_are_refused_by_jwtseal_though_pyjwt_takes_the_last(alg: str) -> None:
    # A claims set with "sub" and "suc": one byte ("c" to "b") makes the names equal. RFC 7519
    # section 4 and RFC 7515 section 5.2 let a parser refuse duplicates or take the last one;
    # API.md refuses them, so two parsers can never read two different claims from one token.
    now = int(time.time())
    payload = encode_json({**claims(now), "suc": "mallory"})
    mutated = payload.replace(b'"suc"', b'"sub"')
    judges, token = _resign_with_payload(alg, mutated)

    assert judges.pyjwt(token) is None
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "mallory"
    assert judges.jwtseal(token) == "malformed_token"
    assert why_jwtseal_is_stricter(token) == "duplicate members"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "PS384"])
def test_an_rsa_signature_without_its_leading_zero_octet_is_refused(alg: str) -> None:
    # RFC 8017 sections 8.1.2 and 8.2.2, step 1: an RSA signature is exactly as long as the
    # modulus. OpenSSL reads a shorter PSS signature as the same number, so a signature that
    # starts with 00 had a second spelling one octet shorter: another token for the same
    # signed content (the mutation run found one). Payloads are varied until a signature
    # starts with 00: one in 256 does, so 4,096 tries all miss once in about ten million runs.
    key = signing_key(alg)
    header = encode_json({"alg": alg, "kid": key.kid, "typ": "JWT"})
    now = int(time.time())
    judges = Judges(key)
    token = next(
        token
        for attempt in range(4_096)
        if signature_of(token := sign(key, header, encode_json({**claims(now), "n": attempt})))[0] == 0
    )
    shortened = with_signature(token, signature_of(token)[1:])

    assert judges.jwtseal(token) is None
    assert judges.jwtseal(shortened) == "bad_signature"
    if alg.startswith("PS"):  # PyJWT verifies with cryptography's key.verify, which takes it
        assert judges.pyjwt(shortened) is None
        assert why_jwtseal_is_stricter(shortened, key) == "short RSA signature"
    else:  # key.verify checks PKCS #1 v1.5 lengths itself
        assert judges.pyjwt(shortened) == "InvalidSignatureError"


def test_the_classifier_names_nothing_for_an_ordinary_token() -> None:
    key = signing_key("EdDSA")
    token = sign(key, encode_json({"alg": "EdDSA", "kid": key.kid}), encode_json(claims(int(time.time()))))

    assert why_jwtseal_is_stricter(token) is None
    assert why_jwtseal_is_stricter("a.b") is None
    assert why_jwtseal_is_stricter("!!.e30.") is None
    assert why_jwtseal_is_stricter(token, key) is None  # not an RSA key
    assert why_jwtseal_is_stricter("a.b.!!", signing_key("PS256")) is None
    assert not _has_encoded_surrogates(b"\xff")


CLOSE_CALLS: list[tuple[str, Callable[[bytes], bytes]]] = [
    # Single-byte edits that change meaning yet keep the token well-formed: both agree.
    ("alg PS256 for RS256", lambda header: header.replace(b'"RS256"', b'"PS256"')),
    ("alg HS256", lambda header: header.replace(b'"RS256"', b'"HS256"')),
    ("typ JWS", lambda header: header.replace(b'"JWT"', b'"JWS"')),
    ("kid changed", lambda header: header[:12] + bytes([header[12] ^ 1]) + header[13:]),
]


@pytest.mark.parametrize(("name", "edit"), CLOSE_CALLS, ids=[name for name, _ in CLOSE_CALLS])
def test_meaningful_header_edits_get_the_same_verdict(name: str, edit: Callable[[bytes], bytes]) -> None:
    key = signing_key("RS256")
    judges = Judges(key)
    header = edit(encode_json({"alg": "RS256", "kid": key.kid, "typ": "JWT"}))
    token = sign(key, header, encode_json(claims(int(time.time()))))

    assert (judges.jwtseal(token) is None) is (judges.pyjwt(token) is None)


def test_a_malformed_mutation_is_malformed_in_jwtseal() -> None:
    key = signing_key("EdDSA")
    token = sign(key, encode_json({"alg": "EdDSA", "kid": key.kid}), encode_json(claims(int(time.time()))))

    with pytest.raises(MalformedToken):
        Judges(key).verifier.verify(token.replace(".", "..", 1))

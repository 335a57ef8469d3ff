"""jwtseal against two independent JOSE libraries, PyJWT and jwcrypto, both ways.

Tokens jwtseal issues verify in both with nothing but the exported public JWK;
tokens both sign (with a ``kid`` header) verify in jwtseal and give exactly
their claims. Then single-byte mutations of valid tokens: jwtseal accepts one
exactly when PyJWT does. The one known disagreement (PyJWT accepts "=="
padding, which API.md and RFC 7515 section 2 refuse) is asserted on its own.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from jwtseal import (
    AlgNotAllowed,
    ClaimsPolicy,
    FileKeyStore,
    IssuedToken,
    Issuer,
    KeyRing,
    MalformedToken,
    PublicKeySet,
    RotationPolicy,
    SigningKey,
    TokenError,
    Verifier,
)
from tests.tokens import ALGORITHMS, sign_claims, signing_key

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"
MUTATIONS_PER_ALGORITHM = 400
B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"  # in value order
PEER_CLAIMS: dict[str, Any] = {
    "sub": "alice",
    "aud": AUDIENCE,
    "groceryList": ["milk", "eggs", "cookies", "candy"],
    "nested": {"unicode": "grüße ✓ \U0001f600", "empty": {}, "list": [1, 2.5, None, True, False]},
    "big": 2**63 + 1,
}


@dataclass(frozen=True, slots=True)
class Deployment:
    """One jwtseal key ring with its issuer, verifier and published JWKS."""

    issuer: Issuer
    verifier: Verifier
    jwks: dict[str, Any]

    def issue(self) -> IssuedToken:
        return self.issuer.issue({"sub": "alice", "aud": AUDIENCE, "groceryList": ["milk", "eggs"]})

    def public_jwk(self, kid: str) -> dict[str, Any]:
        (found,) = [key for key in self.jwks["keys"] if key["kid"] == kid]
        assert isinstance(found, dict)
        return found


@pytest.fixture(scope="module", params=ALGORITHMS)
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    alg: str = request.param
    ring = KeyRing(FileKeyStore(tmp_path_factory.mktemp(alg)), RotationPolicy(algorithm=alg))
    issuer = Issuer(ring, ClaimsPolicy(issuer=ISSUER))
    jwks = json.loads(ring.view().jwks_json)
    return Deployment(issuer, Verifier(ring), jwks)


def pyjwt_decode(token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
    return jwt.decode(token, jwt.PyJWK(jwk), algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)


def pyjwt_accepts(token: str, jwk: dict[str, Any], alg: str) -> bool:
    try:
        pyjwt_decode(token, jwk, alg)
    except jwt.PyJWTError:
        return False
    return True


def jwtseal_accepts(verifier: Verifier, token: str) -> bool:
    try:
        verifier.verify(token, audience=AUDIENCE, issuer=ISSUER)
    except TokenError:
        return False
    return True


# jwtseal issues, the peers verify ------------------------------------------------------


def test_jwtseal_tokens_verify_in_pyjwt_with_the_exported_public_jwk(deployment: Deployment) -> None:
    issued = deployment.issue()

    claims = pyjwt_decode(issued.token, deployment.public_jwk(issued.kid), issued.alg)

    assert claims == issued.claims
    assert jwt.get_unverified_header(issued.token) == {"alg": issued.alg, "kid": issued.kid, "typ": "JWT"}


def test_jwtseal_tokens_verify_in_jwcrypto_with_the_exported_public_jwk(deployment: Deployment) -> None:
    issued = deployment.issue()
    key = jwcrypto_jwk.JWK(**deployment.public_jwk(issued.kid))

    token = jwcrypto_jwt.JWT(jwt=issued.token, key=key, algs=[issued.alg], check_claims={"aud": AUDIENCE})

    assert json.loads(token.claims) == issued.claims


def test_jwtseal_kids_are_the_thumbprints_jwcrypto_computes(deployment: Deployment) -> None:
    for public in deployment.jwks["keys"]:
        assert jwcrypto_jwk.JWK(**public).thumbprint() == public["kid"]


def test_jwtseal_tokens_verify_in_jwtseal_too(deployment: Deployment) -> None:
    issued = deployment.issue()

    assert deployment.verifier.verify(issued.token, audience=AUDIENCE, issuer=ISSUER).claims == issued.claims


# The peers issue, jwtseal verifies -----------------------------------------------------


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
CURVES = {
    "ES256": ("P-256", ec.SECP256R1()),
    "ES384": ("P-384", ec.SECP384R1()),
    "ES512": ("P-521", ec.SECP521R1()),
}
GENERATE_WITH_JWCRYPTO: dict[str, dict[str, Any]] = {
    **{alg: {"kty": "RSA", "size": 2048} for alg in RSA_ALGORITHMS},
    **{alg: {"kty": "EC", "crv": crv} for alg, (crv, _) in CURVES.items()},
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
}


def _cryptography_private_key(alg: str) -> PrivateKey:
    if alg in RSA_ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in CURVES:
        return ec.generate_private_key(CURVES[alg][1])
    return ed25519.Ed25519PrivateKey.generate()


def _pyjwt_public_jwk(key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        exported = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        exported = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        exported = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    assert isinstance(exported, dict)
    return exported


def peer_claims() -> dict[str, Any]:
    now = int(time.time())
    return {**PEER_CLAIMS, "iss": ISSUER, "iat": now, "nbf": now - 5, "exp": now + 600, "jti": "peer-1"}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_tokens_verify_in_jwtseal_with_exactly_their_claims(alg: str) -> None:
    private = _cryptography_private_key(alg)
    public = {**_pyjwt_public_jwk(private), "kid": "pyjwt-key", "alg": alg, "use": "sig"}
    claims = peer_claims()
    token = jwt.encode(claims, private, algorithm=alg, headers={"kid": "pyjwt-key"})
    verifier = Verifier(PublicKeySet.from_document({"keys": [public]}))

    assert verifier.verify(token, audience=AUDIENCE, issuer=ISSUER).claims == claims


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwcrypto_tokens_verify_in_jwtseal_with_exactly_their_claims(alg: str) -> None:
    key = jwcrypto_jwk.JWK.generate(**GENERATE_WITH_JWCRYPTO[alg])
    kid = key.thumbprint()
    claims = peer_claims()
    token = jwcrypto_jwt.JWT(header={"alg": alg, "kid": kid}, claims=claims)
    token.make_signed_token(key)
    public = {**key.export_public(as_dict=True), "kid": kid, "alg": alg}
    verifier = Verifier(PublicKeySet.from_document({"keys": [public]}))

    assert verifier.verify(token.serialize(), audience=AUDIENCE, issuer=ISSUER).claims == claims


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_token_signed_with_another_key_of_the_same_kid_is_refused(alg: str) -> None:
    key = signing_key(alg)
    stranger = _cryptography_private_key(alg)
    token = jwt.encode(peer_claims(), stranger, algorithm=alg, headers={"kid": key.kid})
    verifier = Verifier(PublicKeySet.from_document({"keys": [key.public.to_jwk()]}))

    assert not jwtseal_accepts(verifier, token)
    assert jwtseal_accepts(verifier, sign_claims(key, peer_claims()))


@pytest.mark.parametrize(
    ("key_alg", "alg"), [(k, a) for k in RSA_ALGORITHMS for a in RSA_ALGORITHMS if k != a]
)
def test_the_same_rsa_key_under_a_sibling_alg_is_refused_by_jwtseal_and_pyjwt(key_alg: str, alg: str) -> None:
    # PyJWT signs with the private half of jwtseal's RS384 key (say) but writes RS256 or PS384:
    # a genuine signature, a different algorithm. The key's own algorithm decides, in both.
    key = signing_key(key_alg)
    private = jwt.PyJWK(key.to_private_jwk()).key
    token = jwt.encode(peer_claims(), private, algorithm=alg, headers={"kid": key.kid})
    jwk = dict(key.public.to_jwk())
    verifier = Verifier(PublicKeySet.from_document({"keys": [jwk]}))

    assert jwt.decode(token, private.public_key(), algorithms=[alg], audience=AUDIENCE)["sub"] == "alice"
    assert not pyjwt_accepts(token, jwk, key_alg)
    with pytest.raises(AlgNotAllowed):
        verifier.verify(token, audience=AUDIENCE, issuer=ISSUER)


# Single-byte mutations ------------------------------------------------------------------


def mutations(token: str, seed: str, count: int = MUTATIONS_PER_ALGORITHM) -> Iterator[str]:
    """``count`` copies of ``token``, each with one byte replaced, inserted or deleted.

    Half the new characters are base64url (the hard cases: still well-formed),
    a quarter separators, padding and the standard base64 alphabet, a quarter
    any byte read as latin-1.
    """
    rnd = random.Random(seed)
    produced = 0
    while produced < count:
        roll = rnd.random()
        if roll < 0.5:
            char = rnd.choice(B64URL)
        elif roll < 0.75:
            char = rnd.choice("=+/. \n~")
        else:
            char = chr(rnd.randrange(256))
        edit = rnd.choice(("replace", "replace", "insert", "delete"))
        position = rnd.randrange(len(token) + (edit == "insert"))
        rest = token[position:] if edit == "insert" else token[position + 1 :]
        mutated = token[:position] + ("" if edit == "delete" else char) + rest
        if mutated != token:
            produced += 1
            yield mutated


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_single_byte_mutations_are_accepted_by_jwtseal_exactly_when_pyjwt_accepts(alg: str) -> None:
    # PyJWT 2.15 decodes segments strictly too (GHSA-hxm8-2xgr-2p9m), and the signature covers
    # the literal header and payload text, so no single-byte edit of a valid token is valid:
    # both must refuse every one. (PyJWT's one leniency, padding, needs two bytes: see below.)
    key = signing_key(alg)
    jwk = dict(key.public.to_jwk())
    now = time.time()
    token = sign_claims(key, {"iss": ISSUER, "aud": AUDIENCE, "iat": int(now), "exp": int(now) + 600})
    verifier = Verifier(PublicKeySet.from_document({"keys": [jwk]}))
    assert jwtseal_accepts(verifier, token)
    assert pyjwt_accepts(token, jwk, alg)
    outcomes: Counter[tuple[bool, bool]] = Counter()

    for mutated in mutations(token, seed=f"jwtseal-mutations-{alg}"):
        ours, theirs = jwtseal_accepts(verifier, mutated), pyjwt_accepts(mutated, jwk, alg)
        assert ours is theirs, mutated
        outcomes[ours, theirs] += 1

    assert outcomes == {(False, False): MUTATIONS_PER_ALGORITHM}


def _padded_signature_token() -> tuple[SigningKey, str, str]:
    """An EdDSA token and its copy with ``==`` after the 86-character signature."""
    key = signing_key("EdDSA")
    now = int(time.time())
    token = sign_claims(key, {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 600})
    assert len(token.rsplit(".", 1)[1]) % 4 == 2
    return key, token, token + "=="


def test_pyjwt_accepts_a_padded_signature_that_jwtseal_refuses() -> None:
    # The one disagreement: PyJWT accepts trailing "=" padding (for AWS ALB tokens). RFC 7515
    # section 2 defines base64url "with all trailing '=' characters omitted", and API.md says
    # "without padding", so jwtseal answers malformed_token.
    key, token, padded = _padded_signature_token()
    jwk = dict(key.public.to_jwk())
    verifier = Verifier(PublicKeySet.from_document({"keys": [jwk]}))

    assert pyjwt_accepts(padded, jwk, "EdDSA")
    assert jwtseal_accepts(verifier, token)
    with pytest.raises(MalformedToken):
        verifier.verify(padded)


def _standard_alphabet(signature: str) -> str:
    return signature.translate(str.maketrans("-_", "+/"))


def _spare_bits_set(signature: str) -> str:
    # 64 bytes take 86 characters: the last one carries 4 unused bits, here made non-zero.
    return signature[:-1] + B64URL[B64URL.index(signature[-1]) | 0b1111]


def _padding_in_header(token: str) -> str:
    header, rest = token.split(".", 1)
    return f"{header}{'=' * (-len(header) % 4)}.{rest}"


def _signature_respelled(respell: Callable[[str], str]) -> Callable[[str], str]:
    def apply(token: str) -> str:
        head, signature = token.rsplit(".", 1)
        return f"{head}.{respell(signature)}"

    return apply


@pytest.mark.parametrize(
    "respell",
    [
        pytest.param(_signature_respelled(_standard_alphabet), id="+/"),
        pytest.param(_signature_respelled(_spare_bits_set), id="spare-bits"),
        pytest.param(_padding_in_header, id="header-padding"),
    ],
)
def test_other_non_canonical_spellings_are_refused_by_both(respell: Callable[[str], str]) -> None:
    key = signing_key("EdDSA")
    exp = int(time.time()) + 600
    tokens = (sign_claims(key, {"iss": ISSUER, "aud": AUDIENCE, "exp": exp, "n": n}) for n in range(200))
    token = next(t for t in tokens if set(t.rsplit(".", 1)[1]) & set("-_") and len(t.split(".")[0]) % 4)
    variant = respell(token)
    jwk = dict(key.public.to_jwk())

    assert variant != token
    assert not pyjwt_accepts(variant, jwk, "EdDSA")
    with pytest.raises(MalformedToken):
        Verifier(PublicKeySet.from_document({"keys": [jwk]})).verify(variant)


def test_published_jwks_is_read_whole_by_pyjwt(tmp_path: Path) -> None:
    # A jwtseal key ring's published JWKS is exactly what PyJWT's PyJWKSet reads.
    ring = KeyRing(FileKeyStore(tmp_path), RotationPolicy(algorithm="ES256"))
    jwks = json.loads(ring.view().jwks_json)

    keys = jwt.PyJWKSet.from_dict(jwks)

    assert sorted(key.key_id for key in keys.keys if key.key_id) == sorted(k["kid"] for k in jwks["keys"])

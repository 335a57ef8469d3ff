"""One nesting limit both ways: /encode never issues claims that /decode refuses.

The limit used to be the interpreter's recursion limit, reached at a different
depth by each caller (the stack under the parser differs), so a token issued
by ``/encode`` could be refused as malformed by ``/decode``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from click.testing import CliRunner

from jwtseal import ClaimsPolicy, FileKeyStore, InvalidClaim, Issuer, KeyRing, RotationPolicy, Verifier
from jwtseal._json import MAX_DEPTH, loads_object
from jwtseal.cli import main
from tests.conftest import RunningService
from tests.test_http import assert_problem
from tests.tokens import sign_raw


def claims_at_depth(depth: int) -> dict[str, Any]:
    """Claims whose objects and arrays nest exactly ``depth`` levels (the claims object is 1)."""
    cart: list[Any] = []
    for _ in range(depth - 2):
        cart = [cart]
    return {"cart": cart}


def text_at_depth(depth: int) -> str:
    return '{"cart":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_the_limit_counts_the_claims_object_as_one_level() -> None:
    assert loads_object(text_at_depth(MAX_DEPTH).encode()) == claims_at_depth(MAX_DEPTH)
    with pytest.raises(ValueError, match="too deeply nested"):
        loads_object(text_at_depth(MAX_DEPTH + 1).encode())
    with pytest.raises(ValueError, match="too deeply nested"):
        loads_object(b'{"a":{"b":' + b"[{}," * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH + b"}}")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"cart":"' + "[{" * (2 * MAX_DEPTH) + '"}'
    assert loads_object(text.encode())["cart"].startswith("[{[{")


def test_encode_and_decode_share_one_nesting_limit(running: RunningService) -> None:
    deepest = claims_at_depth(MAX_DEPTH)
    token = running.token(deepest)
    decoded = running.client.post("/decode", json={"token": token})
    assert decoded.status_code == 200, decoded.text
    assert decoded.json()["cart"] == deepest["cart"]

    assert_problem(running.encode(claims_at_depth(MAX_DEPTH + 1)), 400, "invalid_request")
    key = running.service.keyring.view().signing_key
    payload = {**claims_at_depth(MAX_DEPTH + 1), "exp": int(time.time()) + 600}
    too_deep = sign_raw(key, {"alg": key.alg, "kid": key.kid, "typ": "JWT"}, payload)
    assert_problem(running.client.post("/decode", json={"token": too_deep}), 401, "malformed_token")


def test_the_library_never_signs_claims_its_verifier_would_refuse(tmp_path: Any) -> None:
    keyring = KeyRing(FileKeyStore(tmp_path), RotationPolicy(algorithm="EdDSA"))
    issuer = Issuer(keyring, ClaimsPolicy(issuer="https://jwtseal.test"))
    verifier = Verifier(keyring)
    assert (
        verifier.verify(issuer.sign(claims_at_depth(MAX_DEPTH))).claims["cart"]
        == claims_at_depth(MAX_DEPTH)["cart"]
    )
    with pytest.raises(InvalidClaim, match=f"deeper than {MAX_DEPTH} levels"):
        issuer.sign(claims_at_depth(MAX_DEPTH + 1))


def test_cli_sign_refuses_claims_nested_beyond_the_limit(tmp_path: Any) -> None:
    result = CliRunner().invoke(
        main, ["sign", "--claims", text_at_depth(MAX_DEPTH + 1), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid_request: ")

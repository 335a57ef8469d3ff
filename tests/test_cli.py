"""The jwtseal command through click's CliRunner and, once, a real subprocess."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from jwtseal import FileKeyStore, KeyRing, RotationPolicy, SigningKey
from jwtseal.cli import main
from tests.conftest import bound_socket
from tests.servers import ServeProcess, serve

FORGED = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE2MTUwNjI5OTUsImlhdCI6MTYxNTA1ODk2NSwiZ3JvY2VyeUxpc3QiOl"
    "sibWlsayIsImVnZ3MiLCJjb29raWVzIiwiY2FuZHkiXSwianRpIjoiZjFlYjRiMTktYjQwYy00NWQ3LWIyZjgtYWNlMjY1NWNhZDli"
    "In0.-B-8-m8hwmOWKSUI1B3wOmYaPWyegihVIi6U17D5H1M"
)


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:  # noqa: A002
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


ED25519 = {"JWTSEAL_ALGORITHM": "EdDSA"}


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def sign(data_dir: str, claims: dict[str, Any]) -> str:
    result = run("sign", "--claims", json.dumps(claims), "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_sign_then_verify_round_trips_the_grocery_list(data_dir: str) -> None:
    token = sign(data_dir, {"groceryList": ["milk", "eggs"]})
    result = run("verify", token, "--data-dir", data_dir)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["groceryList"] == ["milk", "eggs"]


def test_sign_reads_claims_from_stdin(data_dir: str) -> None:
    result = run("sign", "--data-dir", data_dir, input='{"sub": "veronica"}')
    assert result.exit_code == 0
    verified = run("verify", result.stdout.strip(), "--data-dir", data_dir)
    assert json.loads(verified.stdout)["sub"] == "veronica"


def test_verify_and_inspect_read_the_token_from_stdin_for_a_dash(data_dir: str) -> None:
    token = sign(data_dir, {"groceryList": ["tea"]})
    verified = run("verify", "-", "--data-dir", data_dir, input=f"{token}\n")
    assert verified.exit_code == 0
    assert json.loads(verified.stdout)["groceryList"] == ["tea"]
    inspected = run("inspect", "-", input=token)
    assert json.loads(inspected.stdout)["claims"]["groceryList"] == ["tea"]


def test_verify_reads_stdin_only_as_far_as_the_longest_token(data_dir: str) -> None:
    token = sign(data_dir, {"groceryList": ["tea"]})
    # 64 KiB is the longest token accepted: what stands after that much stdin is never read.
    beyond = run("verify", "-", "--data-dir", data_dir, input=token + " " * 65_536 + "never-read")
    assert beyond.exit_code == 0
    too_long = run("verify", "-", "--data-dir", data_dir, input="a" * 1_000_000)
    assert too_long.exit_code == 1
    assert too_long.stderr.startswith("malformed_token: ")


def test_data_dir_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"JWTSEAL_DATA_DIR": str(tmp_path / "env-data")}
    result = run("sign", "--claims", "{}", env=env)
    assert result.exit_code == 0
    assert (tmp_path / "env-data" / "keys.json").exists()


@pytest.mark.parametrize("claims", ["[1]", "nope", '{"a": 1, "a": 2}'])
def test_sign_refuses_claims_that_are_not_an_object(data_dir: str, claims: str) -> None:
    result = run("sign", "--claims", claims, "--data-dir", data_dir)
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid_request: ")


def test_sign_refuses_reserved_claims_with_code_and_detail(data_dir: str) -> None:
    result = run("sign", "--claims", '{"iss": "me"}', "--data-dir", data_dir)
    assert result.exit_code == 1
    assert result.stderr.startswith("reserved_claim: ")
    assert result.stdout == ""


def test_verify_answers_the_forged_token_with_missing_kid(data_dir: str) -> None:
    result = run("verify", FORGED, "--data-dir", data_dir)
    assert result.exit_code == 1
    assert result.stderr.strip() == "missing_kid: Token has no Key ID"


def test_verify_checks_audience_and_issuer(data_dir: str) -> None:
    token = sign(data_dir, {"aud": "store"})
    assert run("verify", token, "--audience", "store", "--data-dir", data_dir).exit_code == 0
    wrong = run("verify", token, "--audience", "bank", "--data-dir", data_dir)
    assert wrong.stderr.startswith("invalid_audience: ")
    wrong_issuer = run("verify", token, "--issuer", "https://elsewhere", "--data-dir", data_dir)
    assert wrong_issuer.stderr.startswith("invalid_issuer: ")


def test_verify_with_a_jwks_file(data_dir: str, tmp_path: Path) -> None:
    token = sign(data_dir, {"groceryList": ["bread"]})
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(run("keys", "jwks", "--data-dir", data_dir).stdout)
    other_dir = str(tmp_path / "other")
    result = run("verify", token, "--jwks", str(jwks_file), "--data-dir", other_dir)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["groceryList"] == ["bread"]


def test_verify_with_a_foreign_jwks_file_is_unknown_kid(data_dir: str, tmp_path: Path) -> None:
    token = sign(data_dir, {})
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(run("keys", "jwks", "--data-dir", str(tmp_path / "other")).stdout)
    result = run("verify", token, "--jwks", str(jwks_file))
    assert result.stderr.startswith("unknown_kid: ")


@pytest.mark.parametrize("content", [None, "not json", '{"nokeys": []}'])
def test_verify_with_an_unusable_jwks_file_fails_cleanly(tmp_path: Path, content: str | None) -> None:
    jwks_file = tmp_path / "jwks.json"
    if content is not None:
        jwks_file.write_text(content)
    result = run("verify", "a.b.c", "--jwks", str(jwks_file))
    assert result.exit_code == 1
    assert result.stderr.split(":")[0] in ("invalid_request", "jwks_unavailable")


def test_inspect_prints_header_and_claims_marked_unverified(data_dir: str) -> None:
    token = sign(data_dir, {"groceryList": ["tea"]})
    result = run("inspect", token)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["verified"] is False
    assert document["header"]["typ"] == "JWT"
    assert document["claims"]["groceryList"] == ["tea"]
    assert "UNVERIFIED" in result.stderr


def test_inspect_takes_data_dir_like_every_command_and_touches_nothing(tmp_path: Path) -> None:
    unused = tmp_path / "unused"
    result = run("inspect", "--data-dir", str(unused), FORGED)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["claims"]["groceryList"] == ["milk", "eggs", "cookies", "candy"]
    assert not unused.exists()


def test_inspect_shows_even_a_forged_token_without_trusting_it() -> None:
    result = run("inspect", FORGED)
    assert json.loads(result.stdout)["header"]["alg"] == "HS256"


def test_inspect_prints_a_lone_surrogate_escaped_and_unicode_as_is() -> None:
    header = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ"  # {"alg":"ES256","kid":"k"}
    payload = base64.urlsafe_b64encode(b'{"x":"\\ud800","y":"\xc3\xa4"}').rstrip(b"=").decode()
    result = run("inspect", f"{header}.{payload}.c2ln")
    assert result.exit_code == 0
    assert '"x": "\\ud800"' in result.stdout
    assert json.loads(result.stdout)["claims"]["y"] == "\u00e4"


def test_inspect_refuses_a_malformed_token() -> None:
    result = run("inspect", "not-a-token")
    assert result.exit_code == 1
    assert result.stderr.startswith("malformed_token: ")


def test_keys_list_shows_states_and_times(data_dir: str) -> None:
    rows = json.loads(run("keys", "list", "--json", "--data-dir", data_dir).stdout)
    assert [row["state"] for row in rows] == ["current", "next"]
    assert all(row["alg"] == "RS256" for row in rows)
    assert rows[0]["created"].endswith("+00:00")
    assert rows[1]["activates"] == rows[0]["retires"]
    assert rows[0]["removes"] is None
    table = run("keys", "list", "--data-dir", data_dir).stdout.splitlines()
    assert table[0].split() == ["KID", "ALG", "STATE", "CREATED", "ACTIVATES", "RETIRES", "REMOVES"]
    assert rows[0]["kid"] in table[1]
    for column, value in (("STATE", "current"), ("CREATED", rows[0]["created"]), ("REMOVES", "-")):
        assert table[1].index(value, table[0].index(column)) == table[0].index(column)  # aligned
    assert table[2].index("next") == table[0].index("STATE")


def test_keys_rotate_promotes_next_and_keeps_old_tokens_valid(data_dir: str) -> None:
    token = sign(data_dir, {"groceryList": ["milk"]})
    before = json.loads(run("keys", "list", "--json", "--data-dir", data_dir).stdout)
    result = run("keys", "rotate", "--data-dir", data_dir)
    assert result.exit_code == 0
    assert "warning: the next key was published" in result.stderr
    after = {
        row["kid"]: row for row in json.loads(run("keys", "list", "--json", "--data-dir", data_dir).stdout)
    }
    assert after[before[1]["kid"]]["state"] == "current"
    assert after[before[0]["kid"]]["state"] == "retired"
    assert after[before[0]["kid"]]["removes"] is not None
    assert len(after) == 3
    assert run("verify", token, "--data-dir", data_dir).exit_code == 0
    new_token = sign(data_dir, {})
    assert json.loads(run("inspect", new_token).stdout)["header"]["kid"] == before[1]["kid"]


def test_keys_rotate_does_not_warn_once_the_next_key_is_old_enough(data_dir: str) -> None:
    run("keys", "list", "--data-dir", data_dir)
    result = run("keys", "rotate", "--data-dir", data_dir, env={"JWTSEAL_JWKS_MAX_AGE": "1"})
    assert result.exit_code == 0
    if "warning" in result.stderr:  # created within the same second: wait once and retry
        time.sleep(1.1)
        result = run("keys", "rotate", "--data-dir", data_dir, env={"JWTSEAL_JWKS_MAX_AGE": "1"})
    assert "warning" not in result.stderr


def test_keys_revoke_removes_a_key_and_warns_when_promoting_a_young_key(data_dir: str) -> None:
    token = sign(data_dir, {})
    rows = json.loads(run("keys", "list", "--json", "--data-dir", data_dir).stdout)
    result = run("keys", "revoke", "--data-dir", data_dir, rows[0]["kid"])
    assert result.exit_code == 0
    assert "warning: the next key was published" in result.stderr
    assert f"current key: {rows[1]['kid']}" in result.stdout
    assert run("verify", token, "--data-dir", data_dir).stderr.startswith("unknown_kid: ")
    upcoming = json.loads(run("keys", "list", "--json", "--data-dir", data_dir).stdout)[1]["kid"]
    quiet = run("keys", "revoke", upcoming, "--data-dir", data_dir)
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    unknown = run("keys", "revoke", "no-such-kid", "--data-dir", data_dir)
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("unknown_kid: ")


def test_keys_revoke_takes_a_kid_that_starts_with_a_dash(tmp_path: Path) -> None:
    keys = iter(SigningKey.generate("EdDSA") for _ in range(100_000))
    dashed = next(key for key in keys if key.kid.startswith("-"))  # one in 64 thumbprints
    made = iter([SigningKey.generate("EdDSA"), dashed])
    KeyRing(FileKeyStore(tmp_path), RotationPolicy(algorithm="EdDSA"), make_key=lambda _: next(made)).view()
    result = run("keys", "revoke", dashed.kid, "--data-dir", str(tmp_path), env=ED25519)
    assert result.exit_code == 0, result.output
    assert f"revoked: {dashed.kid}" in result.stdout


def test_keys_jwks_prints_only_public_members(data_dir: str) -> None:
    jwks = json.loads(run("keys", "jwks", "--data-dir", data_dir).stdout)
    assert len(jwks["keys"]) == 2
    for jwk in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()


def test_corrupt_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "keys.json").write_text("{ torn")
    result = run("sign", "--claims", "{}", "--data-dir", str(data))
    assert result.exit_code == 1
    assert result.stderr.startswith("key_store_error: ")
    assert (data / "keys.json").read_text() == "{ torn"


def test_invalid_setting_names_the_variable(data_dir: str) -> None:
    result = run("sign", "--claims", "{}", "--data-dir", data_dir, env={"JWTSEAL_ALGORITHM": "HS256"})
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid_setting: JWTSEAL_ALGORITHM=")


def _first_line(server: ServeProcess) -> str:
    assert server.process.stdout is not None
    return server.process.stdout.readline()


def test_serve_in_a_subprocess_prints_the_api_key_once_and_serves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(tmp_path) as server:
        first = _first_line(server)
        assert first.startswith("jwtseal: API key for POST /encode")
        api_key = first.rsplit(" ", 1)[1].strip()
        headers = {"authorization": f"Bearer {api_key}"}
        token = httpx.post(f"{server.url}/encode", json={"groceryList": ["milk"]}, headers=headers).json()[
            "token"
        ]
        claims = httpx.post(f"{server.url}/decode", json={"token": token}).json()
        assert claims["groceryList"] == ["milk"]
        assert claims["iss"] == server.url
        assert api_key not in (data / "api-keys.json").read_text()
        assert oct((data / "api-keys.json").stat().st_mode & 0o777) == "0o600"
        assert oct((data / "keys.json").stat().st_mode & 0o777) == "0o600"
    assert server.process.returncode == 0
    with serve(tmp_path) as again:
        assert _first_line(again).startswith("jwtseal: serving")  # no second API key
    assert again.process.returncode == 0


def test_serve_with_api_keys_from_the_environment_prints_none(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "1", JWTSEAL_API_KEYS="env-key") as server:
        assert _first_line(server).startswith("jwtseal: serving http://127.0.0.1:")
        answer = httpx.post(f"{server.url}/encode", json={}, headers={"authorization": "Bearer env-key"})
        assert answer.status_code == 200
        assert not (tmp_path / "data" / "api-keys.json").exists()


def test_serve_on_a_port_in_use_says_so_and_exits_1(tmp_path: Path) -> None:
    taken = bound_socket()
    taken.listen(1)
    port = taken.getsockname()[1]
    with taken:
        result = subprocess.run(
            [sys.executable, "-m", "jwtseal", "serve", "--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == f"cannot_listen: 127.0.0.1:{port}: Address already in use"

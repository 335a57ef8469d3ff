"""A data dir that published keys but lost its key set is refused, never given a new one.

Making a new key set there would overwrite the published JWKS and kill every
token in flight; making a new API key would lock every client out. Both are
refused with ``key_store_error``, and nothing in the data dir changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jwtseal import FileKeyStore, KeyRing, KeyStoreError, RotationPolicy
from jwtseal.apikeys import ApiKeys
from jwtseal.cli import main

LOST = [None, "null", "{ torn", ""]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def published_data_dir(tmp_path: Path) -> Path:
    """A data dir with a key set and its published JWKS, made by the CLI as a user would."""
    data = tmp_path / "data"
    assert run("keys", "jwks", "--data-dir", str(data)).exit_code == 0
    assert (data / "keys.json").exists()
    assert (data / "jwks.json").exists()
    return data


def lose_key_set(data: Path, content: str | None) -> None:
    if content is None:
        (data / "keys.json").unlink()
    else:
        (data / "keys.json").write_text(content)


def files(data: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(data.iterdir()) if path.name != ".lock"}


@pytest.mark.parametrize("content", LOST, ids=["missing", "null", "torn", "empty"])
@pytest.mark.parametrize("command", [["keys", "list"], ["keys", "rotate"], ["sign", "--claims", "{}"]])
def test_a_lost_key_set_beside_a_published_jwks_is_refused_and_nothing_changes(
    tmp_path: Path, content: str | None, command: list[str]
) -> None:
    data = published_data_dir(tmp_path)
    lose_key_set(data, content)
    before = files(data)
    result = run(*command, "--data-dir", str(data))
    assert result.exit_code == 1
    assert result.stderr.startswith("key_store_error: ")
    assert "keys.json" in result.stderr
    assert files(data) == before


@pytest.mark.parametrize("content", LOST, ids=["missing", "null", "torn", "empty"])
def test_serve_refuses_a_lost_key_set_at_start_with_exit_1(tmp_path: Path, content: str | None) -> None:
    data = published_data_dir(tmp_path)
    published = (data / "jwks.json").read_bytes()
    lose_key_set(data, content)
    result = run("serve", "--port", "0", "--data-dir", str(data), env={"JWTSEAL_API_KEYS": "k"})
    assert result.exit_code == 1
    assert result.stderr.startswith("key_store_error: ")
    assert (data / "jwks.json").read_bytes() == published


def test_a_key_ring_refuses_a_lost_key_set_even_to_rotate(tmp_path: Path) -> None:
    data = published_data_dir(tmp_path)
    (data / "keys.json").unlink()
    keyring = KeyRing(FileKeyStore(data), RotationPolicy())
    with pytest.raises(KeyStoreError, match="the key set was lost"):
        keyring.view()
    with pytest.raises(KeyStoreError, match="the key set was lost"):
        keyring.rotate()
    assert not (data / "keys.json").exists()


def test_a_brand_new_data_dir_still_gets_its_keys(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    result = run("keys", "jwks", "--data-dir", str(data))
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["keys"]) == 2
    assert json.loads((data / "jwks.json").read_text()) == json.loads(result.stdout)


@pytest.mark.parametrize("content", ["null", "", "{ torn", '"jws_"', "0"])
def test_an_api_key_file_that_is_not_a_hash_list_never_yields_a_new_key(tmp_path: Path, content: str) -> None:
    (tmp_path / "api-keys.json").write_text(content)
    with pytest.raises(KeyStoreError, match=r"api-keys\.json"):
        ApiKeys.from_store(FileKeyStore(tmp_path))
    assert (tmp_path / "api-keys.json").read_text() == content


def test_serve_refuses_an_api_key_file_holding_null(tmp_path: Path) -> None:
    data = published_data_dir(tmp_path)
    (data / "api-keys.json").write_text("null")
    result = run("serve", "--port", "0", "--data-dir", str(data))
    assert result.exit_code == 1
    assert result.stderr.startswith("key_store_error: ")
    assert "api-keys.json" in result.stderr
    assert "API key for POST /encode" not in result.stdout
    assert (data / "api-keys.json").read_text() == "null"


def test_a_running_key_ring_whose_data_dir_was_emptied_keeps_its_keys_and_makes_none(tmp_path: Path) -> None:
    data = published_data_dir(tmp_path)
    keyring = KeyRing(FileKeyStore(data), RotationPolicy(), check_interval=0)
    before = keyring.view().keyset
    (data / "keys.json").unlink()
    (data / "jwks.json").unlink()
    assert keyring.view().keyset == before  # the last good key set, logged, still serves
    with pytest.raises(KeyStoreError, match="holds no key set"):
        keyring.check_store()
    assert not (data / "keys.json").exists()
    assert not (data / "jwks.json").exists()

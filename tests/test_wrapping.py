"""Private keys encrypted at rest: key-encryption keys, wrapped records, rewrap, the settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from jwtseal import FileKeyStore, KeyRing, KeyStoreError, RotationPolicy, Verifier
from jwtseal.cli import main
from jwtseal.keyset import from_document, to_document
from jwtseal.settings import Settings, SettingsError
from jwtseal.wrapping import KeyEncryptionKeys
from tests.servers import serve
from tests.tokens import sign_claims

POLICY = RotationPolicy(algorithm="ES256")
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def kek() -> str:
    return KeyEncryptionKeys.generate()


def keys_json(data: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((data / "keys.json").read_text())
    return document


def test_a_wrapped_file_store_holds_no_private_member_and_still_signs_and_verifies(tmp_path: Path) -> None:
    wrapping = KeyEncryptionKeys.parse(kek())
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=wrapping)
    token = sign_claims(keyring.view().signing_key, {"sub": "alice"})
    stored = keys_json(tmp_path)
    for entry in stored["keys"]:
        assert not PRIVATE_MEMBERS & set(entry["jwk"])
        assert entry["wrapped"]["kek"] == wrapping.primary_id
        assert entry["wrapped"]["alg"] == "A256GCM"
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    reopened = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=wrapping)
    assert Verifier(reopened).verify(token).claims["sub"] == "alice"
    assert reopened.view().signing_key.kid == keyring.view().signing_key.kid


def test_kek_ids_name_the_key_without_showing_it() -> None:
    text = kek()
    keys = KeyEncryptionKeys.parse(f"{text}, {kek()}")
    assert keys.primary_id == KeyEncryptionKeys.parse(text).primary_id
    assert len(keys.ids) == 2
    assert text not in repr(keys)
    assert repr(keys) == f"KeyEncryptionKeys(ids={list(keys.ids)!r})"


@pytest.mark.parametrize(
    "text", ["", " , ", "c2hvcnQ", "not*base64", KeyEncryptionKeys.generate() + "AAAA"], ids=repr
)
def test_a_kek_that_is_not_32_bytes_of_base64url_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"key-encryption key|base64url"):
        KeyEncryptionKeys.parse(text)


def test_the_first_kek_wraps_every_kek_unwraps_and_rewrap_moves_all_to_the_first(tmp_path: Path) -> None:
    old, new = kek(), kek()
    KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=KeyEncryptionKeys.parse(old)).view()
    rotating = KeyEncryptionKeys.parse(f"{new},{old}")
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=rotating)
    before = keyring.view().keyset
    rewrapped = keyring.rewrap()
    assert rewrapped.version == before.version + 1
    assert [r.kid for r in rewrapped.keys] == [r.kid for r in before.keys]
    assert {entry["wrapped"]["kek"] for entry in keys_json(tmp_path)["keys"]} == {rotating.primary_id}
    only_new = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=KeyEncryptionKeys.parse(new))
    assert only_new.view().signing_key.kid == before.current.kid


def test_a_wrong_kek_is_a_clear_error_naming_the_key_and_nothing_is_overwritten(tmp_path: Path) -> None:
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=KeyEncryptionKeys.parse(kek()))
    current = keyring.view().keyset.current.kid
    before = (tmp_path / "keys.json").read_bytes()
    wrong = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=KeyEncryptionKeys.parse(kek()))
    expected = f"private key {current} is wrapped under key-encryption key kek-"
    with pytest.raises(KeyStoreError, match=expected):
        wrong.view()
    with pytest.raises(KeyStoreError, match=current):
        wrong.rotate()
    with pytest.raises(KeyStoreError, match="no key-encryption key is set"):
        KeyRing(FileKeyStore(tmp_path), POLICY).view()
    assert (tmp_path / "keys.json").read_bytes() == before


def _flip_first_character(wrapped: dict[str, str]) -> None:
    text = wrapped["ciphertext"]
    wrapped["ciphertext"] = ("B" if text[0] == "A" else "A") + text[1:]


def _move_the_second_wrapped_key_onto_the_first(keys: list[dict[str, Any]]) -> None:
    keys[0]["wrapped"] = keys[1]["wrapped"]


def _tamper(tmp_path: Path, change: Any) -> None:
    document = keys_json(tmp_path)
    change(document["keys"])
    (tmp_path / "keys.json").write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda keys: _flip_first_character(keys[0]["wrapped"]), "altered"),
        (_move_the_second_wrapped_key_onto_the_first, "altered"),
        (lambda keys: keys[0]["wrapped"].pop("iv"), "corrupt"),
        (lambda keys: keys[0]["wrapped"].update(iv="***"), "corrupt"),
        (lambda keys: keys[0]["wrapped"].update(alg="A128KW"), "unknown method"),
        (lambda keys: keys[0]["wrapped"].update(kek=7), "not among"),
        (lambda keys: keys[0]["jwk"].update(kid=7), "corrupt"),
    ],
    ids=["flipped-ciphertext", "moved-to-another-record", "no-iv", "bad-iv", "unknown-alg", "kek-id", "kid"],
)
def test_a_tampered_or_corrupt_wrapped_key_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    wrapping = KeyEncryptionKeys.parse(kek())
    KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=wrapping).view()
    _tamper(tmp_path, change)
    with pytest.raises(KeyStoreError, match=message):
        KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=wrapping).view()


def test_a_clear_file_store_adopting_a_kek_reads_its_keys_and_rewrap_wraps_them(tmp_path: Path) -> None:
    clear = KeyRing(FileKeyStore(tmp_path), POLICY)
    kid = clear.view().signing_key.kid
    assert all("d" in entry["jwk"] for entry in keys_json(tmp_path)["keys"])
    wrapping = KeyEncryptionKeys.parse(kek())
    adopting = KeyRing(FileKeyStore(tmp_path), POLICY, wrapping=wrapping)
    assert adopting.view().signing_key.kid == kid
    adopting.rewrap()
    assert all("d" not in entry["jwk"] and "wrapped" in entry for entry in keys_json(tmp_path)["keys"])


def test_rewrap_without_a_kek_is_refused(tmp_path: Path) -> None:
    keyring = KeyRing(FileKeyStore(tmp_path), POLICY)
    keyring.view()
    with pytest.raises(KeyStoreError, match="keys rewrap needs a key-encryption key"):
        keyring.rewrap()


def test_documents_round_trip_wrapped_and_in_the_clear(tmp_path: Path) -> None:
    wrapping = KeyEncryptionKeys.parse(kek())
    keyset = KeyRing(FileKeyStore(tmp_path), POLICY).rotate()
    assert to_document(from_document(to_document(keyset, wrapping), wrapping)) == to_document(keyset)


def test_settings_read_the_kek_from_the_environment_or_a_file(tmp_path: Path) -> None:
    text = kek()
    from_env = Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY": text})
    assert from_env.key_encryption_key is not None
    path = tmp_path / "kek"
    path.write_text(text + "\n")
    from_file = Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY_FILE": str(path)})
    assert from_file.key_encryption_key is not None
    assert from_file.key_encryption_key.ids == from_env.key_encryption_key.ids
    assert text not in repr(from_env)
    assert Settings.load({}).key_encryption_key is None


def test_settings_refuse_a_bad_kek_without_echoing_it(tmp_path: Path) -> None:
    secret = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"
    with pytest.raises(SettingsError, match="JWTSEAL_KEY_ENCRYPTION_KEY=") as caught:
        Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY": secret})
    assert secret not in str(caught.value)
    path = tmp_path / "kek"
    path.write_text(secret)
    with pytest.raises(SettingsError, match="is not valid") as caught:
        Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY_FILE": str(path)})
    assert secret not in str(caught.value)


def test_settings_refuse_a_kek_file_that_is_missing_too_big_or_doubled(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY_FILE": str(tmp_path / "missing")})
    big = tmp_path / "big"
    big.write_text("A" * 5000)
    with pytest.raises(SettingsError, match="larger than 4096 bytes"):
        Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY_FILE": str(big)})
    with pytest.raises(SettingsError, match="not both"):
        Settings.load({"JWTSEAL_KEY_ENCRYPTION_KEY_FILE": str(big), "JWTSEAL_KEY_ENCRYPTION_KEY": kek()})


def test_the_postgresql_store_setting_needs_a_kek_and_a_postgresql_url() -> None:
    url = "postgresql://jwtseal:hunter2@db.internal/jwtseal"
    with pytest.raises(SettingsError, match="a database dump must never hold a usable private key"):
        Settings.load({"JWTSEAL_STORE": url})
    assert Settings.load({"JWTSEAL_STORE": url, "JWTSEAL_KEY_ENCRYPTION_KEY": kek()}).store == url
    with pytest.raises(SettingsError, match="postgresql:// URL") as caught:
        Settings.load({"JWTSEAL_STORE": "mysql://jwtseal:hunter2@db/jwtseal"})
    assert "hunter2" not in str(caught.value)
    assert Settings.load({"JWTSEAL_STORE": ""}).store is None


def test_cli_keys_rewrap_reports_the_kek_and_refuses_without_one(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    text = kek()
    env = {"JWTSEAL_KEY_ENCRYPTION_KEY": text, "JWTSEAL_ALGORITHM": "ES256"}
    done = runner.invoke(main, ["keys", "rewrap", "--data-dir", data], env=env)
    assert done.exit_code == 0, done.output
    primary = KeyEncryptionKeys.parse(text).primary_id
    assert done.output == f"rewrapped 2 private key(s) under key-encryption key {primary}\n"
    refused = runner.invoke(main, ["keys", "rewrap", "--data-dir", data], env={"JWTSEAL_ALGORITHM": "ES256"})
    assert refused.exit_code == 1
    assert "key_store_error" in refused.output
    assert "no key-encryption key is set" in refused.output


def test_serve_without_a_kek_says_once_that_private_keys_are_unencrypted(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "1", JWTSEAL_API_KEYS="env-key", JWTSEAL_ALGORITHM="ES256") as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert server.logs().count("private keys are kept unencrypted in 0600 files") == 1

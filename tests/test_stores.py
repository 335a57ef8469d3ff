"""The file key store: private atomic files, API key hashes, corruption refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtseal import FileKeyStore, KeyStoreError
from jwtseal.apikeys import ApiKeys


def test_first_use_generates_an_api_key_then_only_its_hash_is_kept(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "data")
    keys, new_key = ApiKeys.from_store(store)
    assert new_key is not None
    assert new_key.startswith("jws_")
    assert len(new_key) > 40
    assert keys.check(new_key)
    stored = (tmp_path / "data" / "api-keys.json").read_text()
    assert new_key not in stored
    assert (tmp_path / "data" / "api-keys.json").stat().st_mode & 0o777 == 0o600
    again, none = ApiKeys.from_store(FileKeyStore(tmp_path / "data"))
    assert none is None
    assert again.check(new_key)
    assert not again.check(new_key + "x")


@pytest.mark.parametrize("content", ["[]", '{"sha256": "abc"}', '{"sha256": [1]}', "{oops"])
def test_a_corrupt_api_key_file_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "api-keys.json").write_text(content)
    with pytest.raises(KeyStoreError, match=r"api-keys\.json"):
        ApiKeys.from_store(FileKeyStore(tmp_path))
    assert (tmp_path / "api-keys.json").read_text() == content


def test_store_repr_names_only_its_directory(tmp_path: Path) -> None:
    assert repr(FileKeyStore(tmp_path)) == f"FileKeyStore({str(tmp_path)!r})"


def test_revision_changes_when_the_key_set_is_saved(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path)
    assert store.revision() is None
    store.save({"version": 1})
    first = store.revision()
    store.save({"version": 2})
    assert store.revision() != first
    assert store.load() == {"version": 2}

"""The PostgreSQL store on its own: schema, compare-and-swap, lost connections, refusals.

The contract every store keeps is in tests/test_store_contract.py; the
replicas and the faults in test_postgres_replicas.py and test_postgres_faults.py.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

import jwtseal.stores.postgres
from jwtseal import ConcurrentUpdate, KeyRing, KeyStoreError, RotationPolicy
from jwtseal.errors import SigningUnavailable
from jwtseal.service import Service
from jwtseal.settings import Settings, SettingsError
from jwtseal.stores import StoreUnreachable, open_store
from jwtseal.stores.postgres import SCHEMA_VERSION, PostgresKeyStore
from jwtseal.wrapping import KeyEncryptionKeys
from tests.conftest import Clock
from tests.postgres_fixtures import PostgresServer, free_port

POLICY = RotationPolicy(algorithm="ES256")


def wrapping() -> KeyEncryptionKeys:
    return KeyEncryptionKeys.parse(KeyEncryptionKeys.generate())


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture
def store(url: str) -> Iterator[PostgresKeyStore]:
    opened = PostgresKeyStore(url)
    yield opened
    opened.close()


def unreachable_url() -> str:
    return f"postgresql://jwtseal:hunter2@127.0.0.1:{free_port()}/jwtseal"


def sql(url: str, statement: str, *params: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        row = cursor.fetchone() if cursor.description else None
    return None if row is None else row[0]


def test_without_psycopg_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    path = jwtseal.stores.postgres.__file__
    spec = importlib.util.spec_from_file_location("jwtseal.stores._postgres_copy", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ImportError, match=r"pip install 'jwtseal\[postgres\]'"):
        spec.loader.exec_module(module)


def test_repr_names_host_port_and_database_never_the_password() -> None:
    store = PostgresKeyStore("postgresql://jwtseal:hunter2@db.internal:6432/keys")
    assert repr(store) == "PostgresKeyStore('db.internal:6432/keys')"


def test_a_url_psycopg_cannot_parse_is_a_store_error() -> None:
    with pytest.raises(KeyStoreError, match="not a PostgreSQL URL"):
        PostgresKeyStore("postgresql://[broken")


def test_open_store_picks_postgresql_for_a_postgresql_url(tmp_path: Any) -> None:
    store = open_store(tmp_path, {"JWTSEAL_STORE": "postgresql://127.0.0.1/jwtseal"})
    assert isinstance(store, PostgresKeyStore)


def test_an_unreachable_database_is_a_store_unreachable_error_naming_where() -> None:
    store = PostgresKeyStore(unreachable_url(), connect_timeout=2)
    with pytest.raises(StoreUnreachable, match=r"127\.0\.0\.1:\d+/jwtseal is unreachable") as caught:
        store.revision()
    assert "hunter2" not in caught.value.detail


def test_the_store_creates_its_schema_with_a_version(store: PostgresKeyStore, url: str) -> None:
    assert store.revision() is None
    assert sql(url, "SELECT version FROM jwtseal_schema") == SCHEMA_VERSION
    assert sql(url, "SELECT count(*) FROM jwtseal_documents") == 0


def test_a_schema_newer_than_this_jwtseal_is_refused(store: PostgresKeyStore, url: str) -> None:
    store.revision()
    sql(url, "UPDATE jwtseal_schema SET version = 99 RETURNING version")
    with pytest.raises(KeyStoreError, match=r"schema is version 99.*Upgrade jwtseal"):
        PostgresKeyStore(url).revision()


def test_the_store_refuses_a_private_key_in_the_clear(store: PostgresKeyStore) -> None:
    with pytest.raises(KeyStoreError, match="private keys only wrapped"):
        KeyRing(store, POLICY).view()
    assert store.load() is None


def test_a_service_on_the_store_without_a_kek_refuses_to_start(store: PostgresKeyStore) -> None:
    with pytest.raises(SettingsError, match="needs a key-encryption key"):
        Service.open(Settings(), store)


def test_two_first_writes_one_wins_the_other_is_a_concurrent_update(url: str) -> None:
    first, second = PostgresKeyStore(url), PostgresKeyStore(url)
    assert first.load() is None
    assert second.load() is None
    first.save({"version": 1})
    with pytest.raises(ConcurrentUpdate):
        second.save({"version": 1, "loser": True})
    assert PostgresKeyStore(url).load() == {"version": 1}


class Racing(PostgresKeyStore):
    """A store without the advisory lock whose saves another replica always beats by one rotation."""

    def __init__(self, url: str, rival: KeyRing, races: int) -> None:
        super().__init__(url)
        self.rival, self.races = rival, races

    @contextmanager
    def lock(self) -> Iterator[None]:
        yield

    def save(self, document: Any) -> None:
        if self.races:
            self.races -= 1
            self.rival.rotate()
        super().save(document)


def test_a_writer_that_loses_the_swap_reloads_and_rotates_once_on_the_winners_key_set(url: str) -> None:
    keys = wrapping()
    rival = KeyRing(PostgresKeyStore(url), POLICY, wrapping=keys)
    start = rival.view().keyset
    racing = KeyRing(Racing(url, rival, races=1), POLICY, wrapping=keys, background=True)
    rotated = racing.rotate()
    assert rotated.version == start.version + 2  # the rival's rotation, then ours on top of it
    kids = [record.kid for record in rotated.keys]
    assert len(kids) == len(set(kids)) == 4


def test_a_writer_that_loses_every_swap_gives_up_with_concurrent_update(url: str) -> None:
    keys = wrapping()
    rival = KeyRing(PostgresKeyStore(url), POLICY, wrapping=keys)
    rival.view()
    racing = KeyRing(Racing(url, rival, races=3), POLICY, wrapping=keys, background=True)
    with pytest.raises(ConcurrentUpdate):
        racing.rotate()


def _terminate_session_of(store: PostgresKeyStore, url: str) -> None:
    with store.lock():
        pass  # make sure it has a session
    pid = sql(
        url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    sql(url, "SELECT pg_terminate_backend(%s)", pid)


def test_a_lost_connection_is_unreachable_once_then_reopened(store: PostgresKeyStore, url: str) -> None:
    _terminate_session_of(store, url)
    with pytest.raises(StoreUnreachable, match="unreachable"):
        store.revision()
    assert store.revision() is None


def test_a_connection_lost_under_the_lock_fails_the_write_and_lets_go_of_the_lock(
    store: PostgresKeyStore, url: str
) -> None:
    store.revision()
    pid = sql(
        url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def write_after_losing_the_session() -> None:
        with store.lock():
            sql(url, "SELECT pg_terminate_backend(%s)", pid)
            store.load()

    with pytest.raises(StoreUnreachable):
        write_after_losing_the_session()
    with PostgresKeyStore(url).lock():  # the advisory lock went with the session
        pass


def test_a_statement_the_database_refuses_is_a_store_error(store: PostgresKeyStore, url: str) -> None:
    store.revision()
    sql(url, "DROP TABLE jwtseal_documents")
    with pytest.raises(KeyStoreError, match="The PostgreSQL key store failed"):
        store.load()


def test_a_background_key_ring_waits_for_an_unreachable_store_without_raising() -> None:
    keyring = KeyRing(
        PostgresKeyStore(unreachable_url(), connect_timeout=2), POLICY, wrapping=wrapping(), background=True
    )
    keyring.start()
    with pytest.raises(KeyStoreError, match=r"Waiting for the key store: .*unreachable"):
        keyring.view()
    with pytest.raises(KeyStoreError, match="Waiting for the key store"):
        keyring.check_store()
    with pytest.raises(SigningUnavailable, match="Waiting for the key store") as caught:
        keyring.check_signing()
    assert caught.value.retry_after == 5
    with pytest.raises(StoreUnreachable):
        keyring.maintain()


def test_a_background_key_ring_stops_at_start_on_a_key_no_kek_opens(url: str) -> None:
    KeyRing(PostgresKeyStore(url), POLICY, wrapping=wrapping()).view()
    keyring = KeyRing(PostgresKeyStore(url), POLICY, wrapping=wrapping(), background=True)
    with pytest.raises(KeyStoreError, match="is wrapped under key-encryption key"):
        keyring.start()


def test_a_background_key_ring_serves_from_memory_and_says_degraded(url: str) -> None:
    keys, clock = wrapping(), Clock()
    store = PostgresKeyStore(url)
    keyring = KeyRing(store, POLICY, wrapping=keys, background=True, clock=clock)
    keyring.start()
    keyring.check_store()
    keyring.check_signing()
    current = keyring.view().signing_key.kid
    assert keyring.maintain() is None
    _terminate_session_of(store, url)
    store.url = unreachable_url()  # from now on, every reconnect fails
    with pytest.raises(StoreUnreachable):
        keyring.refresh()
    assert keyring.view().signing_key.kid == current
    with pytest.raises(
        KeyStoreError, match=r"Degraded: .*unreachable.*Serving key set version 1 from memory"
    ):
        keyring.check_store()
    keyring.check_signing()  # the current key has not reached its retirement
    clock.now = keyring.view().keyset.current.retires_at
    with pytest.raises(SigningUnavailable, match="retirement time"):
        keyring.check_signing()
    store.url = url
    rotated = keyring.maintain()
    assert rotated is not None
    assert keyring.view().signing_key.kid == rotated.current.kid != current  # served at once
    keyring.check_store()
    keyring.check_signing()


def test_replicas_racing_for_a_scheduled_rotation_make_one_and_the_loser_reloads(url: str) -> None:
    keys, clock = wrapping(), Clock()
    rival = KeyRing(PostgresKeyStore(url), POLICY, wrapping=keys, clock=clock)
    start = rival.view().keyset
    keyring = KeyRing(Racing(url, rival, races=1), POLICY, wrapping=keys, background=True, clock=clock)
    keyring.start()
    clock.now = start.current.retires_at
    assert keyring.maintain() is None  # the rival rotated first; due no more on its key set
    assert keyring.view().keyset.version == start.version + 1
    assert keyring.view().signing_key.kid == start.next.kid
    keyring.check_store()


def test_a_rotation_the_database_refuses_leaves_a_background_key_ring_degraded(url: str) -> None:
    keys, clock = wrapping(), Clock()
    keyring = KeyRing(PostgresKeyStore(url), POLICY, wrapping=keys, background=True, clock=clock)
    keyring.start()
    sql(
        url,
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'read only for this test'; "
        "END $$ LANGUAGE plpgsql",
    )
    sql(
        url, "CREATE TRIGGER refuse BEFORE UPDATE ON jwtseal_documents FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    clock.now = keyring.view().keyset.current.retires_at
    with pytest.raises(KeyStoreError, match="read only for this test"):
        keyring.maintain()
    with pytest.raises(KeyStoreError, match="Degraded: The PostgreSQL key store failed"):
        keyring.check_store()
    with pytest.raises(SigningUnavailable, match="retirement time"):
        keyring.check_signing()

"""One suite, every key store: the KeyStore interface and the KeyRing on top of it.

The ``backend`` fixture runs each test against the embedded file store, the
AWS store (Secrets Manager and S3 on a moto server on 127.0.0.1), and the
PostgreSQL store (a fresh database on the session's real PostgreSQL, with a
key-encryption key: that store holds private keys only wrapped).
Two store objects on the same backend play two processes (or replicas).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jwtseal import FileKeyStore, KeyRing, KeyStore, KeyStoreError, RotationPolicy, Verifier
from jwtseal.apikeys import ApiKeys
from jwtseal.keyset import from_document, to_document
from jwtseal.stores.aws import FORMAT, AwsKeyStore
from jwtseal.stores.postgres import PostgresKeyStore
from jwtseal.wrapping import KeyEncryptionKeys
from tests.aws_fixtures import MotoAws, moto_server
from tests.postgres_fixtures import PostgresServer
from tests.tokens import sign_claims

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
POLICY = RotationPolicy(algorithm="ES256")


@dataclass
class Backend:
    """A key store backend: new store objects on the same data, and a look behind them."""

    name: str
    make: Callable[[], KeyStore]
    published: Callable[[], Any]
    private_text: Callable[[], str]
    write_raw: Callable[[str], None]
    write_keyset: Callable[[Any], None]
    wrapping: KeyEncryptionKeys | None = None


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_server() as running:
        yield running


def _file_backend(directory: Path) -> Backend:
    def write(name: str, text: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)

    def published() -> Any:
        path = directory / "jwks.json"
        return json.loads(path.read_text()) if path.exists() else None

    def private_text() -> str:
        return "".join(
            path.read_text() for path in sorted(directory.glob("*.json")) if path.name != "jwks.json"
        )

    return Backend(
        "file",
        lambda: FileKeyStore(directory),
        published,
        private_text,
        lambda text: write("keys.json", text),
        lambda document: write("keys.json", json.dumps(document)),
    )


def _aws_backend(aws: MotoAws) -> Backend:
    secret_id, bucket = aws.new_secret(), aws.new_bucket()
    secrets, s3 = aws.secrets(), aws.s3()

    def published() -> Any:
        try:
            return aws.published(bucket)[0]
        except s3.exceptions.NoSuchKey:
            return None

    def private_text() -> str:
        try:
            return secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
        except secrets.exceptions.ResourceNotFoundException:
            return ""

    def write_raw(text: str) -> None:
        secrets.put_secret_value(SecretId=secret_id, SecretString=text)

    return Backend(
        "aws",
        lambda: AwsKeyStore(secrets, secret_id, s3=s3, bucket=bucket),
        published,
        private_text,
        write_raw,
        lambda document: write_raw(json.dumps({"format": FORMAT, "keyset": document, "apiKeyHashes": None})),
    )


def _postgres_backend(url: str) -> Backend:
    def row(name: str) -> str | None:
        PostgresKeyStore(url).revision()  # the store makes its tables on first use
        with psycopg.connect(url) as connection:
            found = connection.execute(
                "SELECT body FROM jwtseal_documents WHERE name = %s", (name,)
            ).fetchone()
        return None if found is None else str(found[0])

    def published() -> Any:
        body = row("jwks")
        return None if body is None else json.loads(body)

    def write_raw(text: str) -> None:
        row("keyset")
        with psycopg.connect(url) as connection:
            connection.execute(
                "INSERT INTO jwtseal_documents (name, revision, body) VALUES ('keyset', 1, %s) "
                "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, revision = 2",
                (text,),
            )

    return Backend(
        "postgres",
        lambda: PostgresKeyStore(url),
        published,
        lambda: (row("keyset") or "") + (row("api_keys") or ""),
        write_raw,
        lambda document: write_raw(json.dumps(document)),
        KeyEncryptionKeys.parse(KeyEncryptionKeys.generate()),
    )


@pytest.fixture(params=["file", "aws", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        return _file_backend(tmp_path / "data")
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        return _postgres_backend(server.new_database())
    return _aws_backend(request.getfixturevalue("aws"))


def ring(backend: Backend, policy: RotationPolicy = POLICY) -> KeyRing:
    return KeyRing(backend.make(), policy, check_interval=0, wrapping=backend.wrapping)


def private_halves_kept(entry: dict[str, Any]) -> bool:
    """A key that signs keeps its private half: in the clear, or wrapped beside its public JWK."""
    return "d" in entry["jwk"] or ("wrapped" in entry and "d" not in entry["jwk"])


def test_an_empty_store_has_no_key_set_no_revision_and_no_api_keys(backend: Backend) -> None:
    store = backend.make()
    assert store.load() is None
    assert store.revision() is None
    assert store.load_api_key_hashes() is None
    assert backend.published() is None


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_the_first_view_creates_a_key_set_and_publishes_only_public_keys(
    backend: Backend, algorithm: str
) -> None:
    keyring = ring(backend, RotationPolicy(algorithm=algorithm))
    view = keyring.view()
    document = backend.make().load()
    assert document is not None
    assert [entry["state"] for entry in document["keys"]] == ["current", "next"]
    assert all(private_halves_kept(entry) for entry in document["keys"])  # both can sign
    published = backend.published()
    assert [key["kid"] for key in published["keys"]] == [view.keyset.current.kid, view.keyset.next.kid]
    for key in published["keys"]:
        assert not PRIVATE_MEMBERS & set(key), key
        assert key["use"] == "sig"
        assert key["alg"] == algorithm


def test_saved_documents_round_trip_and_change_the_revision(backend: Backend) -> None:
    writer, reader = backend.make(), backend.make()
    writer.save({"version": 1})
    first = reader.revision()
    assert first is not None
    assert reader.load() == {"version": 1}
    writer.save({"version": 2})
    assert reader.revision() != first
    assert reader.load() == {"version": 2}


def test_rotation_promotes_the_next_key_and_keeps_the_old_one_published(backend: Backend) -> None:
    keyring = ring(backend)
    before = keyring.view().keyset
    token = sign_claims(before.signing_key, {"sub": "alice"})
    after = keyring.rotate()
    assert after.current.kid == before.next.kid
    assert after.version == before.version + 1
    published = [key["kid"] for key in backend.published()["keys"]]
    assert published == [after.current.kid, after.next.kid, before.current.kid]
    assert Verifier(ring(backend)).verify(token).claims["sub"] == "alice"


def test_a_rotation_by_another_process_is_picked_up_by_revision(backend: Backend) -> None:
    ours, theirs = ring(backend), ring(backend)
    old = ours.view().signing_key.kid
    rotated = theirs.rotate()
    assert ours.view().signing_key.kid == rotated.current.kid != old


def test_api_key_hashes_are_kept_shared_and_never_the_keys(backend: Backend) -> None:
    keys, new_key = ApiKeys.from_store(backend.make())
    assert new_key is not None
    assert keys.check(new_key)
    again, none = ApiKeys.from_store(backend.make())
    assert none is None
    assert again.check(new_key)
    assert not again.check(new_key + "x")
    assert new_key not in backend.private_text()


def test_key_set_and_api_key_hashes_do_not_overwrite_each_other(backend: Backend) -> None:
    keyring = ring(backend)
    keyring.view()
    backend.make().save_api_key_hashes(["a" * 64])
    keyring.rotate()
    assert backend.make().load_api_key_hashes() == ["a" * 64]
    stored = from_document(backend.make().load(), backend.wrapping)
    assert to_document(stored) == to_document(keyring.view().keyset)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda backend: backend.write_raw("{oops"), id="not-json"),
        pytest.param(
            lambda backend: backend.write_keyset({"format": "jwtseal/keyset-v1", "version": 1, "keys": []}),
            id="no-keys",
        ),
        pytest.param(
            lambda backend: backend.write_keyset({"format": "someone-else", "version": 1}), id="format"
        ),
    ],
)
def test_a_corrupt_store_is_refused_and_left_as_it_was(
    backend: Backend, write: Callable[[Backend], None]
) -> None:
    write(backend)
    before = backend.private_text()
    with pytest.raises(KeyStoreError, match=r"corrupt|unknown format|refusing"):
        ring(backend).view()
    assert backend.private_text() == before
    assert backend.published() is None


def test_corrupt_api_key_hashes_are_refused(backend: Backend) -> None:
    store = backend.make()
    store.save_api_key_hashes([42])  # type: ignore[list-item]
    with pytest.raises(KeyStoreError, match="corrupt"):
        ApiKeys.from_store(backend.make())

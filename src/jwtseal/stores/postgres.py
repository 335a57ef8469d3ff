"""The PostgreSQL key store: one key ring shared by replicas on any number of hosts.

The store creates and migrates its own tables on first use (no manual SQL),
under a transaction-scoped advisory lock so replicas starting together
migrate once::

    jwtseal_schema     (id, version)            the schema version
    jwtseal_documents  (name, revision, body)   rows "keyset", "api_keys", "jwks"

Writes are compare-and-swap on ``revision``: an ``UPDATE ... WHERE revision =
<the one loaded>`` that matches no row raises :class:`ConcurrentUpdate` and
overwrites nothing. :meth:`PostgresKeyStore.lock` also holds a session
advisory lock, so racing writers queue instead of failing; the swap still
guards a writer whose lock went with a dropped connection. Every statement
runs in autocommit, so a crash (even ``kill -9`` of PostgreSQL) leaves the
old or the new key set, never a torn one.

The store refuses a key set holding a private key in the clear: a database
dump must never hold a usable private key (see :mod:`jwtseal.wrapping`).

Replicas learn of a change by polling :meth:`revision` (one indexed read)
from a background task every second; see :mod:`jwtseal.keyring`. Polling was
chosen over LISTEN/NOTIFY: it needs no connection held open in session mode
(transaction poolers such as PgBouncer drop notifications), a notification
sent while a replica was reconnecting is never lost, and the bound on how
stale a replica is stays one poll interval whatever the network did.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Final

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
except ImportError as exc:
    raise ImportError("The PostgreSQL key store needs psycopg: pip install 'jwtseal[postgres]'") from exc

from .._jwk import Jwks
from ..errors import ConcurrentUpdate, KeyStoreError
from .base import KeyStore, StoreUnreachable

__all__ = ["SCHEMA_VERSION", "PostgresKeyStore"]

MIGRATION_LOCK: Final = 0x6A77_7473_6561_6C01  # "jwtseal" + 1: advisory lock ids
WRITE_LOCK: Final = 0x6A77_7473_6561_6C02
MIGRATIONS: Final = (
    (
        "CREATE TABLE jwtseal_documents ("
        " name text PRIMARY KEY,"
        " revision bigint NOT NULL,"
        " body text NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_CONNECTION_OPTIONS: Final[dict[str, str | int]] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 10_000,  # ms: a peer that vanished fails a statement, not hangs it
    "options": "-c statement_timeout=15000",
}


def _holds_private_key_in_the_clear(document: Any) -> bool:
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        return False
    return any(isinstance(entry, dict) and "d" in (entry.get("jwk") or {}) for entry in keys)


class PostgresKeyStore(KeyStore):
    """The key ring in a PostgreSQL database, at a ``postgresql://`` URL.

    One connection, opened on first use and again after a failure; calls from
    several threads take turns on it. A database that cannot be reached
    raises :class:`StoreUnreachable` (a ``KeyStoreError``) after at most
    ``connect_timeout`` seconds.
    """

    networked = True
    needs_key_encryption = True

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        self.url = url
        self._connection: psycopg.Connection[Any] | None = None
        try:
            facts = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise KeyStoreError("JWTSEAL_STORE is not a PostgreSQL URL psycopg can use.") from exc
        self._where = f"{facts.get('host', 'localhost')}:{facts.get('port', 5432)}/{facts.get('dbname', '')}"
        self._connect_timeout = connect_timeout
        self._mutex = threading.RLock()
        self._loaded_at: dict[str, int | None] = {}  # the revision each document was read at

    def __repr__(self) -> str:
        return f"PostgresKeyStore({self._where!r})"  # never the URL: it may hold a password

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        with self._mutex:
            self._drop()

    def __del__(self) -> None:
        connection = self._connection
        if connection is not None:  # a store dropped without close(): end its session too
            connection.close()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Writers across every replica take turns (a session advisory lock)."""
        with self._session() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):  # a lost connection released it already
                    connection.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))

    def load(self) -> Any | None:
        return self._read("keyset")

    def save(self, document: Any) -> None:
        """Swap in ``document`` if the key set is still the revision it was loaded at.

        Raises:
            KeyStoreError: the document holds a private key in the clear.
            ConcurrentUpdate: another writer changed the key set first.
            StoreUnreachable: the database cannot be reached.
        """
        if _holds_private_key_in_the_clear(document):
            raise KeyStoreError(
                "The PostgreSQL key store holds private keys only wrapped: set JWTSEAL_KEY_ENCRYPTION_KEY."
            )
        self._write("keyset", document)

    def publish(self, jwks: Jwks) -> None:
        """Keep the public key set beside the private one, for tools that read the database."""
        body = json.dumps(jwks, separators=(",", ":"))
        with self._session() as connection:
            connection.execute(
                "INSERT INTO jwtseal_documents (name, revision, body) VALUES ('jwks', 1, %s) "
                "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, "
                "revision = jwtseal_documents.revision + 1, updated_at = now()",
                (body,),
            )

    def revision(self) -> Hashable:
        """The key set's revision: one indexed read."""
        with self._session() as connection:
            query = "SELECT revision FROM jwtseal_documents WHERE name = 'keyset'"
            row = connection.execute(query).fetchone()
        return None if row is None else row[0]

    def load_api_key_hashes(self) -> list[str] | None:
        """Raises KeyStoreError when the stored hashes are not SHA-256 hex digests."""
        document = self._read("api_keys")
        if document is None:
            return None
        hashes = document.get("sha256") if isinstance(document, dict) else None
        if not isinstance(hashes, list) or not all(
            isinstance(h, str) and _SHA256_HEX.fullmatch(h) for h in hashes
        ):
            raise KeyStoreError("The API key hashes in PostgreSQL are corrupt; refusing to use them.")
        return hashes

    def save_api_key_hashes(self, hashes: list[str]) -> None:
        """Raises ConcurrentUpdate or StoreUnreachable, as :meth:`save` does."""
        self._write("api_keys", {"sha256": list(hashes)})

    def _read(self, name: str) -> Any | None:
        with self._session() as connection:
            row = connection.execute(
                "SELECT revision, body FROM jwtseal_documents WHERE name = %s", (name,)
            ).fetchone()
        self._loaded_at[name] = None if row is None else row[0]
        if row is None:
            return None
        try:
            return json.loads(row[1])
        except ValueError as exc:
            raise KeyStoreError(f"The {name} record in PostgreSQL is corrupt; refusing to use it.") from exc

    def _write(self, name: str, document: Any) -> None:
        """Insert the first revision, or swap from the revision last read; one statement each."""
        body = json.dumps(document, separators=(",", ":"))
        with self._session() as connection:
            if name not in self._loaded_at:  # written before ever read: swap from what is there now
                self._read(name)
            base = self._loaded_at.pop(name)
            if base is None:
                cursor = connection.execute(
                    "INSERT INTO jwtseal_documents (name, revision, body) VALUES (%s, 1, %s) "
                    "ON CONFLICT (name) DO NOTHING",
                    (name, body),
                )
            else:
                cursor = connection.execute(
                    "UPDATE jwtseal_documents SET revision = revision + 1, body = %s, updated_at = now() "
                    "WHERE name = %s AND revision = %s",
                    (body, name, base),
                )
            if cursor.rowcount != 1:
                raise ConcurrentUpdate
            self._loaded_at[name] = 1 if base is None else base + 1

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, for one thread at a time; database errors become store errors.

        Raises:
            StoreUnreachable: the connection failed or was lost (it is dropped).
            KeyStoreError: the database refused a statement.
        """
        with self._mutex:
            try:
                yield self._connect()
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self._drop()
                raise StoreUnreachable(
                    f"The PostgreSQL key store at {self._where} is unreachable: {_first_line(exc)}"
                ) from exc
            except psycopg.Error as exc:
                self._drop()
                raise KeyStoreError(f"The PostgreSQL key store failed: {_first_line(exc)}") from exc

    def _connect(self) -> psycopg.Connection[Any]:
        connection = self._connection
        if connection is not None and not connection.closed:
            return connection
        conninfo = make_conninfo(self.url, connect_timeout=self._connect_timeout, **_CONNECTION_OPTIONS)
        connection = psycopg.connect(conninfo, autocommit=True)
        try:
            _migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _migrate(connection: psycopg.Connection[Any]) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, once across replicas.

    Raises:
        KeyStoreError: the database has a newer schema than this jwtseal knows.
    """
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS jwtseal_schema ("
            " id boolean PRIMARY KEY DEFAULT true CHECK (id), version integer NOT NULL)"
        )
        row = connection.execute("SELECT version FROM jwtseal_schema").fetchone()
        version = 0 if row is None else row[0]
        if version > SCHEMA_VERSION:
            raise KeyStoreError(
                f"The database's jwtseal schema is version {version}; this jwtseal knows up to "
                f"{SCHEMA_VERSION}. Upgrade jwtseal."
            )
        for migration in MIGRATIONS[version:]:
            for statement in migration:
                connection.execute(statement)
        connection.execute(
            "INSERT INTO jwtseal_schema (id, version) VALUES (true, %s) "
            "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
            (SCHEMA_VERSION,),
        )


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

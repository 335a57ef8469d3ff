"""Key stores: where the key set lives. The file store is the default."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..settings import store_url
from .base import KeyStore, StoreUnreachable
from .file import FileKeyStore

__all__ = ["FileKeyStore", "KeyStore", "StoreUnreachable", "open_store"]


def open_store(data_dir: Path, environ: Mapping[str, str]) -> KeyStore:
    """The embedded file store in ``data_dir``; the PostgreSQL store when
    ``JWTSEAL_STORE`` is a ``postgresql://`` URL; or the AWS store when
    ``JWTSEAL_SECRET_ID`` names a secret (every replica then shares one key set).

    Raises:
        SettingsError: an AWS variable or ``JWTSEAL_STORE`` is not valid.
        ImportError: the AWS or PostgreSQL store without its extra
            (``jwtseal[aws]``, ``jwtseal[postgres]``).
    """
    url = store_url(environ)
    if url is not None:
        from .postgres import PostgresKeyStore  # noqa: PLC0415 - psycopg only when asked for

        return PostgresKeyStore(url)
    if environ.get("JWTSEAL_SECRET_ID"):
        from ..aws import store_from_environ  # noqa: PLC0415 - boto3 only when asked for

        return store_from_environ(environ)
    return FileKeyStore(data_dir)

"""Key stores: where the key set lives. The file store is the default."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .base import KeyStore
from .file import FileKeyStore

__all__ = ["FileKeyStore", "KeyStore", "open_store"]


def open_store(data_dir: Path, environ: Mapping[str, str]) -> KeyStore:
    """The embedded file store in ``data_dir``, or the AWS store when
    ``JWTSEAL_SECRET_ID`` names a secret (every replica then shares one key set).

    Raises:
        SettingsError: an AWS variable is not valid.
        ImportError: the AWS store without the ``jwtseal[aws]`` extra.
    """
    if environ.get("JWTSEAL_SECRET_ID"):
        from ..aws import store_from_environ  # noqa: PLC0415 - boto3 only when asked for

        return store_from_environ(environ)
    return FileKeyStore(data_dir)

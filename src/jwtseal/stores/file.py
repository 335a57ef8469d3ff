"""The embedded file store: a data directory with private, atomically written JSON.

Layout: ``keys.json`` (the key set, 0600), ``api-keys.json`` (API key hashes,
0600), ``jwks.json`` (the public key set) and ``.lock`` (held, see _locking.py,
for every read-modify-write, so processes never interleave).

Only a data dir that never had a key set may get a new one: a ``jwks.json``
without a readable ``keys.json`` means the key set was lost, and a new one
would overwrite the published keys and kill every token in flight. Files that
exist but hold ``null`` are corrupt, never "not there yet".
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from .._jwk import Jwks
from .._locking import exclusive
from ..errors import KeyStoreError
from .base import KeyStore

__all__ = ["FileKeyStore"]

PRIVATE = 0o600
PUBLIC = 0o644


class FileKeyStore(KeyStore):
    """Keys in a local directory, safe for several processes on one machine."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._keys = self.directory / "keys.json"
        self._api_keys = self.directory / "api-keys.json"
        self._jwks = self.directory / "jwks.json"

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.directory)!r})"

    @contextmanager
    def lock(self) -> Iterator[None]:
        self._ensure_directory()
        with exclusive(self.directory / ".lock"):
            self._remove_torn_writes()
            yield

    def load(self) -> Any | None:
        """The key set document; ``None`` only for a data dir that never published keys.

        Raises:
            KeyStoreError: ``keys.json`` is unreadable, corrupt or ``null``, or
                missing while ``jwks.json`` says a key set was published.
        """
        document = _read_json(self._keys)
        if document is _MISSING:
            if self._jwks.exists():
                raise KeyStoreError(
                    f"{self._keys} is missing but {self._jwks} is published: the key set was lost; "
                    "refusing to make a new one (restore keys.json from a backup)."
                )
            return None
        return document

    def save(self, document: Any) -> None:
        self._ensure_directory()
        _write_atomically(self._keys, json.dumps(document, indent=1).encode(), PRIVATE)

    def publish(self, jwks: Jwks) -> None:
        self._ensure_directory()
        _write_atomically(self._jwks, json.dumps(jwks, indent=1).encode(), PUBLIC)

    def revision(self) -> Hashable:
        try:
            stat = self._keys.stat()
        except OSError:  # missing or unreachable: load() tells which
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def load_api_key_hashes(self) -> list[str] | None:
        """The hashes; ``None`` only when ``api-keys.json`` does not exist.

        Raises:
            KeyStoreError: the file is unreadable, or not ``{"sha256": [...]}``.
        """
        document = _read_json(self._api_keys)
        if document is _MISSING:
            return None
        hashes = document.get("sha256") if isinstance(document, dict) else None
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise KeyStoreError(f"{self._api_keys} is corrupt; refusing to use it.")
        return hashes

    def save_api_key_hashes(self, hashes: list[str]) -> None:
        self._ensure_directory()
        _write_atomically(self._api_keys, json.dumps({"sha256": hashes}).encode(), PRIVATE)

    def _remove_torn_writes(self) -> None:
        """Delete temp files of writers that died mid-write: they may hold private keys.

        Writers hold the lock, so under the lock every temp file is orphaned.
        """
        for target in (self._keys, self._api_keys, self._jwks):
            for orphan in self.directory.glob(f".{target.name}.*"):
                orphan.unlink(missing_ok=True)

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)


_MISSING: Final = object()
"""What :func:`_read_json` returns for a file that does not exist: unlike a file holding ``null``."""


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, or :data:`_MISSING`; a file that holds ``null`` is corrupt.

    Raises:
        KeyStoreError: unreadable, not JSON, or ``null``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _MISSING
    except OSError as exc:
        raise KeyStoreError(f"{path} cannot be read: {exc.strerror}.") from exc
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise KeyStoreError(f"{path} is corrupt; refusing to use it.") from exc
    if document is None:
        raise KeyStoreError(f"{path} holds null, not a key store document; refusing to use it.")
    return document


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Temp file in the same folder, fsync, rename: a crash leaves old or new."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:  # pragma: no cover - a full disk; leave no stray temp file
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

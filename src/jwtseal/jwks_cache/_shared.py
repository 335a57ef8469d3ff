"""A cache directory that every process on a host shares, and that outlives them.

One JSON file per URI, replaced atomically, and one lock file per URI held
while a process fetches: N processes fetch a set once, a process that never
fetched serves what another did, and a restarted one needs no fetch. The
records hold only public keys, but whoever can write here chooses which keys
are trusted: the directory is created 0700 and refused when others may write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._json import dumps_ascii, loads_object
from .._locking import exclusive
from ..errors import JwksUnavailable

__all__ = ["SharedDirectory"]


class SharedDirectory:
    """Records by URI in ``path``, written atomically, fetched under a per-URI lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Made at the first fetch, so a process that never fetches leaves no trace.

        Raises ValueError: the directory exists and others may write to it.
        """
        self.path = Path(path)
        if self.path.exists() and self.path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ValueError(f"{self.path} is writable by other users: they could plant keys there.")

    def _file(self, uri: str, suffix: str) -> Path:
        return self.path / (hashlib.sha256(uri.encode()).hexdigest()[:40] + suffix)

    @contextlib.contextmanager
    def lock(self, uri: str, limit: float) -> Iterator[None]:
        """Hold the URI's lock, waiting at most ``limit`` seconds for another process.

        Raises:
            JwksUnavailable: another process held it longer than ``limit``.
        """
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(exclusive(self._file(uri, ".lock"), timeout=limit))
            except TimeoutError:
                raise JwksUnavailable("Another process has been fetching this key set too long.") from None
            yield

    def read(self, uri: str) -> dict[str, Any] | None:
        """The URI's record, or None when there is none or it is unreadable."""
        try:
            record = loads_object(self._file(uri, ".json").read_bytes())
        except (OSError, ValueError):
            return None
        return record if record.get("uri") == uri else None

    def write(self, uri: str, record: dict[str, Any]) -> None:
        """Replace the URI's record atomically: readers see the old one or the new one."""
        target = self._file(uri, ".json")
        fd, temporary = tempfile.mkstemp(dir=self.path, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(dumps_ascii({**record, "uri": uri}))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

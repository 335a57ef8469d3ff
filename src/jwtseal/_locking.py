"""An exclusive lock shared by the processes of one machine, on every platform.

Where ``fcntl`` exists (every POSIX system) the lock is ``flock`` on a lock
file: the kernel releases it when the holder closes the file or dies, so it
can never be left behind.

Where it does not (Windows), the lock is a lock file's existence:
:class:`LockFile` creates it with ``O_CREAT | O_EXCL`` (atomic on every local
file system) and removes it on release. A holder that died leaves it behind,
so a lock file older than ``stale_after`` seconds is presumed abandoned and
removed: the file store holds its lock for one read-modify-write of a few
small files, milliseconds, never a minute. (Two waiters that find the same
stale file at the same instant could each remove it, one just after the other
made its own; every write is atomic, so the files stay whole either way.)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # not POSIX: lock files instead (run by the tests with fcntl hidden)
    fcntl = None

__all__ = ["LockFile", "exclusive"]

PRIVATE = 0o600


def exclusive(path: Path, timeout: float | None = None) -> AbstractContextManager[None]:
    """Hold ``path`` as this machine's lock: ``flock`` where it exists, else :class:`LockFile`.

    ``timeout``: give up after that many seconds instead of waiting for as
    long as another holder keeps it.

    Raises:
        TimeoutError: ``timeout`` passed while another holder kept the lock.
    """
    return _flocked(path, timeout) if fcntl is not None else LockFile(path, timeout=timeout)


@contextmanager
def _flocked(path: Path, timeout: float | None) -> Iterator[None]:
    assert fcntl is not None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            _poll(lambda: _try_flock(fd), timeout)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _try_flock(fd: int) -> bool:
    assert fcntl is not None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _poll(attempt: Callable[[], bool], timeout: float | None) -> None:
    """Call ``attempt`` until it succeeds, pausing from 1 ms up to 50 ms between calls.

    Raises:
        TimeoutError: ``timeout`` seconds passed first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.001
    while not attempt():
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("another holder kept the lock")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class LockFile(AbstractContextManager[None]):
    """A lock that is held while ``path`` exists, for platforms without ``flock``.

    Waits (polling, up to every 50 ms) while another holder's file is fresh,
    at most ``timeout`` seconds when one is given; removes it once it is older
    than ``stale_after`` seconds.
    """

    def __init__(self, path: Path, *, stale_after: float = 30.0, timeout: float | None = None) -> None:
        self.path = path
        self.stale_after = stale_after
        self.timeout = timeout

    def __enter__(self) -> None:
        """Raises TimeoutError: ``timeout`` passed while another holder's file was fresh."""
        _poll(self._take, self.timeout)

    def __exit__(self, *exc_info: object) -> None:
        self.path.unlink(missing_ok=True)

    def _take(self) -> bool:
        if self._try_create():
            return True
        self._remove_if_stale()
        return False

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        except FileExistsError:
            return False
        try:
            os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
        finally:
            os.close(fd)
        return True

    def _remove_if_stale(self) -> None:
        with contextlib.suppress(FileNotFoundError):  # released meanwhile: the next try takes it
            if time.time() - self.path.stat().st_mtime > self.stale_after:
                self.path.unlink()

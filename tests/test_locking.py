"""The store's lock on every platform: flock where POSIX has it, lock files where it does not.

Windows has no ``fcntl``. The lock-file path runs here too: directly, and in
processes whose ``import fcntl`` fails as it does on Windows, which then use
the file store from ``import jwtseal`` on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from jwtseal import FileKeyStore
from jwtseal._locking import LockFile

WITHOUT_FCNTL = textwrap.dedent(
    """
    import json, sys
    sys.modules["fcntl"] = None  # what Windows has: import fcntl fails
    from pathlib import Path
    from jwtseal import ClaimsPolicy, FileKeyStore, Issuer, JWKSCache, KeyRing, RotationPolicy, Verifier

    data = Path(sys.argv[1])
    store = FileKeyStore(data)
    keyring = KeyRing(store, RotationPolicy(algorithm="EdDSA"))
    token = Issuer(keyring, ClaimsPolicy(issuer="https://i")).sign({"n": 1})
    with store.lock():
        held = (data / ".lock").exists()
    for _ in range(int(sys.argv[2])):  # a read-modify-write that only the lock keeps whole
        with store.lock():
            count = json.loads((data / "count").read_text()) if (data / "count").exists() else 0
            (data / "count").write_text(json.dumps(count + 1))
    # A shared JWKS cache directory locks each URI's fetch the same way (nothing listens on port 9).
    from jwtseal._netguard import AddressGuard
    from jwtseal.errors import JwksUnavailable
    try:
        JWKSCache(data / "jwks-cache").find("http://127.0.0.1:9/k", "kid", AddressGuard(("http://127.0.0.1:9/",)))
        fetched = "found"
    except JwksUnavailable as exc:
        fetched = exc.code
    print(json.dumps({
        "fcntl": sys.modules["fcntl"] is not None,
        "verified": Verifier(keyring).verify(token).claims["n"],
        "held": held,
        "fetched": fetched,
    }))
    """
)


def _run_without_fcntl(data: Path, increments: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_FCNTL, str(data), str(increments)], stdout=subprocess.PIPE, text=True
    )


def test_import_and_the_file_store_work_where_fcntl_does_not_exist(tmp_path: Path) -> None:
    workers = [_run_without_fcntl(tmp_path, 40) for _ in range(3)]

    reports = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0, 0]
    expected = {"fcntl": False, "verified": 1, "held": True, "fetched": "jwks_unavailable"}
    assert reports == [expected] * 3
    assert not (tmp_path / ".lock").exists()  # every holder removed its lock file
    assert list((tmp_path / "jwks-cache").glob("*.lock")) == []
    assert json.loads((tmp_path / "count").read_text()) == 120  # no increment lost between processes


def test_the_posix_store_lock_is_flock_on_a_lock_file_that_stays(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path)
    with store.lock():
        assert (tmp_path / ".lock").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".lock").exists()  # the file is only a handle: flock holds the lock
    with store.lock():  # released when the holder closed it: taken again at once
        pass


def test_a_lock_file_excludes_every_other_holder(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    counter.write_text("0")

    def increment() -> None:
        for _ in range(50):
            with LockFile(tmp_path / "lock"):
                value = int(counter.read_text())
                time.sleep(0)  # let another thread run inside, were the lock not held
                counter.write_text(str(value + 1))

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counter.read_text() == "200"
    assert not (tmp_path / "lock").exists()


def test_a_fresh_lock_file_is_waited_for_until_its_holder_removes_it(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.write_text("another process\n")  # held by someone else, just now
    released = threading.Event()
    seen: list[bool] = []

    def take() -> None:
        with LockFile(lock):
            seen.append(released.is_set())

    waiter = threading.Thread(target=take)
    waiter.start()
    time.sleep(0.2)  # the waiter polls meanwhile (no assertion on time)
    released.set()
    lock.unlink()
    waiter.join()

    assert seen == [True]


def test_a_lock_file_held_past_the_timeout_is_a_timeout_error(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.write_text("another process\n")  # held by someone else, and fresh

    with pytest.raises(TimeoutError), LockFile(lock, timeout=0.05):
        pass
    assert lock.read_text() == "another process\n"  # neither taken nor removed


def test_a_stale_lock_file_left_by_a_dead_holder_is_removed(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.write_text("a process that died\n")
    an_hour_ago = time.time() - 3600
    os.utime(lock, (an_hour_ago, an_hour_ago))

    with LockFile(lock, stale_after=30):
        assert lock.read_text() == f"{os.getpid()}\n"  # ours now
        assert lock.stat().st_mode & 0o777 == 0o600
    assert not lock.exists()

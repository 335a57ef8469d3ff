"""JWKSCache shared by threads, tasks and processes, against real origins on 127.0.0.1."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from jwtseal import JWKSCache, JwksUnavailable, SigningKey, TrustedIssuer, VerifiedToken, Verifier
from jwtseal._netguard import AddressGuard
from tests.conftest import Clock
from tests.remote_origin import Origin
from tests.tokens import sign_claims

NOW = 1_000.0


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("EdDSA")


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


def token(key: SigningKey, *, kid: str | None = None) -> str:
    header = {} if kid is None else {"kid": kid}
    return sign_claims(key, {"sub": "alice", "iss": "issuer", "iat": 0, "exp": 10**10}, **header)


def verifier_of(origin: Origin, cache: JWKSCache, clock: Clock) -> Verifier:
    return Verifier(issuers=[TrustedIssuer("issuer", jwks_uri=origin.url())], cache=cache, clock=clock)


def subjects_from_threads(count: int, verify: Callable[[], VerifiedToken]) -> list[str | None]:
    """``verify`` run on ``count`` threads released at once by a barrier."""
    start, subjects = threading.Barrier(count), list[str | None]()

    def run() -> None:
        start.wait()
        subjects.append(verify().subject)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return subjects


def test_thirty_two_threads_verifying_cold_share_one_fetch(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    verifier, jwt = verifier_of(origin, JWKSCache(), Clock(NOW)), token(key)
    assert subjects_from_threads(32, lambda: verifier.verify(jwt)) == ["alice"] * 32
    assert origin.count == 1


def test_a_hundred_tasks_and_eight_threads_verifying_cold_share_one_fetch(
    origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key)
    verifier, jwt = verifier_of(origin, JWKSCache(), Clock(NOW)), token(key)

    async def tasks_and_threads() -> list[str | None]:
        threaded = [asyncio.to_thread(lambda: verifier.verify(jwt).subject) for _ in range(8)]
        tasks = [verifier.averify(jwt) for _ in range(100)]
        verified = await asyncio.gather(*tasks)
        return [token.subject for token in verified] + list(await asyncio.gather(*threaded))

    assert asyncio.run(tasks_and_threads()) == ["alice"] * 108
    assert origin.count == 1


def test_sixteen_threads_each_with_its_own_event_loop_share_one_fetch(
    origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key)
    verifier, jwt = verifier_of(origin, JWKSCache(), Clock(NOW)), token(key)
    assert subjects_from_threads(16, lambda: asyncio.run(verifier.averify(jwt))) == ["alice"] * 16
    assert origin.count == 1


def test_a_set_is_refreshed_ahead_of_its_expiry_without_making_anyone_wait(
    origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key, Cache_Control="max-age=100")
    clock = Clock(NOW)
    cache = JWKSCache(clock=clock)
    verifier, jwt = verifier_of(origin, cache, clock), token(key)
    verifier.verify(jwt)
    clock.now = NOW + 74  # fresh, not yet due
    verifier.verify(jwt)
    assert origin.count == 1
    clock.now = NOW + 80  # due: the hit answers now, a refresh runs behind it
    assert verifier.verify(jwt).subject == "alice"
    wait_for(lambda: origin.count == 2 and cache.stats.fetches["127.0.0.1"] == 2)
    clock.now = NOW + 150  # past the first fetch's lifetime, within the refreshed one
    assert asyncio.run(verifier.averify(jwt)).subject == "alice"
    assert origin.count == 2


def test_a_failed_refresh_ahead_keeps_the_fresh_set(
    origin: Origin, key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    origin.serve_keys(key, Cache_Control="max-age=100")
    clock = Clock(NOW)
    cache = JWKSCache(clock=clock)
    verifier, jwt = verifier_of(origin, cache, clock), token(key)
    verifier.verify(jwt)
    origin.stop()
    clock.now = NOW + 80
    with caplog.at_level(logging.WARNING, logger="jwtseal.jwks_cache"):
        assert verifier.verify(jwt).subject == "alice"
        wait_for(lambda: cache.stats.failures["127.0.0.1"] == 1)
    assert "failed" in caplog.text
    assert verifier.verify(jwt).subject == "alice"  # in the cooldown: no second attempt
    assert cache.stats.fetches["127.0.0.1"] == 2


def test_export_and_load_carry_the_sets_to_a_cache_that_never_fetches(
    origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key, ETag='"v1"')
    clock = Clock(NOW)
    first = JWKSCache(clock=clock)
    verifier_of(origin, first, clock).verify(token(key))
    snapshot = json.loads(json.dumps(first.export()))
    origin.stop()
    second = JWKSCache(clock=clock)
    second.load(snapshot)
    assert verifier_of(origin, second, clock).verify(token(key)).subject == "alice"
    assert second.export() == snapshot
    second.load(snapshot)  # what is already as new is kept
    assert second.stats.fetches == {}


@pytest.mark.parametrize(
    "snapshot",
    [
        [],
        {"format": "other", "sets": []},
        {"format": "jwtseal-jwks-cache/1"},
        {"format": "jwtseal-jwks-cache/1", "sets": ["x"]},
        {"format": "jwtseal-jwks-cache/1", "sets": [{"uri": "u", "attempted_at": "now"}]},
        {
            "format": "jwtseal-jwks-cache/1",
            "sets": [{"uri": "u", "attempted_at": 1, "fetched_at": 1, "lifetime": 60, "jwks": {"keys": {}}}],
        },
        {"format": "jwtseal-jwks-cache/1", "sets": [{"uri": "u", "attempted_at": 1, "jwks": {"keys": []}}]},
    ],
)
def test_a_snapshot_that_is_not_one_is_refused(snapshot: Any) -> None:
    with pytest.raises(ValueError, match=r"snapshot|uri|not a cached key set"):
        JWKSCache().load(snapshot)


@pytest.mark.parametrize("waiter", ["thread", "task"])
def test_a_fetch_that_outlives_the_wait_is_unavailable(key: SigningKey, waiter: str) -> None:
    async def blocking_lookup(host: str, port: int) -> list[str]:
        time.sleep(2.5)  # noqa: ASYNC251 - blocks its thread on purpose: no timeout can cancel it
        return ["127.0.0.1"]

    guard = AddressGuard(("https://slow.example/",), blocking_lookup)
    cache = JWKSCache(guard=guard, timeout=0.2, clock=Clock(NOW))
    verifier = Verifier(cache.at("https://slow.example/jwks.json"), clock=Clock(NOW))
    wait = verifier.verify if waiter == "thread" else lambda jwt: asyncio.run(verifier.averify(jwt))
    with pytest.raises(JwksUnavailable, match=r"took longer than 1\.4 s"):  # the wait's bound (2 x 0.2 + 1)
        wait(token(key))


def test_a_failed_cold_fetch_cools_every_process_down(
    tmp_path: Path, origin: Origin, key: SigningKey
) -> None:
    origin.stop()
    directory, clock = tmp_path / "cache", Clock(NOW)
    for attempt in ("ConnectError", "cooldown"):  # the second cache is another process's
        with pytest.raises(JwksUnavailable, match=attempt):
            verifier_of(origin, JWKSCache(directory, clock=clock), clock).verify(token(key))


def test_hydrating_twice_fetches_once(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    cache = JWKSCache(guard=AddressGuard((origin.url("/"),)))
    cache.hydrate([origin.url()])
    cache.hydrate([origin.url()])
    asyncio.run(cache.ahydrate([origin.url()]))
    assert origin.count == 1


def test_a_snapshot_of_a_failed_attempt_carries_only_its_cooldown(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    cache = JWKSCache(clock=Clock(NOW))
    cache.load({"format": "jwtseal-jwks-cache/1", "sets": [{"uri": origin.url(), "attempted_at": NOW}]})
    with pytest.raises(JwksUnavailable, match="cooldown"):
        verifier_of(origin, cache, Clock(NOW)).verify(token(key))
    assert origin.count == 0


# Processes sharing one directory: each a real Python process (tests/jwks_cache_worker.py).


class Workers:
    """Worker processes on one cache directory, their clocks all read from one file."""

    def __init__(self, directory: Path, origin: Origin, clock_file: Path, count: int) -> None:
        self.directory, self.origin, self.clock_file = directory, origin, clock_file
        self.processes = [self.start() for _ in range(count)]

    def start(self) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "tests.jwks_cache_worker"]
        arguments = [str(self.directory), "issuer", self.origin.url(), str(self.clock_file)]
        process = subprocess.Popen(
            [*command, *arguments], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        assert json.loads(process.stdout.readline()) == {"ready": True}
        return process

    def set_clock(self, now: float) -> None:
        self.clock_file.write_text(str(now))

    def verify_all(self, jwt: str) -> list[dict[str, str]]:
        """Send the token to every worker first, then read: they verify at once."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(jwt + "\n")
            process.stdin.flush()
        answers = []
        for process in self.processes:
            assert process.stdout is not None
            answers.append(json.loads(process.stdout.readline()))
        return answers

    def stop(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.close()
            process.wait(30)
            process.stdout.close()
        self.processes = []


@pytest.fixture
def workers(tmp_path: Path, origin: Origin) -> Iterator[Any]:
    with ExitStack() as stack:

        def start(count: int) -> Workers:
            started = Workers(tmp_path / "cache", origin, tmp_path / "clock", 0)
            started.set_clock(NOW)
            started.processes = [started.start() for _ in range(count)]
            stack.callback(started.stop)
            return started

        yield start


def test_four_processes_fetch_once_serve_stale_together_then_fail_together(
    workers: Any, origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key, Cache_Control="max-age=100")
    group: Workers = workers(4)
    jwt = token(key)
    assert group.verify_all(jwt) == [{"sub": "alice"}] * 4
    assert origin.count == 1
    origin.stop()
    group.set_clock(NOW + 500)  # stale: each process tries at most once per shared cooldown
    assert group.verify_all(jwt) == [{"sub": "alice"}] * 4
    group.set_clock(NOW + 520)
    assert group.verify_all(jwt) == [{"sub": "alice"}] * 4
    group.set_clock(NOW + 100 + 1_000)  # past the stale bound
    assert group.verify_all(jwt) == [{"code": "jwks_unavailable"}] * 4


def test_a_restarted_process_verifies_with_no_fetch(workers: Any, origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    first: Workers = workers(1)
    assert first.verify_all(token(key)) == [{"sub": "alice"}]
    first.stop()
    origin.stop()
    again: Workers = workers(1)
    assert again.verify_all(token(key)) == [{"sub": "alice"}]
    assert origin.count == 1


def test_an_unknown_kid_refetches_once_per_cooldown_across_processes(
    workers: Any, origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key)
    group: Workers = workers(3)
    assert group.verify_all(token(key)) == [{"sub": "alice"}] * 3
    group.set_clock(NOW + 31)
    assert group.verify_all(token(key, kid="unknown")) == [{"code": "unknown_kid"}] * 3
    assert origin.count == 2


def test_a_corrupt_or_foreign_record_is_ignored_and_refetched(
    tmp_path: Path, origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key)
    directory = tmp_path / "cache"
    clock = Clock(NOW)
    verifier_of(origin, JWKSCache(directory, clock=clock), clock).verify(token(key))
    (record,) = directory.glob("*.json")
    for spoiled in (b"{not json", json.dumps({"uri": "https://elsewhere.example/jwks.json"}).encode()):
        record.write_bytes(spoiled)
        assert (
            verifier_of(origin, JWKSCache(directory, clock=clock), clock).verify(token(key)).subject
            == "alice"
        )
    assert origin.count == 3


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "open"
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)
    with pytest.raises(ValueError, match="writable by other users"):
        JWKSCache(directory)


def test_a_record_that_cannot_be_written_costs_only_a_warning(
    tmp_path: Path, origin: Origin, key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    origin.serve_keys(key)
    directory, clock = tmp_path / "cache", Clock(NOW)
    verifier_of(origin, JWKSCache(directory, clock=clock), clock).verify(token(key))
    (record,) = directory.glob("*.json")
    record.unlink()
    record.mkdir()  # where the record goes stands a directory: every write fails
    (record / "in-the-way").touch()
    with caplog.at_level(logging.WARNING, logger="jwtseal.jwks_cache"):
        assert (
            verifier_of(origin, JWKSCache(directory, clock=clock), clock).verify(token(key)).subject
            == "alice"
        )
    assert "Writing the JWKS cache" in caplog.text
    assert list(directory.glob(".*.tmp")) == []


def test_another_process_holding_the_lock_too_long_makes_the_set_unavailable(
    tmp_path: Path, origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key)
    directory, clock = tmp_path / "cache", Clock(NOW)
    verifier_of(origin, JWKSCache(directory, clock=clock), clock).verify(token(key))
    for record in directory.glob("*.json"):
        record.unlink()
    (lock,) = directory.glob("*.lock")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another process fetching would
    try:
        cold = verifier_of(origin, JWKSCache(directory, clock=clock, timeout=0.3), clock)
        with pytest.raises(JwksUnavailable, match="Another process"):
            cold.verify(token(key))
    finally:
        os.close(fd)
    assert origin.count == 1


def wait_for(condition: Any, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)

"""Faults an operator causes: a metrics directory removed, workers that die at start.

Each: the affected request gets its answer or a clear problem, every other
request its normal answer, and the log says what happened in JSON lines.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jwtseal import FileKeyStore, KeyRing, RotationPolicy
from jwtseal.http.metrics import Metrics
from jwtseal.http.routing import Response, shared_facts
from jwtseal.http.workers import MAX_START_FAILURES
from jwtseal.logs import configure_logging
from tests.servers import serve

API_KEY = "operator-faults-key"
AUTH = {"authorization": f"Bearer {API_KEY}"}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a log, each of which must be one JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def worker_pids(parent: int) -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()}


def count(metrics: Metrics, n: int) -> None:
    metrics([("/healthz", "GET", Response(200, b"ok"), 0.0, 0.001)] * n)


def healthz_total(text: str) -> int:
    prefix = 'jwtseal_http_requests_total{route="/healthz",method="GET",status="200"} '
    return sum(int(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(stream)
    yield stream
    configure_logging()


@pytest.fixture
def keyring(tmp_path: Path) -> KeyRing:
    """The key ring whose key ages every scrape reports."""
    return KeyRing(FileKeyStore(tmp_path / "data"), RotationPolicy(algorithm="EdDSA"))


@pytest.fixture
def metrics(tmp_path: Path, keyring: KeyRing) -> Metrics:
    metrics = Metrics(directory=tmp_path / "metrics")
    metrics.track_keys(keyring)
    return metrics


def test_a_batch_of_many_kinds_is_counted_exactly_each_bucket_holding_its_upper_bound(
    metrics: Metrics,
) -> None:
    ok, issued = shared_facts(kid="k1", alg="ES256"), shared_facts(kid="k1", alg="ES256")
    expired = shared_facts(code="expired")
    answers = [
        ("/decode", "POST", Response(200, b"{}", facts=ok), 0.0005),  # exactly a bucket's bound
        ("/decode", "POST", Response(401, b"{}", facts=expired), 0.0005000001),
        ("/decode", "POST", Response(200, b"{}", facts=ok), 3.0),  # past the last bound
        ("/encode", "POST", Response(200, b"{}", facts=issued), 0.001),
        ("/encode", "POST", Response(401, b"{}", facts=shared_facts(code="unauthorized")), 0.001),
        ("/healthz", "BREW", Response(200, b"{}"), 0.0),
    ]
    metrics([(route, method, response, 0.0, seconds) for route, method, response, seconds in answers])
    text = metrics.exposition().decode()

    def sample(name: str, value: float) -> bool:
        return f"{name} {value}" in text or f"{name} {int(value)}" in text

    assert issued is ok  # one Facts per content
    assert sample('jwtseal_verifications_total{result="ok"}', 2)
    assert sample('jwtseal_verifications_total{result="expired"}', 1)
    assert sample('jwtseal_tokens_issued_total{kid="k1",alg="ES256"}', 1)
    assert sample('jwtseal_http_requests_total{route="/decode",method="POST",status="200"}', 2)
    assert sample('jwtseal_http_requests_total{route="/healthz",method="OTHER",status="200"}', 1)
    bucket = "jwtseal_http_request_duration_seconds_bucket"
    assert sample(f'{bucket}{{route="/decode",le="0.0005"}}', 1)
    assert sample(f'{bucket}{{route="/decode",le="0.001"}}', 2)
    assert sample(f'{bucket}{{route="/decode",le="2.5"}}', 2)
    assert sample(f'{bucket}{{route="/decode",le="+Inf"}}', 3)
    assert sample(f'{bucket}{{route="/encode",le="0.001"}}', 2)
    assert sample(f'{bucket}{{route="/healthz",le="0.0005"}}', 1)


def test_a_removed_metrics_directory_is_made_again_and_logged_once(
    metrics: Metrics, log: io.StringIO
) -> None:
    directory = metrics_dir(metrics)
    count(metrics, 3)
    assert healthz_total(metrics.exposition().decode()) == 3
    shutil.rmtree(directory)
    count(metrics, 2)
    assert healthz_total(metrics.exposition().decode()) == 5
    assert (directory / f"{os.getpid()}.json").exists()
    shutil.rmtree(directory)
    assert healthz_total(metrics.exposition().decode()) == 5
    events = [line["event"] for line in json_lines(log.getvalue())]
    assert events == ["metrics directory was missing; made it again"]


def test_a_metrics_directory_that_cannot_be_made_leaves_this_process_counts(
    tmp_path: Path, keyring: KeyRing, log: io.StringIO
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    metrics = Metrics(directory=tmp_path / "not-a-directory" / "metrics")
    metrics.track_keys(keyring)
    count(metrics, 4)
    assert healthz_total(metrics.exposition().decode()) == 4
    metrics.save()
    assert healthz_total(metrics.exposition().decode()) == 4
    lines = json_lines(log.getvalue())
    failures = [line for line in lines if line["event"].startswith("metrics snapshot not written")]
    assert len(failures) == 1
    assert failures[0]["exception"] in ("NotADirectoryError", "FileExistsError")
    assert "Traceback" in failures[0]["traceback"]


def test_a_torn_snapshot_of_another_worker_is_left_out(metrics: Metrics) -> None:
    directory = metrics_dir(metrics)
    count(metrics, 2)
    metrics.save()
    (directory / "999999999.json").write_text('{"counts": ')
    assert healthz_total(metrics.exposition().decode()) == 2


def metrics_dir(metrics: Metrics) -> Path:
    directory = metrics._directory  # the test removes what the metrics write to
    assert directory is not None
    return directory


def test_serve_answers_metrics_after_its_metrics_directory_is_removed(tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    with serve(
        tmp_path, "--workers", "2", JWTSEAL_API_KEYS=API_KEY, JWTSEAL_METRICS_DIR=str(shared)
    ) as server:
        for _ in range(6):
            with httpx.Client() as fresh:
                assert fresh.get(f"{server.url}/healthz").status_code == 200
        shutil.rmtree(shared)
        for _ in range(6):
            with httpx.Client() as fresh:  # new connections: both workers scrape
                scrape = fresh.get(f"{server.url}/metrics")
                assert scrape.status_code == 200
                assert "jwtseal_http_requests_total" in scrape.text
                assert fresh.post(f"{server.url}/encode", json={}, headers=AUTH).status_code == 200
        assert shared.is_dir()
    lines = json_lines(server.logs())
    remade = [line for line in lines if line["event"] == "metrics directory was missing; made it again"]
    assert 1 <= len(remade) <= 2  # at most once per worker
    assert not [line for line in lines if line.get("status") == 500]


def test_workers_that_keep_dying_at_start_stop_the_server_with_one_json_line(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "2", JWTSEAL_API_KEYS=API_KEY) as server:
        deadline = time.monotonic() + 60
        while server.logs().count('"event": "worker started"') < 2:  # both hold a good key set
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        (tmp_path / "data" / "keys.json").write_text("{ torn")  # every new worker now fails to start
        victim = min(worker_pids(server.process.pid))
        os.kill(victim, signal.SIGKILL)
        answered, deadline = 0, time.monotonic() + 120
        while victim in worker_pids(server.process.pid):  # reaped: no connection can reach it any more
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while server.process.poll() is None:
            try:
                with httpx.Client() as fresh:  # the surviving worker answers from its last good key set
                    assert fresh.get(f"{server.url}/.well-known/jwks.json").status_code == 200
            except httpx.TransportError:  # the server is giving up: its last worker is stopping
                break
            answered += 1
            assert time.monotonic() < deadline, "the server did not give up"
            time.sleep(0.2)
        assert server.process.wait(60) == 1
    assert answered >= 5  # while the restarts backed off, every request got its normal answer
    lines = json_lines(server.logs())  # every line JSON: no raw traceback anywhere
    events = [line["event"] for line in lines]
    assert events.count("workers keep dying at start; stopping the server") == 1
    assert events.count("worker failed to start") == MAX_START_FAILURES
    failed = [line for line in lines if line["event"] == "worker failed to start"]
    assert {line["exception"] for line in failed} == {"KeyStoreError"}
    delays = [
        line["restart_in_seconds"] for line in lines if line["event"] == "worker exited; starting another"
    ]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0]  # the killed worker had served: replaced at once
    final = next(line for line in lines if line["event"].startswith("workers keep dying"))
    assert final["level"] == "error"
    assert final["deaths_at_start_in_a_row"] == MAX_START_FAILURES

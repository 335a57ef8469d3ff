"""Running it in production: metrics across workers, logs without secrets, readiness, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from jwtseal import SigningKey
from jwtseal.cli import main
from jwtseal.http.journal import FLUSH_INTERVAL
from jwtseal.http.metrics import SAVE_INTERVAL
from jwtseal.settings import SETTINGS
from tests.conftest import RunningService, StartService
from tests.remote_origin import Origin
from tests.servers import serve
from tests.tokens import sign_claims

API_KEY = "ops-api-key-not-for-logs"
AUTH = {"authorization": f"Bearer {API_KEY}"}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample.startswith(name) and not line.startswith("#"):
            found = sample[len(name) :]
            found_labels = ",".join(sorted(found.strip("{}").split(","))) if found else ""
            if found_labels == wanted:
                return float(value)
    return 0.0


def test_metrics_add_up_across_two_workers(tmp_path: Path, start_service: StartService) -> None:
    origin = start_service()
    foreign = origin.token()
    with serve(
        tmp_path, "--workers", "2", JWTSEAL_API_KEYS=API_KEY, JWTSEAL_TRUSTED_JWKS_URIS=origin.url
    ) as server:
        tokens = []
        for _ in range(12):
            with httpx.Client() as fresh:  # a new connection each time: spread over the workers
                tokens.append(fresh.post(f"{server.url}/encode", json={}, headers=AUTH).json())
        for _ in range(5):
            with httpx.Client() as fresh:
                fresh.post(f"{server.url}/decode", json={"token": tokens[0]["token"][:-4] + "AAAA"})
        for _ in range(3):
            with httpx.Client() as fresh:
                fresh.post(f"{server.url}/decode", json={"token": "not.a.token"})
        jwks_uri = f"{origin.url}/.well-known/jwks.json"
        for _ in range(4):
            with httpx.Client() as fresh:
                answer = fresh.post(f"{server.url}/decode", json={"token": foreign, "jwksUri": jwks_uri})
                assert answer.status_code == 200
        # each worker counts its answers within FLUSH_INTERVAL and shares them within SAVE_INTERVAL
        time.sleep((FLUSH_INTERVAL + SAVE_INTERVAL) * 3)
        scrapes = [httpx.get(f"{server.url}/metrics").text for _ in range(4)]
    kid, alg = tokens[0]["kid"], tokens[0]["alg"]
    for text in scrapes:
        assert metric(text, "jwtseal_tokens_issued_total", kid=kid, alg=alg) == 12
        assert metric(text, "jwtseal_verifications_total", result="bad_signature") == 5
        assert metric(text, "jwtseal_verifications_total", result="malformed_token") == 3
        assert metric(text, "jwtseal_verifications_total", result="ok") == 4
        assert metric(text, "jwtseal_http_requests_total", route="/encode", method="POST", status="200") == 12
        fetches = metric(text, "jwtseal_remote_jwks_events_total", event="fetch", origin="127.0.0.1")
        hits = metric(text, "jwtseal_remote_jwks_events_total", event="hit", origin="127.0.0.1")
        assert fetches == 1  # the workers share one JWKS cache in the data dir
        assert fetches + hits == 4
        assert metric(text, "jwtseal_published_keys", state="current") == 1
        assert 0 < metric(text, "jwtseal_seconds_until_rotation") <= 2_592_000
        assert metric(text, "jwtseal_current_key_age_seconds") >= 0
        assert metric(text, "jwtseal_http_request_duration_seconds_count", route="/encode") == 12
        assert metric(text, "jwtseal_http_request_duration_seconds_bucket", route="/encode", le="+Inf") == 12
    families = {family.name: family for family in text_string_to_metric_families(scrapes[0])}
    assert families["jwtseal_http_request_duration_seconds"].type == "histogram"
    assert families["jwtseal_tokens_issued"].type == "counter"
    assert families["jwtseal_published_keys"].type == "gauge"
    print(scrapes[0][:2000])


def test_either_worker_verifies_with_the_set_another_fetched_after_the_origin_goes_down(
    tmp_path: Path,
) -> None:
    key = SigningKey.generate("ES256")
    with Origin() as origin:
        origin.serve_keys(key)
        foreign = sign_claims(key, {"sub": "alice", "exp": int(time.time()) + 600})
        body = {"token": foreign, "jwksUri": origin.url()}
        trusted = origin.url("/")
        with serve(tmp_path, "--workers", "2", JWTSEAL_TRUSTED_JWKS_URIS=trusted) as server:
            assert httpx.post(f"{server.url}/decode", json=body).status_code == 200
            origin.stop()
            answers = []
            for _ in range(24):
                with httpx.Client() as fresh:  # a new connection each time: spread over the workers
                    answers.append(fresh.post(f"{server.url}/decode", json=body).status_code)
            time.sleep((FLUSH_INTERVAL + SAVE_INTERVAL) * 3)
            text = httpx.get(f"{server.url}/metrics").text
        assert answers == [200] * 24
        assert origin.count == 1
        assert metric(text, "jwtseal_remote_jwks_events_total", event="fetch", origin="127.0.0.1") == 1


def test_every_request_of_a_burst_is_counted(running: RunningService) -> None:
    burst = 1_500  # pipelined in one write: far more than one batch of pending observations
    request = b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n"
    address = ("127.0.0.1", running.settings.port)
    with socket.create_connection(address, timeout=10) as client:
        client.sendall(request * (burst - 1) + request.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n"))
        answers = b"".join(iter(lambda: client.recv(65_536), b""))
    assert answers.count(b"HTTP/1.1 200 OK") == burst
    text = running.client.get("/metrics").text
    assert metric(text, "jwtseal_http_requests_total", route="/healthz", method="GET", status="200") == burst


def test_any_path_counts_as_one_unmatched_route_in_metrics_prometheus_can_parse(
    running: RunningService,
) -> None:
    for path in ('/a"b', "/a\\b", "/x%0Ay", "/nothing-here"):
        running.client.get(path)
    running.client.post("/decode", json={"token": running.token()[:-4] + "AAAA"})
    text = running.client.get("/metrics").text
    samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    requests = [sample for sample in samples if sample.name == "jwtseal_http_requests_total"]
    assert {"route": "unmatched", "method": "GET", "status": "404"} in [sample.labels for sample in requests]
    assert sum(sample.value for sample in requests if sample.labels["route"] == "unmatched") == 4
    assert any(sample.labels == {"result": "bad_signature"} and sample.value == 1 for sample in samples)


def test_logs_are_json_lines_without_any_secret(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "1", JWTSEAL_API_KEYS=API_KEY) as server:
        client = httpx.Client(base_url=server.url)
        with client:
            token = client.post("/encode", json={"groceryList": ["milk"]}, headers=AUTH).json()["token"]
            client.post("/decode", json={"token": token})
            head, _, signature = token.rpartition(".")
            swapped = "B" if signature[10] == "A" else "A"
            client.post("/decode", json={"token": f"{head}.{signature[:10]}{swapped}{signature[11:]}"})
            client.post("/encode", json={"iss": "x"}, headers=AUTH)
            client.post("/encode", json={}, headers={"authorization": "Bearer wrong-secret-key"})
            client.post("/decode", content=b"{" * 70_000)
            for path in ("/.well-known/jwks.json", "/keys", "/healthz", "/readyz", "/metrics", "/", "/nope"):
                client.get(path)
        CliRunner().invoke(main, ["keys", "rotate", "--data-dir", str(tmp_path / "data")])
        time.sleep(1.5)
        client = httpx.Client(base_url=server.url)
        with client:
            client.post("/encode", json={}, headers=AUTH)
    logs = server.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) >= 14
    assert {"route", "method", "status", "duration_ms"} <= set(requests[0])
    assert any(line.get("code") == "bad_signature" for line in requests)
    assert any(line.get("kid") and line["route"] == "/encode" for line in requests)
    stored = json.loads((tmp_path / "data" / "keys.json").read_text())
    secrets = [token, token.split(".")[2], API_KEY, "wrong-secret-key", "-----BEGIN"]
    secrets += [entry["jwk"][m] for entry in stored["keys"] for m in ("d", "p", "q") if m in entry["jwk"]]
    for secret in secrets:
        assert secret not in logs


def test_readyz_fails_when_the_store_becomes_unreadable(running: RunningService) -> None:
    assert running.client.get("/readyz").json()["status"] == "ready"
    keys = running.settings.data_dir / "keys.json"
    keys.rename(keys.with_suffix(".moved"))
    keys.mkdir()
    answer = running.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["code"] == "key_store_error"
    keys.rmdir()
    time.sleep(0.6)
    assert running.client.get("/readyz").status_code == 503  # no key set at all, and none made
    assert not keys.exists()
    keys.with_suffix(".moved").rename(keys)
    assert running.client.get("/readyz").status_code == 200


def test_sigterm_under_load_finishes_every_accepted_request(tmp_path: Path) -> None:
    """Every request the service started is answered in full, then it exits 0.

    Connections still waiting in the kernel's listen backlog when the listener
    closes are reset before the service reads them: those requests never
    started, and a client retries them like any refused connection.
    """
    with serve(tmp_path, "--workers", "1", JWTSEAL_API_KEYS=API_KEY) as server:
        answered: list[int] = []
        never_started: list[str] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    with httpx.Client(headers={"connection": "close"}) as client:
                        response = client.post(f"{server.url}/encode", json={}, headers=AUTH)
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                    never_started.append(repr(exc))
                    return
                answered.append(response.status_code)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30  # under load on a shared machine RS256 is slow: count, not time
        while len(answered) <= 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        exit_code = server.process.wait(20)
        stop.set()
        for thread in threads:
            thread.join(20)
        logs = server.logs()
    started = [line for line in logs.splitlines() if '"route": "/encode"' in line]
    assert exit_code == 0
    assert set(answered) == {200}
    assert len(answered) == len(started) > 10
    assert len(never_started) <= len(threads)


def test_serve_help_documents_every_setting() -> None:
    text = CliRunner().invoke(main, ["serve", "--help"]).output
    for setting in SETTINGS:
        assert setting.variable in text
        assert f"[default: {setting.shown_default}]" in " ".join(text.split())
    assert "--workers" in text


def test_readme_settings_table_matches_the_code() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = re.findall(r"^\| `(JWTSEAL_\w+)` \| (.+?) \| (.+?) \|$", readme, re.MULTILINE)
    assert rows == [(s.variable, s.meaning, s.shown_default) for s in SETTINGS]


def _worker_pids(parent: int) -> set[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children}


def test_a_worker_that_dies_is_replaced_and_the_service_keeps_answering(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "2", JWTSEAL_API_KEYS=API_KEY) as server:
        workers = _worker_pids(server.process.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(_worker_pids(server.process.pid) - {victim}) < 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.1)
        for _ in range(8):
            with httpx.Client() as fresh:  # new connections: whichever worker accepts must answer
                assert fresh.get(f"{server.url}/healthz").status_code == 200
        assert "worker exited; starting another" in server.logs()

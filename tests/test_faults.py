"""Faults of ours, injected into a real server on loopback: the request they hit, and no other.

Each test breaks one part (an observer, the log sink, the key store) while
several clients talk to the service, and checks that the affected request
gets a 500 or its clear problem, every other request its normal answer, and
the log one line with the exception.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from jwtseal.apikeys import ApiKeys
from jwtseal.http import create_app
from jwtseal.http.journal import MAX_RECORDS, Journal, Record
from jwtseal.http.routing import Response, Router
from jwtseal.service import Service
from jwtseal.settings import Settings
from jwtseal.stores.file import FileKeyStore
from tests.conftest import API_KEY, bound_socket, serve_in_thread


class FullStream(io.TextIOBase):
    """A log sink with no space left: every write fails as a full disk does."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


class ClosedStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.close()


def get(path: str) -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nhost: t\r\n\r\n"


def exchange(url: str, raw: bytes, count: int) -> list[tuple[int, bytes]]:
    """Send ``raw`` on one connection; ``count`` answers as (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    found: list[tuple[int, bytes]] = []
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(raw)
        buffer = b""
        while len(found) < count:
            head, separator, rest = buffer.partition(b"\r\n\r\n")
            if separator:
                length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    found.append((int(head.split()[1]), rest[:length]))
                    buffer = rest[length:]
                    continue
            chunk = client.recv(65_536)
            assert chunk, f"closed after {len(found)} answers"
            buffer += chunk
    return found


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_an_observer_that_raises_changes_no_answer_on_any_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing(records: list[Record]) -> None:
        if any(route == "/fails" for route, *_ in records):
            raise RuntimeError("observer bug")

    router = Router(
        {
            "/ok": {"GET": lambda request: Response(200, b'{"ok":true}')},
            "/fails": {"GET": lambda request: Response(200, b'{"fails":false}')},
        },
        journal=Journal([failing]),
    )
    with caplog.at_level(logging.ERROR, logger="jwtseal"), serve_in_thread(router, bound_socket()) as url:
        first = exchange(url, get("/ok") + get("/fails") + get("/ok"), 3)
        second = exchange(url, get("/ok") * 2, 2)
    assert first == [(200, b'{"ok":true}'), (200, b'{"fails":false}'), (200, b'{"ok":true}')]
    assert second == [(200, b'{"ok":true}')] * 2
    [record] = failures(caplog)
    assert record.getMessage() == "observer failed"
    assert record.fields["error_type"] == "RuntimeError"  # type: ignore[attr-defined]
    assert record.fields["error"] == "observer bug"  # type: ignore[attr-defined]


@pytest.fixture
def service_router(tmp_path: Path) -> Router:
    settings = Settings.load({"JWTSEAL_DATA_DIR": str(tmp_path)})
    return create_app(settings, service=Service.open(settings), api_keys=ApiKeys.from_keys([API_KEY]))


@pytest.mark.parametrize("sink", [FullStream, ClosedStream], ids=["full", "closed"])
def test_a_log_sink_that_cannot_be_written_changes_no_answer(
    monkeypatch: pytest.MonkeyPatch, service_router: Router, sink: type[io.TextIOBase]
) -> None:
    count = MAX_RECORDS + 8  # past a batch of the journal, written while requests are answered
    monkeypatch.setattr(sys, "stderr", sink())
    with serve_in_thread(service_router, bound_socket()) as url:
        many = exchange(url, get("/healthz") * count, count)
        other = exchange(url, get("/healthz") + b"GARBAGE\r\n\r\n", 2)
    assert {status for status, _ in many} == {200}
    assert [status for status, _ in other] == [200, 400]


class FailingStore(FileKeyStore):
    """A file store whose disk goes away while the service runs."""

    failing = False

    def load(self) -> Any | None:
        if self.failing:
            raise OSError(errno.EIO, "Input/output error")
        return super().load()


def test_a_store_that_fails_mid_request_fails_that_request_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.load({"JWTSEAL_DATA_DIR": str(tmp_path)})
    store = FailingStore(tmp_path)
    router = create_app(
        settings, service=Service.open(settings, store), api_keys=ApiKeys.from_keys([API_KEY])
    )
    with caplog.at_level(logging.ERROR, logger="jwtseal"), serve_in_thread(router, bound_socket()) as url:
        assert exchange(url, get("/readyz"), 1)[0][0] == 200
        store.failing = True
        found = exchange(url, get("/healthz") + get("/readyz") + get("/healthz"), 3)
        neighbour = exchange(url, get("/healthz"), 1)
        store.failing = False
        after = exchange(url, get("/readyz"), 1)
    statuses = [status for status, _ in found]
    assert statuses[0] == statuses[2] == 200
    assert statuses[1] in (500, 503)
    assert json.loads(found[1][1])["code"] in ("jwtseal_error", "key_store_error")
    assert neighbour[0][0] == after[0][0] == 200
    [record] = failures(caplog)
    assert record.fields["error_type"] == "OSError"  # type: ignore[attr-defined]
    assert "Input/output error" in record.fields["error"]  # type: ignore[attr-defined]
    assert "Traceback" in record.fields["traceback"]  # type: ignore[attr-defined]

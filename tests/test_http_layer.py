"""The HTTP layer itself: a bug still answers problem+json; the access log batches."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from jwtseal import BadSignature, Expired
from jwtseal.http.batch import CryptoBatch
from jwtseal.http.journal import MAX_RECORDS, Journal, Record
from jwtseal.http.observers import AccessLog
from jwtseal.http.routing import Request, Response, Router, shared_facts
from tests.conftest import bound_socket, serve_in_thread


def _broken(request: Request) -> Response:
    raise RuntimeError("a bug, with internals: /secret/path")


async def _broken_later(request: Request) -> Response:
    await asyncio.sleep(0)
    raise RuntimeError("a bug, with internals: /secret/path")


@pytest.mark.parametrize("path", ["/broken", "/broken-later"])
def test_an_unexpected_error_is_a_500_problem_without_internals(
    caplog: pytest.LogCaptureFixture, path: str
) -> None:
    app = Router({"/broken": {"GET": _broken}, "/broken-later": {"GET": _broken_later}})

    with caplog.at_level("ERROR", logger="jwtseal.http"), serve_in_thread(app, bound_socket()) as url:
        response = httpx.get(url + path)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "jwtseal_error"
    assert "secret" not in response.text
    assert "unhandled error" in caplog.text


def record(route: str, response: Response, seconds: float, method: str = "POST") -> Record:
    ended = time.perf_counter()
    return (route, method, response, ended - seconds, ended)


def test_the_journal_hands_the_access_log_whole_batches_and_never_loses_a_line_at_shutdown() -> None:
    stream = io.StringIO()
    journal = Journal([AccessLog(stream)])
    answer = Response(401, b"{}", facts=shared_facts(code="bad_signature"))
    for _ in range(MAX_RECORDS):
        journal.records.append(record("/decode", answer, 0.001))
    assert stream.getvalue() == ""  # recorded, nothing written per request
    journal.flush()
    assert stream.getvalue().count("\n") == MAX_RECORDS  # a whole batch written at once
    journal.records.append(record("/encode", Response(200, b"{}", facts=shared_facts(kid="k1")), 0.002))

    async def shutdown_soon() -> None:
        task = asyncio.create_task(journal.run())
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(shutdown_soon())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == MAX_RECORDS + 1
    assert lines[0]["code"] == "bad_signature"
    assert lines[-1] == {**lines[-1], "route": "/encode", "status": 200, "kid": "k1", "event": "request"}
    assert journal.records == []


def test_access_log_lines_stay_exact_through_more_routes_and_facts_than_it_keeps_formatted() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)
    kinds = 2_500  # past the formatted parts kept, twice over: each line must still be its own
    started = time.perf_counter()
    records: list[Record] = [
        (
            f"/route-{n}",
            "POST",
            Response(200, b"{}", facts=shared_facts(kid=f"kid-{n}", alg="ES256")),
            started,
            started + n / 1e6,
        )
        for n in range(kinds)
    ]
    log(records)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["route"], line["kid"], line["duration_ms"]) for line in lines] == [
        (f"/route-{n}", f"kid-{n}", round(n / 1e3, 3)) for n in range(kinds)
    ]
    assert {line["alg"] for line in lines} == {"ES256"}
    assert all(line["ts"].endswith("+00:00") and len(line["ts"]) == 29 for line in lines)


def test_access_log_timestamps_are_the_wall_clock_times_answers_were_written() -> None:
    stream = io.StringIO()
    answer = Response(200, b"{}")
    now, wall = time.perf_counter(), time.time()
    offsets = [-2.5, -1.002, -1.0, -0.003, -0.001, 0.0]  # oldest first, across seconds and milliseconds
    AccessLog(stream)([("/healthz", "GET", answer, now + offset, now + offset) for offset in offsets])
    stamps = [
        datetime.fromisoformat(json.loads(line)["ts"]).timestamp() for line in stream.getvalue().splitlines()
    ]
    assert len(stamps) == len(offsets)
    assert stamps == sorted(stamps)
    for stamp, offset in zip(stamps, offsets, strict=True):
        assert wall + offset - 0.05 < stamp <= wall + offset + 0.05
    assert len(set(stamps)) == len(offsets)  # a millisecond or more apart: another timestamp


def test_a_batch_runs_every_work_before_any_finish_and_answers_failures_as_problems() -> None:
    order: list[str] = []

    def work(name: str) -> Callable[[], str]:
        def run() -> str:
            order.append(f"work {name}")
            if name == "forged":
                raise BadSignature
            return name

        return run

    def finish(result: str) -> Response:
        order.append(f"finish {result}")
        if result == "old":
            raise Expired
        return Response(200, result.encode())

    async def one_turn() -> list[Response]:
        batch, answers = CryptoBatch(), list[Response]()
        for name in ("a", "forged", "old", "b"):  # submitted in one turn, as by four connections
            batch.submit(work(name), finish, "/decode").then(answers.append)
        await asyncio.sleep(0)
        return answers

    answers = asyncio.run(one_turn())
    assert order == ["work a", "work forged", "work old", "work b", "finish a", "finish old", "finish b"]
    assert [(answer.status, answer.facts.get("code")) for answer in answers] == [
        (200, None),
        (401, "bad_signature"),
        (401, "expired"),
        (200, None),
    ]

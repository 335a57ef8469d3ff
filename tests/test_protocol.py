"""The HTTP/1.1 state machine without a socket: bytes fed in, the bytes it writes read back.

A fake transport stands where asyncio's would; each test feeds a connection
raw bytes, as a client (or an attacker) would send them, and reads what it
wrote, whether it closed, and whether it still reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tracemalloc
from typing import Any

import pytest

from jwtseal.http.journal import MAX_RECORDS, Journal, Record
from jwtseal.http.protocol import (
    MAX_HEAD,
    MAX_HEADERS,
    MAX_PIPELINED,
    SEND_TIMEOUT,
    Connection,
    ConnectionState,
)
from jwtseal.http.reader import Refused, RequestReader
from jwtseal.http.routing import MAX_BODY, Request, Response, Router


class FakeTransport:
    """What a :class:`Connection` needs of an ``asyncio.Transport``, kept in memory."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str) -> None:
        return None  # no socket behind it


def _headers(request: Request) -> Response:
    names = sorted(name.decode() for name in request.headers)
    return Response(200, json.dumps(names).encode())


ROUTER = Router(
    {
        "/ok": {"GET": lambda request: Response(200, b'{"ok":true}')},
        "/echo": {"POST": lambda request: Response(200, request.body)},
        "/headers": {"POST": _headers, "GET": _headers},
        "/path": {"GET": lambda request: Response(200, json.dumps(request.path).encode())},
        "/unknown-status": {"GET": lambda request: Response(999, b"{}")},
    }
)


def connect(router: Router = ROUTER) -> tuple[Connection, FakeTransport]:
    connection = Connection(ConnectionState(router))
    transport = FakeTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    return connection, transport


def exchange(*chunks: bytes, router: Router = ROUTER) -> tuple[list[tuple[bytes, bytes]], FakeTransport]:
    """Feed ``chunks`` to a fresh connection; the answers it wrote, as (head, body)."""
    connection, transport = connect(router)
    for chunk in chunks:
        connection.data_received(chunk)
    return answers(bytes(transport.written)), transport


def answers(raw: bytes) -> list[tuple[bytes, bytes]]:
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
        found.append((head, rest[:length]))
        raw = rest[length:]
    return found


def status(head: bytes) -> int:
    return int(head.split()[1])


def code(body: bytes) -> Any:
    return json.loads(body)["code"]


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nhost: t\r\n" + extra + b"\r\n"


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n%s\r\n%s" % (
        path.encode(),
        len(body),
        extra,
        body,
    )


# finding 1: every valid request ahead of a bad one is answered, then the error


@pytest.mark.parametrize(
    ("bad", "refusal"),
    [
        (b"GARBAGE\r\n\r\n", (400, "invalid_request")),
        (post("/echo", b"x" * 70_000), (413, "payload_too_large")),
    ],
    ids=["garbage", "body-too-large"],
)
def test_a_valid_request_pipelined_ahead_of_a_bad_one_is_answered_first(
    bad: bytes, refusal: tuple[int, str]
) -> None:
    found, transport = exchange(post("/echo", b'{"a":1}') + bad)
    [(first_head, first_body), (second_head, second_body)] = found
    assert (status(first_head), first_body) == (200, b'{"a":1}')
    assert b"connection: close" not in first_head
    assert (status(second_head), code(second_body)) == refusal
    assert b"connection: close" in second_head
    assert transport.closed


def test_more_requests_in_one_packet_than_may_wait_are_all_answered_in_order() -> None:
    count = MAX_PIPELINED + 6
    connection, transport = connect()
    connection.pause_writing()  # the client is not reading yet: nothing is answered, reading stops
    connection.data_received(b"".join(post("/echo", b"%d" % number) for number in range(count)))
    assert transport.written == b""
    assert not transport.reading
    connection.resume_writing()
    assert [body for _, body in answers(bytes(transport.written))] == [b"%d" % n for n in range(count)]
    assert transport.reading
    assert not transport.closed


# finding 2: trailers are dropped, never merged into the headers


def test_chunked_trailers_never_become_headers() -> None:
    chunked = b"POST /headers HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
    trailer = b"2\r\n{}\r\n0\r\nauthorization: Bearer KEY\r\nx-extra: 1\r\n\r\n"
    [(head, body)] = exchange(chunked + trailer)[0]
    assert status(head) == 200
    assert json.loads(body) == ["host", "transfer-encoding"]


def test_a_trailer_section_that_never_ends_is_refused_like_a_head_that_never_ends() -> None:
    connection, transport = connect()
    chunked = (
        b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nx-trailer: "
    )
    connection.data_received(chunked)
    tracemalloc.start()
    try:
        sent = 0
        while not transport.closed and sent < 100 * MAX_HEAD:  # bounded: fails rather than hangs
            connection.data_received(b"a" * 1024)
            sent += 1024
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [(head, body)] = answers(bytes(transport.written))
    assert (status(head), code(body)) == (431, "headers_too_large")
    assert sent <= MAX_HEAD + 1024
    assert peak < 4 * MAX_HEAD


CHUNKED = b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"


@pytest.mark.parametrize(
    "trailers",
    [
        b"".join(b"x-%d: %s\r\n" % (n, b"a" * 6_000) for n in range(3)),  # 18,000 bytes
        b"".join(b"x-%d: 1\r\n" % n for n in range(MAX_HEADERS + 1)),
        b"x-same: 1\r\n" * (MAX_HEADERS + 1),
    ],
    ids=["bytes", "count", "repeated"],
)
def test_trailers_are_held_to_the_limits_of_a_head(trailers: bytes) -> None:
    [(head, body)] = exchange(CHUNKED + trailers + b"\r\n")[0]
    assert (status(head), code(body)) == (431, "headers_too_large")


def test_a_field_named_again_counts_towards_the_limit_and_the_first_value_is_kept() -> None:
    [request] = RequestReader().feed(get("/ok", b"x-a: first\r\nX-A: second\r\n" * 49))  # host + 98
    assert isinstance(request, Request)
    assert request.headers[b"x-a"] == b"first"
    [refused] = RequestReader().feed(get("/ok", b"x-a: first\r\n" * 100))  # host + 100
    assert isinstance(refused, Refused)
    assert refused.problem.status == 431


def test_chunks_larger_than_a_head_may_come_apart_from_their_size_line() -> None:
    connection, transport = connect()
    size = MAX_BODY - 16  # far over MAX_HEAD: a chunk's data is body, not head
    connection.data_received(b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
    connection.data_received(b"%x\r\n" % size)
    connection.data_received(b"x" * size + b"\r\n")
    connection.data_received(b"0\r\nx-trailer: 1\r\n\r\n")
    [(head, body)] = answers(bytes(transport.written))
    assert (status(head), body) == (200, b"x" * size)


# finding 3: a body's memory is in proportion to the body, not to its chunks


def test_a_body_in_one_byte_chunks_costs_memory_in_proportion_to_its_size() -> None:
    size = MAX_BODY
    connection, transport = connect()
    connection.data_received(b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
    pieces = [b"1\r\nx\r\n"] * size  # made before measuring
    tracemalloc.start()
    try:
        for piece in pieces:
            connection.data_received(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * size  # a bytes object per chunk would cost over 30 times the body
    connection.data_received(b"0\r\n\r\n")
    [(_, body)] = answers(bytes(transport.written))
    assert body == b"x" * size


# finding 10: no exception in the protocol is answered as bad HTTP


def test_a_content_length_of_thousands_of_digits_is_read_as_its_value() -> None:
    raw = b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: " + b"0" * 5_000 + b"2\r\n\r\n{}"
    [(head, body)] = exchange(raw)[0]
    assert (status(head), body) == (200, b"{}")


def test_an_answer_that_cannot_be_written_is_a_logged_500_and_the_next_request_is_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="jwtseal.http"):
        found, transport = exchange(get("/unknown-status") + get("/ok"))
    [(head, body), (next_head, next_body)] = found
    assert (status(head), code(body)) == (500, "jwtseal_error")
    assert (status(next_head), next_body) == (200, b'{"ok":true}')
    assert not transport.closed
    [record] = caplog.records
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["error_type"] == "KeyError"
    assert fields["error"] == "999"
    assert "Traceback (most recent call last)" in fields["traceback"]


# finding 11: 100 Continue in order, and only to HTTP/1.1


def test_100_continue_is_written_after_every_earlier_answer() -> None:
    async def scenario() -> list[bytes]:
        gate: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        router = Router({"/wait": {"GET": lambda request: gate}, **ROUTER_ROUTES})
        connection, transport = connect(router)
        head = b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n"
        connection.data_received(get("/wait") + head)
        seen = [bytes(transport.written)]
        gate.set_result(Response(200, b'"first"'))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(bytes(transport.written))
        connection.data_received(b"{}")
        seen.append(bytes(transport.written))
        return seen

    before, after_first, after_body = asyncio.run(scenario())
    assert before == b""
    assert after_first.startswith(b"HTTP/1.1 200 OK")
    assert after_first.endswith(b'"first"HTTP/1.1 100 Continue\r\n\r\n')
    assert after_body.endswith(b"\r\n\r\n{}")


def test_100_continue_is_never_sent_to_http_1_0() -> None:
    head = b"POST /echo HTTP/1.0\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n"
    connection, transport = connect()
    connection.data_received(head)
    assert transport.written == b""
    connection.data_received(b"{}")
    assert transport.written.startswith(b"HTTP/1.1 200 OK")


# finding 12: Host exactly once on HTTP/1.1; other versions 505; absolute-form targets


@pytest.mark.parametrize(
    "raw",
    [b"GET /ok HTTP/1.1\r\n\r\n", b"GET /ok HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n"],
    ids=["no-host", "two-hosts"],
)
def test_http_1_1_without_exactly_one_host_is_a_400(raw: bytes) -> None:
    found, transport = exchange(get("/ok") + raw)
    assert [status(head) for head, _ in found] == [200, 400]
    assert code(found[1][1]) == "invalid_request"
    assert transport.closed


def test_http_1_0_needs_no_host() -> None:
    [(head, body)] = exchange(b"GET /ok HTTP/1.0\r\n\r\n")[0]
    assert (status(head), body) == (200, b'{"ok":true}')


@pytest.mark.parametrize(
    "raw", [b"GET /ok HTTP/2.0\r\nhost: t\r\n\r\n", b"GET /ok\r\n\r\n"], ids=["http-2.0", "http-0.9"]
)
def test_other_versions_are_a_505(raw: bytes) -> None:
    [(head, body)] = exchange(raw)[0]
    assert (status(head), code(body)) == (505, "http_version_not_supported")


@pytest.mark.parametrize(
    ("target", "path"),
    [
        (b"http://t/path?a=1", "/path"),
        (b"HTTPS://t:8443/path", "/path"),
        (b"http://t?a=1", "/"),
        (b"http://t", "/"),
    ],
)
def test_absolute_form_targets_are_routed_by_their_path(target: bytes, path: str) -> None:
    found, _ = exchange(b"GET " + target + b" HTTP/1.1\r\nhost: t\r\n\r\n")
    if path == "/path":
        assert found[0][1] == b'"/path"'
    else:
        assert (status(found[0][0]), code(found[0][1])) == (404, "not_found")


# finding 13: HTTP/1.0 keep-alive is announced


def test_http_1_0_keep_alive_is_announced_and_kept() -> None:
    raw = b"GET /ok HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"
    found, transport = exchange(raw + raw)
    assert len(found) == 2
    assert all(b"connection: keep-alive" in head for head, _ in found)
    assert not transport.closed


# finding 15: a client that never reads is dropped


def test_a_client_that_never_reads_is_dropped_after_the_send_timeout() -> None:
    connection, transport = connect()
    connection.data_received(get("/ok"))
    connection.pause_writing()
    moment = time.monotonic()
    connection.close_if_stale(moment + SEND_TIMEOUT / 2, 1e9, 1e9, SEND_TIMEOUT)
    assert not transport.closed
    connection.close_if_stale(moment + SEND_TIMEOUT + 1, 1e9, 1e9, SEND_TIMEOUT)
    assert transport.aborted


def test_every_request_target_is_routed_by_its_own_path_however_many_distinct_targets_came_before() -> None:
    forms = [b"/path?n=%d", b"/ok?n=%d", b"http://a/path?n=%d", b"/missing?n=%d"]
    targets = [forms[n % 4] % n for n in range(1_000)]
    targets += targets[:8]  # seen long ago, forgotten since: still routed right
    answers, transport = exchange(*(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % target for target in targets))
    expected = [(200, b'"/path"'), (200, b'{"ok":true}'), (200, b'"/path"'), (404, b"")]
    got = [(status(head), body if status(head) == 200 else b"") for head, body in answers]
    assert got == [expected[n % 4] for n in range(len(targets))]
    assert not transport.closed


# the failure rule for observers


def test_an_observer_that_raises_changes_no_answer_and_is_logged_once_for_its_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    def failing(records: list[Record]) -> None:
        raise OSError(28, "No space left on device")

    def counting(records: list[Record]) -> None:
        seen.extend(response.status for _, _, response, _, _ in records)

    router = Router(ROUTER_ROUTES, journal=Journal([failing, counting]))
    with caplog.at_level(logging.ERROR, logger="jwtseal.http"):
        found, _ = exchange(get("/ok") + b"NOT HTTP\r\n\r\n", router=router)
        assert seen == []  # recorded, not yet observed: observers take batches
        router.journal.flush()
    assert [status(head) for head, _ in found] == [200, 400]
    assert seen == [200, 400]  # the next observer still ran, for both
    [record] = caplog.records
    assert record.getMessage() == "observer failed"
    assert record.fields["error_type"] == "OSError"  # type: ignore[attr-defined]
    assert record.fields["path"] == "/ok, invalid"  # type: ignore[attr-defined]


def test_refusals_are_recorded_too_and_observed_a_whole_batch_at_a_time() -> None:
    batches: list[list[str]] = []
    router = Router(ROUTER_ROUTES, journal=Journal([lambda records: batches.append([r[0] for r in records])]))
    for _ in range(MAX_RECORDS):
        found, _ = exchange(b"NOT HTTP\r\n\r\n", router=router)
        assert [status(head) for head, _ in found] == [400]
    assert batches == [["invalid"] * MAX_RECORDS]  # observed once the batch was whole, with no timer


ROUTER_ROUTES: dict[str, dict[str, Any]] = {
    "/ok": {"GET": lambda request: Response(200, b'{"ok":true}')},
    "/echo": {"POST": lambda request: Response(200, request.body)},
}


# the connection's phases


def test_a_connection_accepted_during_shutdown_is_closed_at_once() -> None:
    state = ConnectionState(ROUTER)
    state.shut_down()
    connection = Connection(state)
    transport = FakeTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection.data_received(get("/ok"))
    assert transport.closed
    assert transport.written == b""


def test_shutdown_answers_every_request_already_read_the_last_with_close() -> None:
    connection, transport = connect()
    connection.pause_writing()
    connection.data_received(get("/ok") * 3)
    connection.close_when_done()
    connection.close_when_done()  # twice changes nothing
    assert not transport.reading
    connection.resume_writing()
    found = answers(bytes(transport.written))
    assert [b"connection: close" in head for head, _ in found] == [False, False, True]
    assert transport.closed


def test_time_spent_waiting_for_the_client_to_read_is_not_counted_against_its_request() -> None:
    connection, transport = connect()
    connection.pause_writing()
    connection.data_received(get("/ok") + b"GET /ok HTTP/1.1\r\n")  # the second only begun
    connection.close_if_stale(time.monotonic() + 60, 1e9, 10.0, 1e9)
    assert not transport.closed  # not reading: the half-read request is not the client's delay
    connection.resume_writing()
    connection.close_if_stale(time.monotonic() + 5, 1e9, 10.0, 1e9)
    assert not transport.closed  # its clock started again when reading resumed
    connection.close_if_stale(time.monotonic() + 11, 1e9, 10.0, 1e9)
    assert transport.closed


def test_a_router_that_fails_is_a_logged_500_for_that_request_alone(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenRouter(Router):
        def route(self, request: Request) -> tuple[str, Any]:
            if request.path == "/broken":
                raise RuntimeError("routing bug")
            return super().route(request)

    with caplog.at_level(logging.ERROR, logger="jwtseal.http"):
        found, transport = exchange(get("/broken") + get("/ok"), router=BrokenRouter(ROUTER_ROUTES))
    assert [status(head) for head, _ in found] == [500, 200]
    assert not transport.closed
    [record] = caplog.records
    assert record.fields["error"] == "routing bug"  # type: ignore[attr-defined]


def test_the_reader_reads_nothing_after_a_refusal() -> None:
    reader = RequestReader()
    [refused] = reader.feed(b"NOT HTTP\r\n\r\n")
    assert isinstance(refused, Refused)
    assert reader.stopped
    assert reader.feed(get("/ok")) == []


def test_an_asterisk_form_target_is_a_path_like_any_other() -> None:
    [(head, body)] = exchange(b"OPTIONS * HTTP/1.1\r\nhost: t\r\n\r\n")[0]
    assert (status(head), code(body)) == (404, "not_found")

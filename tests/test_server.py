"""jwtseal's HTTP/1.1 server on a real loopback socket, spoken to byte by byte.

Each test sends raw bytes, as a client (or an attacker) would, and reads what
comes back: ordering of pipelined answers, limits, timeouts, shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvloop

from jwtseal.http.protocol import MAX_HEAD, MAX_HEADERS, MAX_PIPELINED
from jwtseal.http.routing import MAX_BODY, Request, Response, Router
from jwtseal.http.server import HttpServer
from tests.conftest import bound_socket, serve_in_thread
from tests.servers import serve

BIG = b"x" * 1_048_576


async def _slow(request: Request) -> Response:
    await asyncio.sleep(0.2)
    return Response(200, b'{"slow":true}')


async def _forever(request: Request) -> Response:
    await asyncio.Event().wait()
    raise AssertionError("never answered")


ROUTER = Router(
    {
        "/ok": {"GET": lambda request: Response(200, b'{"ok":true}')},
        "/echo": {"POST": lambda request: Response(200, request.body)},
        "/path": {"GET": lambda request: Response(200, json.dumps(request.path).encode())},
        "/slow": {"GET": _slow},
        "/forever": {"GET": _forever},
        "/big": {"GET": lambda request: Response(200, BIG)},
        "/headers": {
            "POST": lambda request: Response(
                200, json.dumps(sorted(map(bytes.decode, request.headers))).encode()
            )
        },
    }
)


@contextmanager
def server(**limits: float) -> Iterator[tuple[str, int]]:
    sock = bound_socket()
    with serve_in_thread(ROUTER, sock, **limits):
        yield sock.getsockname()


@contextmanager
def connection(address: tuple[str, int]) -> Iterator[socket.socket]:
    with socket.create_connection(address, timeout=10) as client:
        yield client


def read_all(client: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := client.recv(65_536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_answers(client: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` answers as (head, body), by their content-length."""
    buffer = b""
    answers: list[tuple[bytes, bytes]] = []
    while len(answers) < count:
        head, separator, rest = buffer.partition(b"\r\n\r\n")
        if separator:
            length = int(
                next(line for line in head.split(b"\r\n") if line.startswith(b"content-length:"))[15:]
            )
            if len(rest) >= length:
                answers.append((head, rest[:length]))
                buffer = rest[length:]
                continue
        chunk = client.recv(262_144)
        assert chunk, f"closed after {len(answers)} answers"
        buffer += chunk
    return answers


def problem_in(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head
    assert b"connection: close" in head
    return int(head.split()[1]), json.loads(body)


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nhost: t\r\n" + extra + b"\r\n"


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with server() as address:
        yield address


def test_answers_carry_status_type_length_and_date(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(get("/ok?query=ignored"))
        [(head, body)] = read_answers(client, 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"content-type: application/json" in lines
    assert b"content-length: 11" in lines
    assert any(line.startswith(b"date: ") and line.endswith(b" GMT") for line in lines)
    assert body == b'{"ok":true}'


@pytest.mark.parametrize(("path", "status"), [("/ok", 200), ("/nowhere", 404), ("/echo", 405)])
def test_head_is_answered_like_get_without_a_body(address: tuple[str, int], path: str, status: int) -> None:
    with connection(address) as client:
        client.sendall(b"HEAD " + path.encode() + b" HTTP/1.1\r\nhost: t\r\n\r\n" + get("/path"))
        time.sleep(0.1)
        answer = client.recv(65_536)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d" % status)
    assert b"content-length: 0" not in head  # the length GET would have
    assert rest.startswith(b"HTTP/1.1 200 OK")  # the next answer follows at once: no body in between
    assert rest.endswith(b'"/path"')


def test_the_path_is_routed_without_its_query(address: tuple[str, int]) -> None:
    assert httpx.get(f"http://{address[0]}:{address[1]}/path?a=1").json() == "/path"


def test_pipelined_requests_are_answered_in_order_even_when_one_waits(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(get("/slow") + get("/ok") + get("/path"))
        bodies = [body for _, body in read_answers(client, 3)]
    assert bodies == [b'{"slow":true}', b'{"ok":true}', b'"/path"']


def test_a_body_sent_in_pieces_and_chunked_arrives_whole(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        for piece in (b"5\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"):
            client.sendall(piece)
            time.sleep(0.01)
        [(_, body)] = read_answers(client, 1)
    assert body == b"hello world"


def test_expect_100_continue_is_answered_before_the_body(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n")
        assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(b"{}")
        [(head, body)] = read_answers(client, 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"{}"


def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent(address: tuple[str, int]) -> None:
    with connection(address) as client:
        head = b"POST /echo HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: %d\r\n\r\n"
        client.sendall(head % (MAX_BODY + 1))
        status, body = problem_in(read_all(client))
    assert (status, body["code"]) == (413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_refused_as_it_grows(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        client.sendall(b"%x\r\n%s\r\n" % (MAX_BODY + 1, b"x" * (MAX_BODY + 1)))
        status, body = problem_in(read_all(client))
    assert (status, body["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    "extra",
    [
        b"x-big: " + b"a" * MAX_HEAD + b"\r\n",
        b"".join(b"x-%d: 1\r\n" % number for number in range(MAX_HEADERS + 1)),
    ],
    ids=["bytes", "count"],
)
def test_a_head_over_the_limits_is_refused(address: tuple[str, int], extra: bytes) -> None:
    with connection(address) as client:
        client.sendall(get("/ok", extra))
        status, body = problem_in(read_all(client))
    assert (status, body["code"]) == (431, "headers_too_large")


def test_a_url_over_the_limit_is_refused(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"GET /ok?" + b"a" * MAX_HEAD + b" HTTP/1.0\r\n\r\n")
        status, body = problem_in(read_all(client))
    assert (status, body["code"]) == (431, "headers_too_large")


def test_a_head_over_the_limit_sent_slowly_is_refused_before_it_ends(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"GET /ok HTTP/1.1\r\nx-big: ")
        for _ in range(MAX_HEAD // 4096 + 1):
            client.sendall(b"a" * 4096)
            time.sleep(0.01)
        status, body = problem_in(read_all(client))
    assert (status, body["code"]) == (431, "headers_too_large")


@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS client hello
        b"GET /ok HTTP/1.1\r\nhost: t\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nhost: t\r\ncontent-length: " + b"9" * 5_000 + b"\r\n\r\n",
    ],
    ids=["tls", "two-lengths", "length-and-chunked", "huge-length"],
)
def test_bytes_that_are_not_http_get_a_400_problem(address: tuple[str, int], raw: bytes) -> None:
    with connection(address) as client:
        client.sendall(raw)
        status, body = problem_in(read_all(client))
    assert (status, body["code"]) == (400, "invalid_request")


def test_more_pipelined_requests_than_may_wait_are_all_answered_in_order(address: tuple[str, int]) -> None:
    count = MAX_PIPELINED + 6
    with connection(address) as client:
        client.sendall(get("/slow") + get("/path") * count)
        answers = read_answers(client, count + 1)
    assert [body for _, body in answers] == [b'{"slow":true}'] + [b'"/path"'] * count


@pytest.mark.parametrize(
    ("bad", "refusal"),
    [
        (b"GARBAGE\r\n\r\n", (400, "invalid_request")),
        (
            b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 70000\r\n\r\n" + b"x" * 70_000,
            (413, "payload_too_large"),
        ),
    ],
    ids=["garbage", "body-too-large"],
)
def test_a_valid_request_ahead_of_a_bad_one_is_answered_before_the_error(
    address: tuple[str, int], bad: bytes, refusal: tuple[int, str]
) -> None:
    with connection(address) as client:
        client.sendall(get("/slow") + bad)
        raw = read_all(client)
    first, separator, rest = raw.partition(b'{"slow":true}')
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert separator
    status, body = problem_in(rest)
    assert (status, body["code"]) == refusal


def test_trailers_are_not_headers(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"POST /headers HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        client.sendall(b"2\r\n{}\r\n0\r\nauthorization: Bearer KEY\r\n\r\n")
        [(_, body)] = read_answers(client, 1)
    assert json.loads(body) == ["host", "transfer-encoding"]


def test_100_continue_waits_for_the_answer_before_it_and_is_never_sent_to_http_1_0(
    address: tuple[str, int],
) -> None:
    expecting = b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n"
    with connection(address) as client:
        client.sendall(get("/slow") + expecting)
        received = b""
        while not received.endswith(b"\r\n\r\n") or b"100 Continue" not in received:
            received += client.recv(100)
        assert received.startswith(b"HTTP/1.1 200 OK")
        assert received.endswith(b'{"slow":true}HTTP/1.1 100 Continue\r\n\r\n')
        client.sendall(b"{}")
        assert read_answers(client, 1)[0][1] == b"{}"
    with connection(address) as client:
        client.sendall(b"POST /echo HTTP/1.0\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n")
        time.sleep(0.1)
        client.sendall(b"{}")
        answer = read_all(client)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"{}")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /ok HTTP/1.1\r\n\r\n", 400),
        (b"GET /ok HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", 400),
        (b"GET /ok HTTP/2.0\r\nhost: t\r\n\r\n", 505),
        (b"GET /ok\r\n\r\n", 505),
    ],
    ids=["no-host", "two-hosts", "http-2.0", "http-0.9"],
)
def test_requests_without_one_host_or_of_another_version_are_refused(
    address: tuple[str, int], raw: bytes, status: int
) -> None:
    with connection(address) as client:
        client.sendall(raw)
        assert problem_in(read_all(client))[0] == status


def test_an_absolute_form_target_is_routed_by_its_path(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"GET http://t/path?q=1 HTTP/1.1\r\nhost: t\r\n\r\n")
        assert read_answers(client, 1)[0][1] == b'"/path"'


def test_http_1_0_keep_alive_is_announced(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(b"GET /ok HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        [(head, _)] = read_answers(client, 1)
        assert b"connection: keep-alive" in head.split(b"\r\n")
        client.sendall(b"GET /ok HTTP/1.0\r\n\r\n")
        assert read_all(client).endswith(b'{"ok":true}')


def test_a_content_length_with_thousands_of_leading_zeros_is_read_as_its_value(
    address: tuple[str, int],
) -> None:
    with connection(address) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: " + b"0" * 5_000 + b"2\r\n\r\n{}")
        assert read_answers(client, 1)[0][1] == b"{}"


def test_a_client_that_never_reads_its_answers_is_dropped_after_the_send_timeout() -> None:
    count = 16  # 16 MiB of answers: far more than the socket buffers hold
    with server(send_timeout=0.2) as address, connection(address) as client:
        client.sendall(get("/big") * count)
        time.sleep(1)  # never reading, past the send timeout
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(1_048_576):
                received += len(chunk)
    assert received < count * len(BIG)


def test_shutdown_closes_the_listener_first() -> None:
    sock = bound_socket()
    sock.listen(128)
    served = HttpServer(ROUTER, sock, grace=0.5)
    thread = threading.Thread(target=uvloop.run, args=(served.serve(),), daemon=True)
    thread.start()
    assert served.started.wait(10)
    port = sock.getsockname()[1]
    with connection(("127.0.0.1", port)) as client:
        client.sendall(get("/forever"))
        time.sleep(0.05)
        served.stop()
        time.sleep(0.2)  # in the grace period: the answer in flight is still waited for
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    thread.join(30)


@pytest.mark.parametrize(
    "raw",
    [
        get("/ok", b"connection: close\r\n"),
        b"GET /ok HTTP/1.0\r\n\r\n",
        get("/ok", b"connection: upgrade\r\nupgrade: websocket\r\n") + b"\x81\x05hello",
    ],
    ids=["connection-close", "http-1.0", "upgrade"],
)
def test_a_request_that_ends_the_connection_is_answered_then_closed(
    address: tuple[str, int], raw: bytes
) -> None:
    with connection(address) as client:
        client.sendall(raw + get("/path"))  # anything after it is not answered
        answer = read_all(client)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close\r\n" in answer
    assert answer.endswith(b'{"ok":true}')


def test_a_client_that_does_not_read_is_not_read_from_until_it_does(address: tuple[str, int]) -> None:
    count = 32  # 32 MiB of answers: far more than the socket buffers hold
    with connection(address) as client:
        client.sendall(get("/big") * count)
        time.sleep(0.3)  # the server fills its buffers and stops reading
        answers = read_answers(client, count)
    assert [body for _, body in answers] == [BIG] * count


def test_a_client_gone_while_its_answer_waits_leaves_the_server_serving(address: tuple[str, int]) -> None:
    with connection(address) as client:
        client.sendall(get("/slow"))
    time.sleep(0.3)  # the slow answer finds its connection closed
    with connection(address) as client:
        client.sendall(get("/ok"))
        assert read_answers(client, 1)[0][1] == b'{"ok":true}'


def test_idle_connections_are_closed_after_the_keep_alive_timeout() -> None:
    with server(keep_alive=0.2) as address, connection(address) as client:
        client.sendall(get("/ok"))
        read_answers(client, 1)
        started = time.monotonic()
        assert read_all(client) == b""
        assert time.monotonic() - started < 5


def test_a_request_sent_too_slowly_is_dropped_after_the_read_timeout() -> None:
    with server(read_timeout=0.2) as address, connection(address) as client:
        client.sendall(b"GET /ok HTTP/1.1\r\nhost: t\r\n")  # and never the blank line
        assert read_all(client) == b""


def test_shutdown_finishes_the_answer_in_flight_and_closes_idle_connections() -> None:
    answers: dict[str, bytes] = {}
    with server() as address:
        clients = {name: socket.create_connection(address, timeout=10) for name in ("idle", "busy")}
        clients["busy"].sendall(get("/slow"))
        readers = [
            threading.Thread(target=lambda name=name: answers.update({name: read_all(clients[name])}))
            for name in clients
        ]
        for reader in readers:
            reader.start()
        time.sleep(0.05)
    for reader in readers:
        reader.join(10)
    for client in clients.values():
        client.close()
    assert answers["idle"] == b""
    assert answers["busy"].startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close\r\n" in answers["busy"]


def test_shutdown_gives_up_on_an_answer_after_the_grace_period() -> None:
    started = time.monotonic()
    with server(grace=0.2) as address, connection(address) as client:
        client.sendall(get("/forever"))
        time.sleep(0.05)
    assert time.monotonic() - started < 5


def test_the_server_runs_on_plain_asyncio_where_uvloop_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # ``import uvloop`` now fails, as on Windows
    loops: list[str] = []

    def which_loop(request: Request) -> Response:
        loops.append(type(asyncio.get_running_loop()).__module__)
        return Response(200, b"{}")

    sock = bound_socket()
    sock.listen(16)
    served = HttpServer(Router({"/loop": {"GET": which_loop}}), sock)
    statuses: list[int] = []

    def client() -> None:
        try:
            assert served.started.wait(10)
            statuses.append(httpx.get(f"http://127.0.0.1:{sock.getsockname()[1]}/loop").status_code)
        finally:
            served.stop()

    thread = threading.Thread(target=client)
    thread.start()
    served.run()  # on the main thread, where it handles SIGTERM and SIGINT
    thread.join(10)
    assert statuses == [200]
    assert loops == ["asyncio.unix_events"]


def _unverifiable_token() -> str:
    """A well-formed RS256 token whose key must be fetched: the fetch is what the test waits on."""

    def segment(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'RS256', 'kid': 'k1'})}.{segment({'sub': 'x'})}.AAAA"


def test_serve_with_workers_refuses_new_connections_as_soon_as_it_is_stopping(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # a JWKS origin that accepts and never answers
        origin = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with serve(tmp_path, "--workers", "2", JWTSEAL_TRUSTED_JWKS_URIS=origin) as served:
            address = ("127.0.0.1", int(served.url.rpartition(":")[2]))
            body = json.dumps({"token": _unverifiable_token(), "jwksUri": f"{origin}/jwks.json"}).encode()
            with connection(address) as waiting:
                waiting.sendall(
                    b"POST /decode HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
                )
                time.sleep(0.5)  # the decode now waits on the silent origin (5 s)
                served.process.send_signal(signal.SIGTERM)
                time.sleep(0.5)  # the parent and the worker have closed their listeners
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(address, timeout=5).close()
                answer = read_all(waiting)  # the request in flight is still answered
            assert served.process.wait(20) == 0
    assert answer.startswith(b"HTTP/1.1 502 ")
    assert b"connection: close" in answer

"""Raw request sequences through jwtseal's HTTP/1.1 state machine and through h11, side by side.

Usage: ``.venv/bin/python bench/service/h11_differential.py [--verbose]`` (a second or two).

h11 is the reference: a careful, sans-IO HTTP/1.1 implementation. Each case
is a list of byte chunks a client sends on one connection: pipelining,
chunked bodies, trailers, ``Expect: 100-continue``, HTTP/1.0, bad framing.
jwtseal reads them through :class:`jwtseal.http.protocol.Connection` on an
in-memory transport; h11 reads them through ``h11.Connection``, driven as a
server would drive it, with jwtseal's limits applied (body, head) and the
same router answering, so a difference is a difference of protocol, not of
application. For each side it prints the statuses written, in order (100
included), and whether the connection was closed after the last chunk.

It is a check, not a test: it exits 0 and prints every difference, each of
which should be one listed in :data:`DELIBERATE` (exit 1 with ``--check``
when one is not).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Final

import h11

from jwtseal.http.protocol import MAX_HEAD, Connection, ConnectionState
from jwtseal.http.routing import MAX_BODY, Request, Response, Router


def _headers(request: Request) -> Response:
    return Response(200, json.dumps(sorted(name.decode() for name in request.headers)).encode())


ROUTER: Final = Router(
    {
        "/ok": {"GET": lambda request: Response(200, b'{"ok":true}')},
        "/echo": {"POST": lambda request: Response(200, request.body)},
        "/headers": {"GET": _headers, "POST": _headers},
    }
)

H = b"host: t\r\n"


def get(path: bytes = b"/ok", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (
        b"GET " + path + b" HTTP/" + version + b"\r\n" + (H if version == b"1.1" else b"") + extra + b"\r\n"
    )


def post(body: bytes, extra: bytes = b"", path: bytes = b"/echo") -> bytes:
    return b"POST %s HTTP/1.1\r\n%scontent-length: %d\r\n%s\r\n%s" % (path, H, len(body), extra, body)


CHUNKED: Final = b"POST /echo HTTP/1.1\r\n" + H + b"transfer-encoding: chunked\r\n\r\n"
EXPECT: Final = b"POST /echo HTTP/1.1\r\n" + H + b"content-length: 2\r\nexpect: 100-continue\r\n\r\n"

CASES: Final[dict[str, list[bytes]]] = {
    "one GET": [get()],
    "three pipelined GETs": [get() * 3],
    "POST with content-length": [post(b'{"a":1}')],
    "POST body in two packets": [post(b'{"a":1}')[:-3], post(b'{"a":1}')[-3:]],
    "chunked body": [CHUNKED + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"],
    "chunked body, one-byte chunks, byte by byte": [
        bytes([byte]) for byte in CHUNKED + b"1\r\na\r\n1\r\nb\r\n0\r\n\r\n"
    ],
    "chunk extensions": [CHUNKED + b"3;name=value\r\nabc\r\n0\r\n\r\n"],
    "trailers not merged": [
        b"POST /headers HTTP/1.1\r\n" + H + b"transfer-encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\nauthorization: Bearer KEY\r\n\r\n"
    ],
    "expect 100-continue, body later": [EXPECT, b"{}"],
    "expect 100-continue, body at once": [EXPECT + b"{}"],
    "expect behind a pipelined request": [get() + EXPECT, b"{}"],
    "expect over HTTP/1.0": [
        b"POST /echo HTTP/1.0\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n",
        b"{}",
    ],
    "HTTP/1.0 GET": [get(version=b"1.0")],
    "HTTP/1.0 keep-alive, twice": [get(extra=b"connection: keep-alive\r\n", version=b"1.0") * 2],
    "connection: close, then more": [get(extra=b"connection: close\r\n") + get()],
    "no Host on HTTP/1.1": [b"GET /ok HTTP/1.1\r\n\r\n"],
    "two Hosts": [b"GET /ok HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n"],
    "HTTP/2.0 request line": [b"GET /ok HTTP/2.0\r\n" + H + b"\r\n"],
    "HTTP/0.9 request line": [b"GET /ok\r\n\r\n"],
    "absolute-form target": [b"GET http://t/ok?x=1 HTTP/1.1\r\n" + H + b"\r\n"],
    "valid, then garbage": [post(b"{}") + b"GARBAGE\r\n\r\n"],
    "valid, then a body over the limit": [post(b"{}") + post(b"x" * (MAX_BODY + 1))],
    "announced body over the limit": [
        b"POST /echo HTTP/1.1\r\n" + H + b"content-length: %d\r\n\r\n" % (MAX_BODY + 1)
    ],
    "chunked body over the limit": [
        CHUNKED + b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_BODY + 1, b"x" * (MAX_BODY + 1))
    ],
    "head over the limit": [get(extra=b"x-big: " + b"a" * MAX_HEAD + b"\r\n")],
    "70 pipelined POSTs": [post(b"{}") * 70],
    "content-length and chunked": [
        b"POST /echo HTTP/1.1\r\n" + H + b"content-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    ],
    "two content-lengths": [
        b"POST /echo HTTP/1.1\r\n" + H + b"content-length: 1\r\ncontent-length: 2\r\n\r\nab"
    ],
    "two equal content-lengths": [
        b"POST /echo HTTP/1.1\r\n" + H + b"content-length: 2\r\ncontent-length: 2\r\n\r\nab"
    ],
    "content-length with a sign": [b"POST /echo HTTP/1.1\r\n" + H + b"content-length: +2\r\n\r\nab"],
    "content-length, 5,000 leading zeros": [
        b"POST /echo HTTP/1.1\r\n" + H + b"content-length: " + b"0" * 5_000 + b"2\r\n\r\n{}"
    ],
    "bad chunk size": [CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n"],
    "transfer-encoding gzip, chunked": [
        b"POST /echo HTTP/1.1\r\n" + H + b"transfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    ],
    "transfer-encoding chunked, gzip": [
        b"POST /echo HTTP/1.1\r\n" + H + b"transfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n"
    ],
    "space before the colon": [b"GET /ok HTTP/1.1\r\nhost : t\r\n\r\n"],
    "obsolete line folding": [b"GET /ok HTTP/1.1\r\n" + H + b"x-a: 1\r\n  2\r\n\r\n"],
    "bare LF line endings": [b"GET /ok HTTP/1.1\n" + H.replace(b"\r\n", b"\n") + b"\n"],
    "empty line before the request": [b"\r\n" + get()],
    "lower-case method": [b"get /ok HTTP/1.1\r\n" + H + b"\r\n"],
    "method not allowed": [b"PUT /ok HTTP/1.1\r\n" + H + b"content-length: 0\r\n\r\n"],
    "upgrade request": [get(extra=b"connection: upgrade\r\nupgrade: websocket\r\n") + b"\x81\x05hello"],
    "TLS client hello": [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"],
}

DELIBERATE: Final = {
    "HTTP/1.0 keep-alive, twice": "h11 closes every HTTP/1.0 connection; jwtseal keeps it open when the "
    "client asks, and says so in the answer (as nginx does)",
    "HTTP/2.0 request line": "h11 serves it as HTTP/1.1; jwtseal answers 505, as nginx does",
    "HTTP/0.9 request line": (
        "h11 refuses with 400; jwtseal answers 505 (in HTTP/1.1 form, as it knows no other)"
    ),
    "content-length and chunked": "h11 lets chunked win (RFC 9112 section 6.3 allows it); jwtseal (llhttp) "
    "refuses the request, as nginx does since 1.21.1: the usual smuggling vector",
    "two equal content-lengths": "h11 merges equal lengths (RFC 9112 section 6.3 allows it); llhttp refuses",
    "content-length, 5,000 leading zeros": "h11 refuses a number Python will not parse; "
    "jwtseal reads its value, as nginx does",
    "transfer-encoding gzip, chunked": "h11 refuses any coding but chunked (501); llhttp accepts it and "
    "jwtseal serves the body as sent (no route takes a coded body)",
    "transfer-encoding chunked, gzip": (
        "both refuse; RFC 9112 section 6.3 says 400 (jwtseal), h11 answers 501"
    ),
    "obsolete line folding": (
        "h11 unfolds obs-fold; llhttp refuses it with 400 (RFC 9112 section 5.2 allows both)"
    ),
    "bare LF line endings": "h11 accepts bare LF; llhttp refuses with 400 (RFC 9112 section 2.2 allows both)",
    "empty line before the request": "h11 refuses a leading empty line; llhttp skips it "
    "(RFC 9112 section 2.2: a server SHOULD ignore at least one)",
    "lower-case method": (
        "h11 accepts any token as a method (then 405); llhttp knows registered methods only: 400"
    ),
    "upgrade request": (
        "h11 hands the connection over at the upgrade; jwtseal answers it as plain HTTP and closes"
    ),
}


@dataclass
class Outcome:
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    closed: bool = False

    def summary(self) -> str:
        statuses = sorted(set(self.statuses))
        shown = (
            " ".join(map(str, self.statuses))
            if len(self.statuses) <= 4
            else f"{len(self.statuses)} x {statuses}"
        )
        return f"{shown or '-'}{' close' if self.closed else ''}"


class MemoryTransport:
    """What a Connection needs of a transport."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    abort = close

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_extra_info(self, name: str) -> None:
        return None


def jwtseal_outcome(chunks: list[bytes]) -> Outcome:
    connection = Connection(ConnectionState(ROUTER))
    transport = MemoryTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    for chunk in chunks:
        if transport.closed:
            break
        connection.data_received(chunk)
    outcome = Outcome(closed=transport.closed)
    raw = bytes(transport.written)
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
        outcome.statuses.append(int(lines[0].split()[1]))
        outcome.bodies.append(rest[:length])
        raw = rest[length:]
    return outcome


def _path(target: bytes) -> str:
    if not target.startswith(b"/") and b"://" in target:
        rest = target.partition(b"://")[2]
        ends = [index for index in map(rest.find, (b"/", b"?")) if index >= 0]
        target = rest[min(ends) :] if ends else b"/"
    return target.partition(b"?")[0].decode("latin-1") or "/"


def _answer(connection: h11.Connection, outcome: Outcome, response: Response, close: bool = False) -> bytes:
    headers = [(b"content-type", response.content_type), (b"content-length", b"%d" % len(response.body))]
    if close:
        headers.append((b"connection", b"close"))
    outcome.statuses.append(response.status)
    outcome.bodies.append(response.body)
    data = connection.send(h11.Response(status_code=response.status, headers=headers))
    data += connection.send(h11.Data(data=response.body))
    return data + connection.send(h11.EndOfMessage())


def _refusal(status: int) -> Response:
    code = {413: "payload_too_large", 431: "headers_too_large"}.get(status, "invalid_request")
    return Response(status, json.dumps({"code": code}).encode(), b"application/problem+json")


def _comparable(outcome: Outcome) -> tuple[list[int], list[object], bool]:
    """Statuses, bodies (a problem's code only: the details are jwtseal's own) and the close."""
    bodies = [
        json.loads(body)["code"] if status >= 400 else body
        for status, body in zip(outcome.statuses, outcome.bodies, strict=True)
    ]
    return outcome.statuses, bodies, outcome.closed


class H11Server:
    """h11 driven as a server: one request at a time, jwtseal's limits applied by the driver."""

    def __init__(self) -> None:
        self.connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.outcome = Outcome()
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.continued = False

    def run(self, chunks: list[bytes]) -> Outcome:
        for chunk in chunks:
            self.connection.receive_data(chunk)
            try:
                self._read_events()
            except h11.RemoteProtocolError as exc:
                self._refuse(exc.error_status_hint)
            if self.outcome.closed:
                break
        return self.outcome

    def _read_events(self) -> None:
        connection = self.connection
        while not self.outcome.closed:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                self._continue_if_waited_for()
                return
            if event is h11.PAUSED:
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    self.outcome.closed = True  # a close, or a protocol switch: no more HTTP here
                    return
                connection.start_next_cycle()
            elif isinstance(event, h11.Request):
                self._begin(event)
            elif isinstance(event, h11.Data):
                self.body += event.data
                if len(self.body) > MAX_BODY:
                    self._refuse(413)
            elif isinstance(event, h11.EndOfMessage):
                self._answer_request()

    def _continue_if_waited_for(self) -> None:
        if (
            self.request is not None
            and self.connection.they_are_waiting_for_100_continue
            and not self.continued
        ):
            self.connection.send(h11.InformationalResponse(status_code=100, headers=[]))
            self.outcome.statuses.append(100)
            self.outcome.bodies.append(b"")
            self.continued = True

    def _begin(self, request: h11.Request) -> None:
        self.request, self.body, self.continued = request, bytearray(), False
        head_size = len(request.target) + sum(len(name) + len(value) + 4 for name, value in request.headers)
        length = dict(request.headers).get(b"content-length")
        if head_size > MAX_HEAD:
            self._refuse(431)
        elif length is not None and int(length) > MAX_BODY:
            self._refuse(413)

    def _answer_request(self) -> None:
        assert self.request is not None
        headers: dict[bytes, bytes] = {}
        for name, value in self.request.headers:
            headers.setdefault(name, value)
        routed = Request(self.request.method.decode(), _path(self.request.target), headers, bytes(self.body))
        _, response = ROUTER.route(routed)
        assert isinstance(response, Response)
        _answer(self.connection, self.outcome, response)
        self.request = None
        if self.connection.our_state is h11.MUST_CLOSE:
            self.outcome.closed = True
        else:
            self.connection.start_next_cycle()

    def _refuse(self, status: int) -> None:
        if self.connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            _answer(self.connection, self.outcome, _refusal(status), close=True)
        self.outcome.closed = True


def h11_outcome(chunks: list[bytes]) -> Outcome:
    return H11Server().run(chunks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every case, not only differences")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 on a difference not listed as deliberate"
    )
    options = parser.parse_args()
    unexplained = 0
    print(f"{'case':<46} {'jwtseal':<24} {'h11 (reference)':<24} verdict")
    for name, chunks in CASES.items():
        ours, theirs = jwtseal_outcome(chunks), h11_outcome(chunks)
        same = _comparable(ours) == _comparable(theirs)
        if same and not options.verbose:
            continue
        verdict = "same" if same else "deliberate" if name in DELIBERATE else "DIFFERENT"
        unexplained += verdict == "DIFFERENT"
        print(f"{name:<46} {ours.summary():<24} {theirs.summary():<24} {verdict}")
        if not same and name in DELIBERATE:
            print(f"{'':<46} why: {DELIBERATE[name]}")
        if not same and ours.statuses == theirs.statuses and ours.closed == theirs.closed:
            print(f"{'':<46} bodies differ: {_comparable(ours)[1]!r} / {_comparable(theirs)[1]!r}"[:300])
    print(f"\n{len(CASES)} cases; {unexplained} unexplained difference(s)")
    return 1 if options.check and unexplained else 0


if __name__ == "__main__":
    sys.exit(main())

"""The reading half of HTTP/1.1, without a socket: bytes in, events out.

As in h11, parsing is kept apart from I/O: :meth:`RequestReader.feed` takes
whatever bytes arrived and returns what they meant, in order: a whole
:class:`Received` request, :data:`CONTINUE` (the request being read asked
for ``100 Continue``), or one :class:`Refused` problem after which nothing
more is read. httptools (llhttp, in C) does the parsing; its callbacks only
collect, and stop the parser when a limit is crossed. Nothing here writes.

What is refused, each as problem+json: a head over :data:`MAX_HEAD` bytes or
:data:`MAX_HEADERS` fields (431), a body over
:data:`~jwtseal.http.routing.MAX_BODY` whether announced or sent (413),
a version other than HTTP/1.0 and HTTP/1.1 (505), an HTTP/1.1 request
without exactly one ``Host`` (400, RFC 9112 section 3.2), and bytes that are
not HTTP (400). Chunked trailers are read and dropped, never merged into the
headers (RFC 9110 section 6.5), and held to a head's limits. Absolute-form targets
(``GET http://host/path``) are routed by their path (RFC 9112 section 3.2.2).
"""

from __future__ import annotations

import time
from typing import Final

import httptools

from .problems import STATUS_BY_CODE, Problem, problem
from .routing import MAX_BODY, Request

__all__ = ["CONTINUE", "MAX_HEAD", "MAX_HEADERS", "Event", "Refused", "RequestReader"]

MAX_HEAD: Final = 16_384
MAX_HEADERS: Final = 100

_METHOD_NAMES: Final = {
    method.encode(): method for method in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS")
}
_MAX_LENGTH_DIGITS: Final = len(str(MAX_BODY))

TOO_LARGE: Final = problem(
    STATUS_BY_CODE["payload_too_large"],
    "payload_too_large",
    f"The request body may be at most {MAX_BODY} bytes.",
)
HEAD_TOO_LARGE: Final = problem(
    STATUS_BY_CODE["headers_too_large"],
    "headers_too_large",
    f"The request line and headers may be at most {MAX_HEAD} bytes and {MAX_HEADERS} fields.",
)
NOT_HTTP: Final = problem(400, "invalid_request", "The request is not valid HTTP/1.1.")
NO_SINGLE_HOST: Final = problem(400, "invalid_request", "An HTTP/1.1 request must carry exactly one Host.")
BAD_VERSION: Final = problem(
    STATUS_BY_CODE["http_version_not_supported"],
    "http_version_not_supported",
    "Only HTTP/1.1 and HTTP/1.0 are served.",
)


class Refused:
    """The bytes cannot be read on: answer ``problem`` after what is owed, then close."""

    __slots__ = ("problem",)

    def __init__(self, refusal: Problem) -> None:
        self.problem = refusal


class _Continue:
    """The request being read sent ``Expect: 100-continue`` over HTTP/1.1."""

    __slots__ = ()


CONTINUE: Final = _Continue()
Event = Request | Refused | _Continue


class _Stop(Exception):
    """Raised inside a parser callback only to stop the parser; the reason is kept on the reader."""


class RequestReader:
    """Parses one connection's requests; :attr:`reading_since` tells a request half read."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._refusal: Problem | None = None
        self._in_head = True
        """Reading a head, or a chunked body's trailer section: bytes that count against MAX_HEAD."""
        self._head_bytes = 0
        self._partial = False
        """A request's line has begun and the request is not whole yet."""
        self.upgraded = False
        """The last request asked to switch protocols: the bytes after it are not HTTP."""
        self.stopped = False
        """Refused, or upgraded: nothing more is read."""
        self.reading_since: float | None = None
        """When a read first ended inside the request now being read (monotonic), else None.

        Set from the request's target on: a client stalling inside the method
        name (a few bytes) is timed out as idle, by the keep-alive timeout.
        """
        self._start_message()

    def _start_message(self) -> None:
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        """The head's fields; once the head is whole, a dict for trailers that nothing reads."""
        self._head_fields = self._headers
        self._repeats = 0
        """Fields whose name came before in the same section: they count, but are not kept."""
        self._second_host = False
        self._head_size = 0
        self._http10 = False
        self._body: bytes | bytearray = b""

    def feed(self, data: bytes) -> list[Event]:
        """What ``data`` completes, in order; empty once :attr:`stopped`."""
        if self.stopped:
            return []
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.upgraded = self.stopped = True
        except httptools.HttpParserError:
            self._refuse(self._refusal or NOT_HTTP)
        else:
            if self._in_head and self._head_bytes > MAX_HEAD:  # a head, or trailers, that never end
                self._refuse(HEAD_TOO_LARGE)
            elif self._partial and self.reading_since is None:
                self.reading_since = time.monotonic()  # once per request left half read, not per request
        events, self._events = self._events, []
        return events

    def _refuse(self, refusal: Problem) -> None:
        self.stopped = True
        self.reading_since = None
        self._events.append(Refused(refusal))

    def _stop(self, refusal: Problem) -> None:
        self._refusal = refusal
        raise _Stop

    # httptools callbacks: they collect, and stop the parser at a limit

    def on_url(self, url: bytes) -> None:
        """The first callback of every request (llhttp also calls it for a partial URL)."""
        self._partial = True
        self._url += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Kept when its name is new: the first value wins. The head's size is checked once it is whole.

        A head comes in one read here, or is refused at MAX_HEAD bytes by :meth:`feed`,
        so a read bounds what one head can hold before it is checked.
        """
        self._head_size += len(name) + len(value) + 4
        name = name.lower()
        headers = self._headers
        if name in headers or len(headers) >= MAX_HEADERS:
            self._another(name)
        else:
            headers[name] = value

    def _another(self, name: bytes) -> None:
        """A field whose name came before, or one too many: counted, and a second ``Host`` noted."""
        self._repeats += 1
        if len(self._headers) + self._repeats > MAX_HEADERS:
            self._stop(HEAD_TOO_LARGE)
        if name == b"host" and self._headers is self._head_fields:
            self._second_host = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > MAX_HEAD:
            self._stop(HEAD_TOO_LARGE)
        headers = self._head_fields
        self._headers = {}  # trailers go there: read, counted, never a header
        version = self._parser.get_http_version()
        if version != "1.1":
            if version != "1.0":
                self._stop(BAD_VERSION)
            self._http10 = True
        elif self._second_host or b"host" not in headers:
            self._stop(NO_SINGLE_HOST)
        announced = headers.get(b"content-length")
        if announced is not None and len(announced) >= _MAX_LENGTH_DIGITS and _too_large(announced):
            self._stop(TOO_LARGE)
        if b"expect" in headers and not self._http10 and headers[b"expect"].lower() == b"100-continue":
            self._events.append(CONTINUE)

    def on_chunk_header(self) -> None:
        """A chunk begins, or the trailer section after the last one: counted as a head until a body comes.

        Without this, a trailer field that never ends would grow in the parser without bound.
        """
        self._in_head = True
        self._head_bytes = 0

    def on_body(self, chunk: bytes) -> None:
        self._in_head = False
        body = self._body
        if len(body) + len(chunk) > MAX_BODY:
            self._stop(TOO_LARGE)
        if not body:
            self._body = chunk  # most bodies come whole: kept without a copy
        elif type(body) is bytes:
            self._body = bytearray(body) + chunk  # memory in proportion to the body, not to its chunks
        else:
            body += chunk

    def on_message_complete(self) -> None:
        if self._head_size > MAX_HEAD:  # with the trailers
            self._stop(HEAD_TOO_LARGE)
        self._in_head = True
        self._head_bytes = 0
        self._partial = False
        self.reading_since = None
        parser = self._parser
        method = parser.get_method()
        body = self._body
        self._events.append(
            Request(
                _METHOD_NAMES.get(method) or method.decode("ascii"),
                _paths.get(self._url) or _path_of(self._url),
                self._head_fields,
                body if type(body) is bytes else bytes(body),
                parser.should_keep_alive(),
                self._http10,
            )
        )
        self._start_message()


def _too_large(announced: bytes) -> bool:
    """Whether a ``Content-Length`` exceeds :data:`MAX_BODY`.

    llhttp lets only digits through, but any number of them: too many for ``int``.
    """
    digits = announced.lstrip(b"0")
    return len(digits) > _MAX_LENGTH_DIGITS or int(digits or b"0") > MAX_BODY


_paths: dict[bytes, str] = {}
"""Request targets seen lately and their paths: most connections ask for the same few."""
_MAX_PATHS: Final = 256


def _path_of(target: bytes) -> str:
    """The path of a request target, without its query; remembered for the next request."""
    path = target.partition(b"?")[0].decode("latin-1") if target[:1] == b"/" else _path(target)
    if len(_paths) >= _MAX_PATHS:
        _paths.clear()  # targets that never repeat cost a lookup each, never memory
    _paths[target] = path
    return path


def _path(target: bytes) -> str:
    """The path of an absolute-form (or asterisk-form) target, without its query."""
    if b"://" in target:
        authority_and_path = target.partition(b"://")[2]
        ends = [index for index in map(authority_and_path.find, (b"/", b"?")) if index >= 0]
        target = authority_and_path[min(ends) :] if ends else b"/"
        if not target.startswith(b"/"):
            target = b"/" + target
    return target.partition(b"?")[0].decode("latin-1")

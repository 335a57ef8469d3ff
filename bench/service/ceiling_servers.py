"""Stripped-down /encode servers that show how close to the signing floor any Python server gets.

    python ceiling_servers.py {bare,batched,essential} PORT DATA_DIR

DATA_DIR holds the ``essential`` server's key set (created there; the others
sign with a key made at start).

Not services: no limits, timeouts, errors, logs or metrics, and they trust
every request. ``ceiling.py`` runs them beside ``jwtseal serve`` so that the
gap between jwtseal's /encode and the raw RSA-2048 signing rate can be split
into what any uvloop server pays, what the work of issuing a token costs, and
what jwtseal adds on top.

- ``bare``: finds the end of each request, signs a fixed message, answers.
- ``batched``: the same, but a loop turn's requests are signed back to back
  (what jwtseal's ``CryptoBatch`` does).
- ``essential``: batched, plus what issuing a token cannot skip: httptools
  parsing, the API key check, the request's JSON, jwtseal's claims and token
  encoding (``Issuer.prepare``) and the answer's JSON.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import Callable

import httptools
import uvloop
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jwtseal._json import loads_object
from jwtseal.apikeys import ApiKeys
from jwtseal.http.endpoints import _issued as issued_answer
from jwtseal.issuer import UnsignedToken
from jwtseal.service import Service
from jwtseal.settings import Settings

API_KEY = "bench-api-key-0123456789abcdef"  # the same as kinds.API_KEY
MESSAGE = b"e" * 260  # the floor's signing input
READY = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"keys":[]}'


def _answer(body: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
    return head + body


class _Turn:
    """Collects ``(transport, work)`` pairs of one loop turn, then signs them back to back."""

    def __init__(self, sign: Callable[[object], bytes]) -> None:
        self._sign = sign
        self._pending: list[tuple[asyncio.Transport, object]] = []

    def add(self, transport: asyncio.Transport, work: object) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._run)
        self._pending.append((transport, work))

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        answers = [self._sign(work) for _, work in pending]
        for (transport, _), answer in zip(pending, answers, strict=True):
            transport.write(answer)


class _Raw(asyncio.Protocol):
    """``bare`` and ``batched``: a request ends at its blank line (GET) or its closing brace (POST)."""

    def __init__(self, turn: _Turn | None, sign: Callable[[object], bytes]) -> None:
        self._turn = turn
        self._sign = sign
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n\r\n" not in self._buffer:
            return
        if not self._buffer.startswith(b"POST"):
            self._buffer = b""
            self._transport.write(READY)
        elif self._buffer.endswith(b"}"):
            self._buffer = b""
            if self._turn is None:
                self._transport.write(self._sign(None))
            else:
                self._turn.add(self._transport, None)


class _Essential(asyncio.Protocol):
    """``essential``: httptools, API key, JSON, claims and token encoding, answer JSON; batched."""

    def __init__(self, turn: _Turn, service: Service, api_keys: ApiKeys) -> None:
        self._turn = turn
        self._service = service
        self._api_keys = api_keys
        self._parser = httptools.HttpRequestParser(self)
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, chunk: bytes) -> None:
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        headers, body = self._headers, b"".join(self._body)
        self._headers, self._body = {}, []
        if self._parser.get_method() != b"POST":
            self._transport.write(READY)
            return
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not self._api_keys.check(key):
            raise RuntimeError("wrong API key")
        self._turn.add(self._transport, self._service.issuer.prepare(loads_object(body)))


def _fixed_signer() -> Callable[[object], bytes]:
    """Signs the floor's message with a new RSA-2048 key: the raw servers' whole work."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def sign(_: object) -> bytes:
        return _answer(b'{"token":"%s"}' % base64.urlsafe_b64encode(key.sign(MESSAGE, pkcs1, sha256)))

    return sign


def _sign_issued(work: object) -> bytes:
    assert isinstance(work, UnsignedToken)
    return _answer(issued_answer(work.sign()).body)  # jwtseal's own answer JSON


def _factory(kind: str, data_dir: str) -> Callable[[], asyncio.Protocol]:
    if kind == "essential":
        settings = Settings.load({"JWTSEAL_DATA_DIR": data_dir, "JWTSEAL_ALGORITHM": "RS256"})
        service, api_keys = Service.open(settings, None), ApiKeys.from_keys([API_KEY])
        essential = _Turn(_sign_issued)
        return lambda: _Essential(essential, service, api_keys)
    sign = _fixed_signer()
    turn = None if kind == "bare" else _Turn(sign)
    return lambda: _Raw(turn, sign)


async def _serve(kind: str, port: int, data_dir: str) -> None:
    server = await asyncio.get_running_loop().create_server(_factory(kind, data_dir), "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    kind, port, data_dir = sys.argv[1:]
    uvloop.run(_serve(kind, int(port), data_dir))

"""Stripped-down /encode and /decode servers: how close to the RSA floor any Python server gets.

    python ceiling_servers.py {bare,batched,essential} PORT DATA_DIR [{encode,decode}]

The last argument picks the path they serve (default ``encode``). DATA_DIR
holds the ``essential`` server's key set: created there for /encode; for
/decode it is ``jwtseal serve``'s own data dir, so both verify the same
tokens with the same keys. The others sign, or verify, with a key made at
start.

Not services: no limits, timeouts, errors, logs or metrics, and they trust
every request. ``ceiling.py`` runs them beside ``jwtseal serve`` so that the
gap between jwtseal and the raw RSA-2048 rate can be split into what any
uvloop server pays, what the work of issuing or verifying a token costs, and
what jwtseal adds on top.

/encode:

- ``bare``: finds the end of each request, signs a fixed message, answers.
- ``batched``: the same, but a loop turn's requests are signed back to back
  (what jwtseal's ``CryptoBatch`` does).
- ``essential``: batched, plus what issuing a token cannot skip: httptools
  parsing, the API key check, the request's JSON, jwtseal's claims and token
  encoding (``Issuer.prepare``) and the answer's JSON.

/decode (every request is taken for a valid own-key token):

- ``bare``: finds the end of each request, verifies one fixed RS256
  signature with ``cryptography``'s ``verify``, answers a fixed claims body.
- ``batched``: the same, a loop turn's verifications back to back.
- ``essential``: what jwtseal's ``Endpoints.decode`` does for an own-key
  token, with jwtseal's own functions and nothing around them: httptools
  parsing, the request's JSON, the token's parsing, its claims' JSON and
  its key looked up by ``kid`` (``Verifier.begin``), the turn's signatures
  verified back to back (``PendingToken.check_signature``, jwtseal's RS256
  check), then the exp/nbf/iat checks with leeway and the claims answer as
  jwtseal writes it (``SignedToken.claims``, ``_verified``).
"""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import Callable
from typing import cast

import httptools
import uvloop
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jwtseal._json import loads_object
from jwtseal._token import PendingToken, SignedToken
from jwtseal.apikeys import ApiKeys
from jwtseal.http.endpoints import _issued as issued_answer
from jwtseal.http.endpoints import _verified as verified_answer
from jwtseal.issuer import UnsignedToken
from jwtseal.service import Service
from jwtseal.settings import Settings

API_KEY = "bench-api-key-0123456789abcdef"  # the same as kinds.API_KEY
MESSAGE = b"e" * 260  # the floors' signing input
CLAIMS = (  # a fixed /decode answer, the size of jwtseal's for a grocery-list token
    b'{"groceryList":["milk","eggs","healthy stuff"],"iss":"http://127.0.0.1:8000","iat":1796299987,'
    b'"exp":1796386387,"jti":"rqukWzKqO2BcH6TyOBdggg"}'
)
READY = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"keys":[]}'


def _answer(body: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
    return head + body


def _same(result: object) -> bytes:
    assert isinstance(result, bytes)
    return result


class _Turn:
    """Collects a loop turn's ``(transport, item)`` pairs; runs ``work`` on them back to back, then answers.

    ``work`` is the cryptography (and, for /encode, the answer with it, as
    before); ``answer`` turns each result into the bytes written.
    """

    def __init__(self, work: Callable[[object], object], answer: Callable[[object], bytes] = _same) -> None:
        self._work = work
        self._answer = answer
        self._pending: list[tuple[asyncio.Transport, object]] = []

    def add(self, transport: asyncio.Transport, item: object) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._run)
        self._pending.append((transport, item))

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        results = [self._work(item) for _, item in pending]
        for (transport, _), result in zip(pending, results, strict=True):
            transport.write(self._answer(result))


class _Raw(asyncio.Protocol):
    """``bare`` and ``batched``: a request ends at its blank line (GET) or its closing brace (POST).

    ``serve`` is a bare server's whole work per request: the cryptography and the answer.
    """

    def __init__(self, turn: _Turn | None, serve: Callable[[object], bytes]) -> None:
        self._turn = turn
        self._serve = serve
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
                self._transport.write(self._serve(None))
            else:
                self._turn.add(self._transport, None)


class _Parsed(asyncio.Protocol):
    """The ``essential`` servers' HTTP: httptools, headers and body collected, GET answered as ready."""

    def __init__(self, turn: _Turn) -> None:
        self._turn = turn
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
        self._turn.add(self._transport, self.prepare(headers, body))

    def prepare(self, headers: dict[bytes, bytes], body: bytes) -> object:
        """Everything before the cryptography; the result is what the turn's ``work`` gets."""
        raise NotImplementedError


class _Essential(_Parsed):
    """``essential`` /encode: httptools, API key, JSON, claims and token encoding, answer JSON; batched."""

    def __init__(self, turn: _Turn, service: Service, api_keys: ApiKeys) -> None:
        super().__init__(turn)
        self._service = service
        self._api_keys = api_keys

    def prepare(self, headers: dict[bytes, bytes], body: bytes) -> object:
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not self._api_keys.check(key):
            raise RuntimeError("wrong API key")
        return self._service.issuer.prepare(loads_object(body))


_Decoding = tuple[str, PendingToken, str | None, str | None]  # token, its checks so far, audience, issuer
_Decoded = tuple[str, SignedToken, str | None, str | None]


class _EssentialDecode(_Parsed):
    """``essential`` /decode: httptools, JSON, ``Verifier.begin``; verified in the turn, then the answer."""

    def __init__(self, turn: _Turn, service: Service) -> None:
        super().__init__(turn)
        self._verifier = service.verifier

    def prepare(self, headers: dict[bytes, bytes], body: bytes) -> object:
        request = loads_object(body)
        token = request["token"]
        return token, self._verifier.begin(token), request.get("audience"), request.get("issuer")


def _check_signature(work: object) -> _Decoded:
    token, pending, audience, issuer = cast(_Decoding, work)
    return token, pending.check_signature(), audience, issuer


def _answer_claims(result: object) -> bytes:
    token, signed, audience, issuer = cast(_Decoded, result)
    return _answer(verified_answer(token, signed.claims(audience=audience, issuer=issuer)).body)


def _fixed_signer() -> Callable[[object], bytes]:
    """Signs the floor's message with a new RSA-2048 key: the raw /encode servers' whole work."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def sign(_: object) -> bytes:
        return _answer(b'{"token":"%s"}' % base64.urlsafe_b64encode(key.sign(MESSAGE, pkcs1, sha256)))

    return sign


def _fixed_verifier() -> Callable[[object], None]:
    """Verifies one signature of the floor's message, as the verify floor does (raises unless valid)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    public, signature = key.public_key(), key.sign(MESSAGE, pkcs1, sha256)

    def verify(_: object) -> None:
        public.verify(signature, MESSAGE, pkcs1, sha256)

    return verify


def _sign_issued(work: object) -> bytes:
    assert isinstance(work, UnsignedToken)
    return _answer(issued_answer(work.sign()).body)  # jwtseal's own answer JSON


def _service(data_dir: str) -> Service:
    settings = Settings.load({"JWTSEAL_DATA_DIR": data_dir, "JWTSEAL_ALGORITHM": "RS256"})
    return Service.open(settings, None)


def _encode_factory(kind: str, data_dir: str) -> Callable[[], asyncio.Protocol]:
    if kind == "essential":
        service, api_keys = _service(data_dir), ApiKeys.from_keys([API_KEY])
        essential = _Turn(_sign_issued)
        return lambda: _Essential(essential, service, api_keys)
    sign = _fixed_signer()
    turn = None if kind == "bare" else _Turn(sign)
    return lambda: _Raw(turn, sign)


def _decode_factory(kind: str, data_dir: str) -> Callable[[], asyncio.Protocol]:
    if kind == "essential":
        service = _service(data_dir)
        essential = _Turn(_check_signature, _answer_claims)
        return lambda: _EssentialDecode(essential, service)
    verify, claims = _fixed_verifier(), _answer(CLAIMS)

    def serve(_: object) -> bytes:
        verify(None)
        return claims

    turn = None if kind == "bare" else _Turn(verify, lambda _: claims)
    return lambda: _Raw(turn, serve)


async def _serve(factory: Callable[[], asyncio.Protocol], port: int) -> None:
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    kind, port, data_dir, *rest = sys.argv[1:]
    path = rest[0] if rest else "encode"
    factories = {"encode": _encode_factory, "decode": _decode_factory}
    uvloop.run(_serve(factories[path](kind, data_dir), int(port)))

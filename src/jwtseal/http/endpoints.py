"""The handlers: parse the request, call the library, render the answer.

No crypto, claims policy or caching lives here; ``facts`` on each response
(``kid``, ``alg``) feed the access log and the metrics.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

from .. import __version__
from .._json import dumps_ascii, loads_object
from .._jws import parse_header
from .._token import SignedToken
from ..apikeys import ApiKeys
from ..errors import InvalidRequest, KeyStoreError, Unauthorized
from ..issuer import IssuedToken, UnsignedToken
from ..keyring import KeyRingView
from ..service import Service
from .batch import CryptoBatch
from .journal import Journal
from .metrics import CONTENT_TYPE, Metrics
from .openapi import openapi_document
from .routing import Answer, Request, Response, shared_facts

__all__ = ["Endpoints"]

_PROBE = b"jwtseal readiness probe"


def _json_response(value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(200, dumps_ascii(value), headers=headers or [])


def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        InvalidRequest: not JSON, or not an object.
    """
    try:
        return loads_object(request.body)
    except ValueError as exc:
        raise InvalidRequest("The body must be a JSON object.") from exc


_TOKEN_ONLY: Final = (None, None, None)


def _decode_options(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``jwksUri``, ``audience`` and ``issuer``: each absent, null or a string.

    Raises:
        InvalidRequest: one of them is something else.
    """
    jwks_uri, audience, issuer = body.get("jwksUri"), body.get("audience"), body.get("issuer")
    for name, value in (("jwksUri", jwks_uri), ("audience", audience), ("issuer", issuer)):
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{name!r} must be a string.")
    return jwks_uri, audience, issuer


def _etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    candidates = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
    return etag in candidates or b"*" in candidates


def _issued(issued: IssuedToken) -> Response:
    claims = issued.claims
    body = {
        "token": issued.token,
        "kid": issued.kid,
        "alg": issued.alg,
        "exp": claims["exp"],
        "jti": claims["jti"],
    }
    return Response(200, dumps_ascii(body), facts=shared_facts(kid=issued.kid, alg=issued.alg))


def _verified(token: str, claims: dict[str, Any]) -> Response:
    header = parse_header(token.partition(".")[0])  # cached, and valid: it just verified
    return Response(200, dumps_ascii(claims), facts=shared_facts(kid=header.kid, alg=header.alg))


class Endpoints:
    """The handlers of one service: ``(Request) -> Response``, awaitable only when it needs I/O."""

    def __init__(self, service: Service, api_keys: ApiKeys, metrics: Metrics, journal: Journal) -> None:
        self.service = service
        self.api_keys = api_keys
        self.metrics = metrics
        self.journal = journal
        self.cache_control = f"public, max-age={service.settings.jwks_max_age}".encode()
        self.openapi = json.dumps(openapi_document(__version__)).encode()
        self.batch = CryptoBatch()
        self._jwks_view: KeyRingView | None = None
        self._jwks_answers: tuple[bytes, Response, Response]

    def jwks(self, request: Request) -> Response:
        """The most requested answer: built once per key set version, then handed out as is."""
        view = self.service.keyring.view()
        if view is not self._jwks_view:
            etag = view.etag.encode()
            headers = [(b"cache-control", self.cache_control), (b"etag", etag)]
            self._jwks_answers = (
                etag,
                Response(200, view.jwks_json, headers=headers),
                Response(304, b"", headers=headers),
            )
            self._jwks_view = view
        etag, full, not_modified = self._jwks_answers
        if_none_match = request.header(b"if-none-match")
        return not_modified if if_none_match and _etag_matches(if_none_match, etag) else full

    def openid_configuration(self, request: Request) -> Response:
        settings = self.service.settings
        keys = self.service.keyring.view().keyset.keys
        document = {
            "issuer": settings.issuer,
            "jwks_uri": settings.jwks_uri,
            "id_token_signing_alg_values_supported": sorted({record.public.alg for record in keys}),
        }
        return _json_response(document, [(b"cache-control", self.cache_control)])

    def encode(self, request: Request) -> Answer:
        """Checked and encoded now; signed with the other requests of this loop turn.

        A key held elsewhere (a KMS key) signs over the network: in a thread,
        so the loop serves other requests meanwhile. 503 ``signing_unavailable``
        with ``Retry-After`` while no key may sign (the routing's failure rule).
        """
        self._authorize(request.header(b"authorization"))
        self.service.keyring.check_signing()
        unsigned = self.service.issuer.prepare(_json_object(request))
        if unsigned.key.held_by is not None:
            return self._encode_elsewhere(unsigned)
        return self.batch.submit(unsigned.sign, _issued, request.path)

    async def _encode_elsewhere(self, unsigned: UnsignedToken) -> Response:
        return _issued(await asyncio.to_thread(unsigned.sign))

    def decode(self, request: Request) -> Answer:
        """Own keys and cached remote keys verify in this loop turn's batch; other remote keys are awaited."""
        body = _json_object(request)
        token = body.get("token")
        if not isinstance(token, str):
            raise InvalidRequest("'token' is required and must be a string.")
        jwks_uri, audience, issuer = _decode_options(body) if len(body) > 1 else _TOKEN_ONLY  # the usual one
        if jwks_uri is None or jwks_uri == self.service.settings.jwks_uri:
            pending = self.service.verifier.begin(token)
        elif (cached := self.service.begin_remote_cached(token, jwks_uri)) is not None:
            pending = cached
        else:  # a remote key not cached yet
            return self._decode_remote(token, jwks_uri, audience, issuer)

        def answer(signed: SignedToken) -> Response:
            return _verified(token, signed.claims(audience=audience, issuer=issuer))

        return self.batch.submit(pending.check_signature, answer, request.path)

    async def _decode_remote(
        self, token: str, jwks_uri: str, audience: str | None, issuer: str | None
    ) -> Response:
        claims = await self.service.verify_remote(token, jwks_uri, audience=audience, issuer=issuer)
        return _verified(token, claims)

    def keys(self, request: Request) -> Response:
        """Public facts about every published key: what ``jwtseal keys list`` shows."""
        records = self.service.keyring.view().keyset.keys
        return _json_response({"keys": [record.describe() for record in records]})

    def healthz(self, request: Request) -> Response:
        """The service can sign and serve its JWKS: its keys are loaded."""
        view = self.service.keyring.view()
        return _json_response({"status": "ok", "kid": view.signing_key.kid})

    def readyz(self, request: Request) -> Response:
        """Keys loaded, the store readable right now, and a signature round trip.

        A networked store is not read here: the background refresh's outcome
        answers, "Waiting for the key store" before the first load and
        "Degraded" while it is unreachable (both 503).

        Raises:
            KeyStoreError: the store cannot be read or is corrupt, or waited for, or degraded.
        """
        keyring = self.service.keyring
        key = keyring.view().signing_key
        keyring.check_store()
        if key.held_by is not None:  # a KMS checks its keys itself, and every answer is verified
            return _json_response({"status": "ready", "kid": key.kid})
        if not key.public.verify(_PROBE, key.sign(_PROBE)):  # pragma: no cover - a broken backend
            raise KeyStoreError("The signing key failed a signature round trip.")
        return _json_response({"status": "ready", "kid": key.kid})

    def metrics_text(self, request: Request) -> Response:
        """Every request answered before this one is counted (the journal is flushed first)."""
        self.journal.flush()
        return Response(200, self.metrics.exposition(), CONTENT_TYPE)

    def openapi_json(self, request: Request) -> Response:
        return Response(200, self.openapi)

    def _authorize(self, header: bytes | None) -> None:
        scheme, _, key = (header or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not self.api_keys.check(key.strip()):
            raise Unauthorized

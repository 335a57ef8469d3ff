"""JWKSCache against real origins on 127.0.0.1: caching, cooldown, stale-if-error, limits."""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from jwtseal import (
    AlgNotAllowed,
    JwksUnavailable,
    JwksUriNotAllowed,
    MalformedToken,
    MissingKid,
    SigningKey,
    UnknownKid,
    Verifier,
)
from jwtseal._netguard import AddressGuard, Resolver
from jwtseal.jwks_cache import JWKSCache
from tests.conftest import Clock
from tests.remote_origin import Origin, Reply
from tests.tokens import sign_claims

NOW = 1_500.0


def token(key: SigningKey, *, kid: str | None = None, **claims: Any) -> str:
    """A token valid at NOW; ``kid`` overrides the key's own in the header."""
    header = {} if kid is None else {"kid": kid}
    return sign_claims(key, {"sub": "alice", "iat": 1_000, "exp": 2_000, **claims}, **header)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("EdDSA")


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


def trusting(origin: Origin, **options: Any) -> JWKSCache:
    """A JWKSCache that trusts the origin's loopback prefix."""
    return JWKSCache(guard=AddressGuard((origin.url("/"),)), **options)


async def verify(remote: JWKSCache, jwt: str, uri: str, **checks: str) -> dict[str, Any]:
    verifier = Verifier(remote.at(uri), leeway=0, clock=lambda: NOW, audience=checks.pop("audience", None))
    return (await verifier.averify(jwt, **checks)).claims


def test_ten_thousand_verifications_cost_one_fetch(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    remote, jwt = trusting(origin), token(key)

    async def many() -> None:
        for _ in range(10_000):
            assert (await verify(remote, jwt, origin.url()))["sub"] == "alice"

    asyncio.run(many())
    assert origin.count == 1
    assert remote.stats.fetches["127.0.0.1"] == 1
    assert remote.stats.hits["127.0.0.1"] == 9_999


def test_cached_answers_without_any_io_only_from_a_fresh_set(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    clock = Clock(NOW)
    remote, uri = trusting(origin, clock=clock), origin.url()

    assert remote.cached(uri, key.kid) is None  # nothing cached: no fetch either
    assert origin.count == 0
    asyncio.run(verify(remote, token(key), uri))
    assert remote.cached(uri, key.kid) == key.public
    assert remote.at(uri).cached(key.kid) == key.public
    assert remote.cached(uri, "other") is None
    assert remote.cached(origin.url("/elsewhere"), key.kid) is None
    clock.now += 24 * 3600  # past the set's lifetime: a refresh is due, which needs I/O
    assert remote.cached(uri, key.kid) is None
    assert origin.count == 1
    assert remote.stats.hits["127.0.0.1"] == 2


def test_concurrent_cold_verifications_share_one_fetch(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    remote, jwt = trusting(origin), token(key)

    async def concurrent() -> list[dict[str, Any]]:
        return await asyncio.gather(*(verify(remote, jwt, origin.url()) for _ in range(100)))

    assert len(asyncio.run(concurrent())) == 100
    assert origin.count == 1


def test_rotated_key_verifies_after_exactly_one_refetch(origin: Origin, key: SigningKey) -> None:
    new_key = SigningKey.generate("EdDSA")
    origin.serve_keys(key)
    clock = Clock(0.0)
    remote = trusting(origin, clock=clock)

    async def rotate() -> None:
        await verify(remote, token(key), origin.url())
        origin.serve_keys(key, new_key)
        clock.now = 31
        assert (await verify(remote, token(new_key), origin.url()))["sub"] == "alice"
        assert (await verify(remote, token(key), origin.url()))["sub"] == "alice"

    asyncio.run(rotate())
    assert origin.count == 2


@pytest.mark.parametrize("at", [0.0, 31.0])
def test_unknown_kids_inside_one_cooldown_refetch_at_most_once(
    origin: Origin, key: SigningKey, at: float
) -> None:
    origin.serve_keys(key)
    clock = Clock(0.0)
    remote = trusting(origin, clock=clock)

    async def unknown_kids() -> None:
        await verify(remote, token(key), origin.url())
        clock.now = at
        for _ in range(1_000):
            with pytest.raises(UnknownKid):
                await verify(remote, token(key, kid=secrets.token_hex(8)), origin.url())

    asyncio.run(unknown_kids())
    assert origin.count == (1 if at < 30 else 2)
    assert remote.stats.cooldowns["127.0.0.1"] >= 999


def test_origin_down_serves_the_last_good_set_until_the_stale_bound(
    origin: Origin, key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    origin.serve_keys(key, Cache_Control="max-age=600")
    clock = Clock(0.0)
    remote, jwt, uri = trusting(origin, clock=clock), token(key), origin.url()

    async def outage() -> None:
        await verify(remote, jwt, uri)
        origin.stop()
        for now in (100.0, 700.0, 701.0, 4_199.0):
            clock.now = now
            assert (await verify(remote, jwt, uri))["sub"] == "alice"
        clock.now = 4_200.0
        with pytest.raises(JwksUnavailable, match="cooldown"):
            await verify(remote, jwt, uri)
        clock.now = 4_229.0
        with pytest.raises(JwksUnavailable, match="ConnectError"):
            await verify(remote, jwt, uri)
        with pytest.raises(JwksUnavailable, match="cooldown"):
            await verify(remote, jwt, uri)

    with caplog.at_level(logging.WARNING, logger="jwtseal.jwks_cache"):
        asyncio.run(outage())
    assert remote.stats.stale["127.0.0.1"] == 3
    assert remote.stats.failures["127.0.0.1"] == 3
    assert "failed" in caplog.text
    assert jwt not in caplog.text
    assert jwt.split(".")[2] not in caplog.text


def test_a_failed_refetch_for_an_unknown_kid_keeps_the_fresh_set(origin: Origin, key: SigningKey) -> None:
    other = SigningKey.generate("EdDSA")
    origin.serve_keys(key)
    clock = Clock(0.0)
    remote, uri = trusting(origin, clock=clock), origin.url()

    async def refetch_fails() -> None:
        await verify(remote, token(key), uri)
        origin.reply = Reply(status=500)
        clock.now = 31
        with pytest.raises(UnknownKid):
            await verify(remote, token(other), uri)
        assert (await verify(remote, token(key), uri))["sub"] == "alice"

    asyncio.run(refetch_fails())
    assert origin.count == 2


def test_a_failing_origin_without_cache_is_unavailable_and_cooled_down(
    origin: Origin, key: SigningKey
) -> None:
    origin.reply = Reply(status=500, body=b"oops")
    clock = Clock(0.0)
    remote, jwt, uri = trusting(origin, clock=clock), token(key), origin.url()

    async def failing() -> None:
        with pytest.raises(JwksUnavailable, match="status 500"):
            await verify(remote, jwt, uri)
        with pytest.raises(JwksUnavailable, match="cooldown"):
            await verify(remote, jwt, uri)
        assert origin.count == 1
        origin.serve_keys(key)
        clock.now = 30
        assert (await verify(remote, jwt, uri))["sub"] == "alice"

    asyncio.run(failing())
    assert origin.count == 2


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (Reply(stall=True), "(longer than|Timeout)"),
        (Reply(body=b'{"keys": []}' + b" " * 100, trickle=True), "longer than 0.5 s"),
        (Reply(body=b'{"keys": [' + b" " * 10 * 1024 * 1024 + b"]}"), "larger than"),
        (Reply(headers={"Content-Type": "text/html"}, body=b"<html>Hello</html>"), "not a JSON object"),
        (Reply(body=b"[]"), "not a JSON object"),
        (Reply(body=b'{"keys": {}}'), "key set"),
        (Reply(status=404), "status 404"),
        (Reply(status=304, headers={"ETag": '"v1"'}), "status 304"),
    ],
    ids=["stall", "trickle", "10MB", "html", "array", "not-a-key-set", "404", "unasked-304"],
)
def test_a_bad_origin_is_unavailable_within_the_timeout(
    origin: Origin, key: SigningKey, reply: Reply, detail: str
) -> None:
    origin.reply = reply
    slow = reply.stall or reply.trickle  # only these need the short timeout; the rest answer at once
    remote = trusting(origin, timeout=0.5 if slow else 2.0)
    started = time.monotonic()
    with pytest.raises(JwksUnavailable, match=detail) as caught:
        asyncio.run(verify(remote, token(key), origin.url()))
    assert time.monotonic() - started < 3.0
    assert caught.value.code == "jwks_unavailable"
    assert origin.count == 1


def test_a_host_that_resolves_slowly_is_unavailable_within_the_timeout(key: SigningKey) -> None:
    async def never(host: str, port: int) -> list[str]:
        await asyncio.sleep(60)
        return []

    remote = JWKSCache(guard=AddressGuard(resolver=never), timeout=0.3)
    started = time.monotonic()
    with pytest.raises(JwksUnavailable, match="longer than"):
        asyncio.run(verify(remote, token(key), "https://slow.example.com/jwks.json"))
    assert time.monotonic() - started < 3.0


def test_a_redirect_is_never_followed(origin: Origin, key: SigningKey) -> None:
    with Origin() as elsewhere:
        elsewhere.serve_keys(key)
        origin.reply = Reply(status=302, headers={"Location": elsewhere.url()})
        remote = JWKSCache(guard=AddressGuard((origin.url("/"), elsewhere.url("/"))))
        with pytest.raises(JwksUnavailable, match="302"):
            asyncio.run(verify(remote, token(key), origin.url()))
        assert elsewhere.count == 0


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [({"Cache-Control": "max-age=300"}, 300), ({}, 600)],
)
def test_an_etag_revalidates_with_304_and_keeps_the_keys(
    origin: Origin, key: SigningKey, cache_control: dict[str, str], lifetime: float
) -> None:
    origin.serve_keys(key, ETag='"v1"', **{name.replace("-", "_"): v for name, v in cache_control.items()})
    clock = Clock(0.0)
    remote, jwt, uri = trusting(origin, clock=clock), token(key), origin.url()

    async def revalidate() -> None:
        await verify(remote, jwt, uri)
        for now in (lifetime + 1, 2 * lifetime + 1):
            clock.now = now
            assert (await verify(remote, jwt, uri))["sub"] == "alice"
        clock.now = 3 * lifetime + 1.5
        origin.reply = Reply(headers={"ETag": '"v2"'}, body=origin.reply.body)
        await verify(remote, jwt, uri)

    asyncio.run(revalidate())
    assert [seen.headers.get("If-None-Match") for seen in origin.requests] == [None, '"v1"', '"v1"', '"v1"']
    assert remote.stats.revalidations["127.0.0.1"] == 2


@pytest.mark.parametrize("etag", ['"caf\u00e9"', "unquoted", '"a" "b"'])
def test_an_etag_that_is_not_a_plain_quoted_string_is_never_sent_back(
    origin: Origin, key: SigningKey, etag: str
) -> None:
    origin.serve_keys(key, ETag=etag)
    clock = Clock(0.0)
    remote, jwt, uri = trusting(origin, clock=clock), token(key), origin.url()

    async def refetch() -> None:
        await verify(remote, jwt, uri)
        clock.now = 601
        await verify(remote, jwt, uri)

    asyncio.run(refetch())
    assert [seen.headers.get("If-None-Match") for seen in origin.requests] == [None, None]


@pytest.mark.parametrize(
    ("headers", "lifetime"),
    [
        ({"Cache-Control": "public, max-age=300"}, 300),
        ({"Cache-Control": 'max-age="120", must-revalidate'}, 120),
        ({"Cache-Control": "max-age=5"}, 60),
        ({"Cache-Control": "max-age=9999999"}, 86_400),
        ({"Cache-Control": "no-store"}, 60),
        ({"Cache-Control": "no-cache"}, 60),
        ({"Cache-Control": "max-age=soon"}, 600),
        ({"Cache-Control": "max-age=\u00b2"}, 600),
        ({}, 600),
        ({"Date": "Mon, 01 Jan 2024 00:00:00 GMT", "Expires": "Mon, 01 Jan 2024 00:20:00 GMT"}, 1_200),
        ({"Date": "Mon, 01 Jan 2024 00:00:00 GMT", "Expires": "0"}, 60),
        ({"Expires": "Mon, 01 Jan 2024 00:20:00 GMT"}, 600),
        (
            {
                "Cache-Control": "max-age=200",
                "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
                "Expires": "Mon, 01 Jan 2024 00:20:00 GMT",
            },
            200,
        ),
    ],
)
def test_cache_lifetime_follows_the_origin_within_bounds(
    origin: Origin, key: SigningKey, headers: dict[str, str], lifetime: float
) -> None:
    origin.serve_keys(key)
    origin.reply.headers.update(headers)
    clock = Clock(0.0)
    remote, jwt, uri = trusting(origin, clock=clock), token(key), origin.url()

    async def age() -> None:
        await verify(remote, jwt, uri)
        clock.now = lifetime * 0.75 - 1  # before the refresh ahead of time is due
        await verify(remote, jwt, uri)
        assert origin.count == 1
        clock.now = lifetime
        await verify(remote, jwt, uri)

    asyncio.run(age())
    assert origin.count == 2


def test_every_event_reaches_the_observer_and_the_stats(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key, ETag='"v1"')
    clock, events = Clock(0.0), list[tuple[str, str]]()
    remote = trusting(origin, clock=clock, on_event=lambda event, host: events.append((event, host)))
    jwt, uri = token(key), origin.url()

    async def life() -> None:
        for now in (0.0, 1.0, 601.0):
            clock.now = now
            await verify(remote, jwt, uri)
        origin.stop()
        for now in (1_202.0, 1_203.0):
            clock.now = now
            await verify(remote, jwt, uri)

    asyncio.run(life())
    assert [event for event, _ in events] == [
        "fetch",
        "hit",
        "fetch",
        "revalidation",
        "fetch",
        "failure",
        "stale",
        "cooldown",
        "stale",
    ]
    assert {host for _, host in events} == {"127.0.0.1"}
    assert remote.stats.cooldowns == remote.stats.failures == {"127.0.0.1": 1}


def test_keys_of_one_uri_never_verify_a_token_checked_against_another(key: SigningKey) -> None:
    other = SigningKey.generate("EdDSA")
    with Origin() as first, Origin() as second:
        first.serve_keys(key)
        second.serve_keys(other)
        remote = JWKSCache(guard=AddressGuard((first.url("/"), second.url("/"))))

        async def crossed() -> None:
            assert (await verify(remote, token(key), first.url()))["sub"] == "alice"
            with pytest.raises(UnknownKid):
                await verify(remote, token(key), second.url())

        asyncio.run(crossed())


def test_the_cache_holds_a_bounded_number_of_uris(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    remote, jwt = trusting(origin, max_entries=2), token(key)

    async def churn() -> None:
        for path in ("/a", "/b", "/a", "/c", "/b", "/a"):
            await verify(remote, jwt, origin.url(path))

    asyncio.run(churn())
    assert [seen.path for seen in origin.requests] == ["/a", "/b", "/c", "/b", "/a"]


def test_counters_keep_a_bounded_number_of_origin_hosts(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    hosts = ("a.test", "b.test", "c.test", "d.test")
    prefixes = tuple(origin.url("/", host=host) for host in hosts)
    remote = JWKSCache(guard=AddressGuard(prefixes, loopback_resolver([])), max_entries=2)

    async def many_hosts() -> None:
        for host in (*hosts, "a.test"):
            await verify(remote, token(key), origin.url(host=host))

    asyncio.run(many_hosts())
    assert remote.stats.fetches == {"a.test": 2, "b.test": 1, "(other)": 2}


@pytest.mark.parametrize(
    ("jwt", "error"),
    [
        ("not.a.token", MalformedToken),
        ("eyJhbGciOiJFZERTQSJ9.e30.c2ln", MissingKid),
        ("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.e30.c2ln", AlgNotAllowed),
        ("eyJhbGciOiJub25lIiwia2lkIjoiayJ9.e30.", AlgNotAllowed),
    ],
)
def test_tokens_refused_before_the_key_lookup_cause_no_fetch(
    origin: Origin, jwt: str, error: type[Exception]
) -> None:
    remote = trusting(origin)
    with pytest.raises(error):
        asyncio.run(verify(remote, jwt, origin.url()))
    assert origin.count == 0


def test_audience_and_issuer_are_checked_after_the_signature(origin: Origin, key: SigningKey) -> None:
    origin.serve_keys(key)
    remote, jwt = trusting(origin), token(key, aud="api", iss="https://idp.example.com")
    claims = asyncio.run(verify(remote, jwt, origin.url(), audience="api", issuer="https://idp.example.com"))
    assert claims["aud"] == "api"


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}@127.0.0.1:{port}/jwks/a.json",
        "https://127.0.0.1:{port}/jwks/a.json",
        "http://127.0.0.1:{other}/jwks/a.json",
        "http://localhost:{port}/jwks/a.json",
        "http://127.0.0.1:{port}/admin",
        "http://127.0.0.1:{port}/jwks/../admin",
    ],
)
def test_uris_outside_the_trusted_prefix_reach_nothing(
    origin: Origin, key: SigningKey, template: str
) -> None:
    origin.serve_keys(key)
    remote = JWKSCache(guard=AddressGuard((origin.url("/jwks/"),)))
    uri = template.format(port=origin.port, other=origin.port + 1)
    with pytest.raises(JwksUriNotAllowed):
        asyncio.run(verify(remote, token(key), uri))
    assert origin.count == 0


def test_the_default_guard_refuses_a_loopback_origin_and_sends_nothing(
    origin: Origin, key: SigningKey
) -> None:
    origin.serve_keys(key)
    with pytest.raises(JwksUriNotAllowed):
        asyncio.run(verify(JWKSCache(), token(key), origin.url()))
    assert origin.count == 0


def test_an_unparsable_uri_is_refused(key: SigningKey) -> None:
    with pytest.raises(JwksUriNotAllowed):
        asyncio.run(verify(JWKSCache(), token(key), "https://[::1/jwks.json"))


def test_proxy_settings_in_the_environment_are_ignored(
    origin: Origin, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Origin() as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"):
            monkeypatch.setenv(name, proxy.url("/"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        origin.serve_keys(key)
        assert asyncio.run(verify(trusting(origin), token(key), origin.url()))["sub"] == "alice"
        assert (proxy.count, origin.count) == (0, 1)


def test_options_out_of_order_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="min_ttl"):
        JWKSCache(min_ttl=700, default_ttl=600)
    with pytest.raises(ValueError, match="positive"):
        JWKSCache(max_bytes=0)


# TLS: the connection goes to the checked address, the certificate is checked
# for the name. The system resolver knows no ".test" names, so any second
# lookup outside the guard would fail the fetch.


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_origin(ca: trustme.CA) -> Iterator[Origin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("jwks.test").configure_cert(context)
    with Origin(context) as running:
        yield running


def loopback_resolver(calls: list[str]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    return resolve


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_tls_fetch_connects_to_the_checked_address_and_verifies_the_name(
    tls_origin: Origin, ca: trustme.CA, key: SigningKey
) -> None:
    tls_origin.serve_keys(key)
    calls: list[str] = []
    uri = tls_origin.url(host="jwks.test")
    guard = AddressGuard((tls_origin.url("/", host="jwks.test"),), loopback_resolver(calls))
    remote = JWKSCache(guard=guard, ssl_context=client_context(ca))
    assert asyncio.run(verify(remote, token(key), uri))["sub"] == "alice"
    assert calls == ["jwks.test"]
    (seen,) = tls_origin.requests
    assert seen.server_name == "jwks.test"
    assert seen.headers["Host"] == f"jwks.test:{tls_origin.port}"
    assert seen.headers["User-Agent"].startswith("jwtseal/")
    assert remote.stats.fetches == {"jwks.test": 1}


@pytest.mark.parametrize("trusted_ca", [True, False], ids=["wrong-name", "unknown-ca"])
def test_tls_with_a_certificate_that_does_not_verify_is_unavailable(
    tls_origin: Origin, ca: trustme.CA, key: SigningKey, trusted_ca: bool
) -> None:
    tls_origin.serve_keys(key)
    name = "other.test" if trusted_ca else "jwks.test"
    guard = AddressGuard((tls_origin.url("/", host=name),), loopback_resolver([]))
    remote = JWKSCache(guard=guard, ssl_context=client_context(ca) if trusted_ca else None)
    with pytest.raises(JwksUnavailable, match="ConnectError"):
        asyncio.run(verify(remote, token(key), tls_origin.url(host=name)))
    assert tls_origin.count == 0


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "017700000001",
        "127.1",
        "[::ffff:127.0.0.1]",
        "jwks.test",
        "localhost",
    ],
)
def test_every_guarded_form_of_the_origin_is_refused_and_reaches_nothing(
    tls_origin: Origin, ca: trustme.CA, key: SigningKey, host: str
) -> None:
    tls_origin.serve_keys(key)
    resolver = loopback_resolver([]) if host == "jwks.test" else None
    remote = JWKSCache(guard=AddressGuard(resolver=resolver), ssl_context=client_context(ca))
    with pytest.raises(JwksUriNotAllowed) as caught:
        asyncio.run(verify(remote, token(key), tls_origin.url(host=host)))
    assert caught.value.code == "jwks_uri_not_allowed"
    assert tls_origin.count == 0

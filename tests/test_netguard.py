"""The address guard: every spelling of a private address is refused, public ones pass."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtseal import JwksUnavailable, JwksUriNotAllowed
from jwtseal._netguard import AddressGuard, Resolver, Target, is_public

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
NAMES = {
    "jwks.example.com": [PUBLIC_V4, PUBLIC_V6],
    "internal.example.com": ["10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC_V4, "127.0.0.1"],
    "mapped.example.com": [PUBLIC_V4, "::ffff:127.0.0.1"],
    "idp.internal": ["10.1.2.3"],
    "garbage.example.com": ["not-an-address"],
    "empty.example.com": [],
}


def table_resolver(calls: list[str] | None = None) -> Resolver:
    """Resolves from NAMES only; a lookup of any other name fails the test."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return NAMES[host]

    return resolve


def check(uri: str, *prefixes: str, calls: list[str] | None = None) -> Target:
    return asyncio.run(AddressGuard(prefixes, table_resolver(calls)).check(uri))


def refused(uri: str, *prefixes: str) -> str:
    with pytest.raises(JwksUriNotAllowed) as caught:
        check(uri, *prefixes)
    assert caught.value.code == "jwks_uri_not_allowed"
    return caught.value.detail


def test_public_https_uri_resolves_once_and_pins_the_first_address() -> None:
    calls: list[str] = []
    target = check("https://jwks.example.com/.well-known/jwks.json", calls=calls)
    assert target == Target("https", "jwks.example.com", 443, "/.well-known/jwks.json", PUBLIC_V4)
    assert target.authority == "jwks.example.com"
    assert calls == ["jwks.example.com"]


def test_scheme_and_host_are_case_insensitive_and_the_query_is_kept() -> None:
    target = check("HTTPS://JWKS.Example.COM:8443/keys?tenant=a")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "jwks.example.com",
        8443,
        "/keys?tenant=a",
    )
    assert target.authority == "jwks.example.com:8443"


def test_public_address_literals_are_used_without_a_lookup() -> None:
    calls: list[str] = []
    assert check("https://8.8.8.8", calls=calls) == Target("https", "8.8.8.8", 443, "/", "8.8.8.8")
    target = check("https://[2001:4860:4860:0::8888]:8443/k", calls=calls)
    assert target.address == target.host == "2001:4860:4860::8888"
    assert target.authority == "[2001:4860:4860::8888]:8443"
    assert check("https://[2002:808:808::1]/").address == "2002:808:808::1"
    assert calls == []


@pytest.mark.parametrize(
    "uri",
    [
        "http://jwks.example.com/jwks.json",
        "ftp://jwks.example.com/jwks.json",
        "file:///etc/passwd",
        "https://user@jwks.example.com/",
        "https://user:secret@jwks.example.com/",
        "https://jwks.example.com@127.0.0.1/",
        "https://jwks.example.com/jwks.json#keys",
        "https://jwks.example.com/a b",
        "https://jwks.example.com\\@127.0.0.1/",
        "https://jwks.example.com/%zz",
        "https://jwks.example.com/\u00e9",
        "https://",
        "https:///jwks.json",
        "https://[1.2.3.4]/",
        "https://a]/",
        "https://[1:2:3]/",
        "https://[::1%25eth0]/",
        "https://-jwks.example.com/",
        "https://jwks..example.com/",
        "https://" + "a" * 250 + ".com/",
        "https://jwks.example.com:/",
        "https://jwks.example.com:0/",
        "https://jwks.example.com:99999/",
        "https://jwks.example.com/a/../b",
        "https://jwks.example.com/a/./b",
        "https://jwks.example.com/%2e%2e/b",
        "https://jwks.example.com/a/..%2fb",
    ],
)
def test_uris_that_parsers_could_read_differently_are_refused(uri: str) -> None:
    refused(uri)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[fec0::1]",
        "[ff02::1]",
        "[ff0e::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::ffff:169.254.169.254]",
        "[::127.0.0.1]",
        "[::ffff:0:10.0.0.1]",
        "[64:ff9b::127.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",
        "[64:ff9b:1::a00:1]",
        "[2002:7f00:1::]",
        "[2002:a9fe:a9fe::]",
        "[2001:db8::1]",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(host: str) -> None:
    assert "address" in refused(f"https://{host}/jwks.json")


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f.1", "0x7f000001", "017700000001", "0177.0.0.1", "127.1", "127.0.0.1.", "08.8.8.8"],
)
def test_numeric_host_spellings_are_refused(host: str) -> None:
    assert "spelling" in refused(f"https://{host}/jwks.json")


@pytest.mark.parametrize(
    "name", ["internal.example.com", "metadata.example.com", "mixed.example.com", "mapped.example.com"]
)
def test_names_resolving_to_any_non_public_address_are_refused(name: str) -> None:
    refused(f"https://{name}/jwks.json")


def test_localhost_is_refused_through_the_system_resolver() -> None:
    with pytest.raises(JwksUriNotAllowed):
        asyncio.run(AddressGuard().check("https://localhost/jwks.json"))


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    assert "not an address" in refused("https://garbage.example.com/")


@pytest.mark.parametrize("uri", ["https://empty.example.com/", "https://unknown.example.com/"])
def test_a_host_that_does_not_resolve_is_unavailable(uri: str) -> None:
    async def fail_unknown(host: str, port: int) -> list[str]:
        if host not in NAMES:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return NAMES[host]

    with pytest.raises(JwksUnavailable):
        asyncio.run(AddressGuard(resolver=fail_unknown).check(uri))


PREFIX = "http://127.0.0.1:8080/jwks/"


def test_uri_under_a_trusted_prefix_may_be_plain_http_on_loopback() -> None:
    calls: list[str] = []
    target = check("http://127.0.0.1:8080/jwks/tenant.json", PREFIX, calls=calls)
    assert target == Target("http", "127.0.0.1", 8080, "/jwks/tenant.json", "127.0.0.1")
    assert target.authority == "127.0.0.1:8080"
    assert calls == []


def test_trusted_prefix_names_may_resolve_to_private_addresses() -> None:
    target = check("https://idp.internal:443/keys/jwks.json", "https://idp.internal/keys/")
    assert (target.port, target.address, target.authority) == (443, "10.1.2.3", "idp.internal")
    assert check("http://idp.internal/x", "http://idp.internal:80").path == "/x"


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8080@evil.example.com/jwks/",
        "http://127.0.0.1:8080@127.0.0.1:8080/jwks/",
        "https://127.0.0.1:8080/jwks/a.json",
        "http://127.0.0.1:8081/jwks/a.json",
        "http://127.0.0.1/jwks/a.json",
        "http://localhost:8080/jwks/a.json",
        "http://2130706433:8080/jwks/a.json",
        "http://127.0.0.1:8080/jwksx/a.json",
        "http://127.0.0.1:8080/jwks",
        "http://127.0.0.1:8080/jwks/../admin",
        "http://127.0.0.1:8080/jwks/%2E%2E/admin",
        "https://jwks.example.com/jwks/",
    ],
)
def test_uris_outside_every_trusted_prefix_are_refused(uri: str) -> None:
    refused(uri, PREFIX, "https://idp.internal/keys/")


@pytest.mark.parametrize(
    "prefix", ["ftp://127.0.0.1/", "http://user@127.0.0.1/", "http://127.0.0.1/?tenant=a", "http://0x7f.1/"]
)
def test_a_trusted_prefix_that_is_not_a_plain_uri_is_a_value_error(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        AddressGuard((prefix,))


def test_is_public_checks_the_ipv4_address_a_6to4_address_embeds() -> None:
    assert is_public(ip_address(PUBLIC_V4))
    assert is_public(ip_address(PUBLIC_V6))
    assert is_public(ip_address("2002:5db8:d70e::1"))
    assert not is_public(ip_address("2002:c0a8:101::1"))


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4), st.sampled_from(["{}", "{:#x}", "0{:o}"]))
def test_every_spelling_inet_aton_reads_is_refused_unless_canonical_and_public(
    parts: list[int], spelling: str
) -> None:
    host = ".".join(spelling.format(part) for part in parts)
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return
    canonical = str(IPv4Address(packed))
    if host == canonical and is_public(IPv4Address(packed)):
        assert check(f"https://{host}/").address == canonical
    else:
        refused(f"https://{host}/")

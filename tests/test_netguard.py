"""The address guard: every spelling of a private address is refused, public ones pass."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtseal import JwksUnavailable, JwksUriNotAllowed
from jwtseal._netguard import AddressGuard, Resolver, Target, is_public, resolve

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


def test_6to4_is_refused_whole_whatever_ipv4_address_it_embeds() -> None:
    assert is_public(ip_address(PUBLIC_V4))
    assert is_public(ip_address(PUBLIC_V6))
    assert not is_public(ip_address("2002:5db8:d70e::1"))
    assert not is_public(ip_address("2002:c0a8:101::1"))
    assert "address" in refused("https://[2002:808:808::1]/")


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


def _edges(network: IPv4Network | IPv6Network) -> list[str]:
    """The first, a middle and the last address of ``network``."""
    middle = network.network_address + network.num_addresses // 2
    return [str(network.network_address), str(middle), str(network.broadcast_address)]


# The IANA special-purpose registries (IPv4 and IPv6), written out here a second
# time so that a range dropped from the guard's table fails a test.
IANA_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.9/32", "192.0.0.10/32", "192.0.0.170/31",
    "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
    "255.255.255.255/32", "224.0.0.0/4",
]  # fmt: skip
IANA_V6 = [
    "::1/128", "::/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64",
    "2001::/23", "2001::/32", "2001:1::1/128", "2001:1::2/128", "2001:1::3/128", "2001:2::/48",
    "2001:3::/32", "2001:4:112::/48", "2001:10::/28", "2001:20::/28", "2001:30::/28", "2001:db8::/32",
    "2002::/16", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
    "::/96", "::ffff:0:0:0/96", "fec0::/10", "ff00::/8", "4000::/2", "::/3",
]  # fmt: skip


@pytest.mark.parametrize("network", IANA_V4 + IANA_V6)
def test_every_address_of_every_special_purpose_range_is_refused_on_any_interpreter(network: str) -> None:
    for address in _edges(ip_network(network)):
        assert not is_public(ip_address(address)), address
        host = f"[{address}]" if ":" in address else address
        assert "address" in refused(f"https://{host}/jwks.json")


@pytest.mark.parametrize(
    "address",
    [
        "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
        "191.255.255.255", "192.0.1.0", "192.0.3.0", "192.88.98.255", "192.88.100.0", "192.167.255.255",
        "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
        "2001:200::1", "2001:4860:4860::8888", "2001:db9::1", "2003::1", "2606:4700::1111",
        "3ffe:ffff::1", "3fff:1000::1",
    ],
)  # fmt: skip
def test_addresses_just_outside_the_special_ranges_are_public(address: str) -> None:
    assert is_public(ip_address(address))
    host = f"[{address}]" if ":" in address else address
    assert check(f"https://{host}/jwks.json").address == address


SPECIAL_NAMES = [
    "localhost", "localhost.", "LOCALHOST", "api.localhost", "api.localhost.", "idp.internal",
    "printer.local", "box.localdomain", "router.home.arpa", "1.0.0.127.in-addr.arpa", "ipv4only.arpa",
    "x.invalid", "jwks.test", "jwks.example", "abc.onion", "x.alt", "nas.lan", "idp.corp", "wiki.home",
    "intranet", "idp.private",
]  # fmt: skip


@pytest.mark.parametrize("name", SPECIAL_NAMES)
def test_special_use_names_are_refused_before_any_lookup(name: str) -> None:
    calls: list[str] = []
    with pytest.raises(JwksUriNotAllowed, match="special-use name"):
        check(f"https://{name}/jwks.json", calls=calls)
    assert calls == []


@pytest.mark.parametrize("name", ["localhost", "localhost.", "api.localhost"])
def test_localhost_is_refused_by_name_without_asking_the_system_resolver(name: str) -> None:
    calls: list[str] = []

    async def system_resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return await resolve(host, port)

    assert asyncio.run(resolve("localhost", 443))  # the system resolver would answer
    with pytest.raises(JwksUriNotAllowed, match="special-use name"):
        asyncio.run(AddressGuard(resolver=system_resolver).check(f"https://{name}/jwks.json"))
    assert calls == []


@pytest.mark.parametrize("name", ["jwks.example.com", "internal.example.com", "example.com.test.example.com"])
def test_names_that_only_contain_a_special_label_are_looked_up(name: str) -> None:
    calls: list[str] = []
    with contextlib.suppress(JwksUriNotAllowed, KeyError):
        check(f"https://{name}/jwks.json", calls=calls)
    assert calls == [name]


def test_trusted_prefixes_still_allow_special_names_and_addresses() -> None:
    calls: list[str] = []
    target = check("https://idp.internal/keys/jwks.json", "https://idp.internal/keys/", calls=calls)
    assert (target.address, calls) == ("10.1.2.3", ["idp.internal"])
    assert check("http://[fd00::1]:8080/jwks/a", "http://[fd00::1]:8080/jwks/").address == "fd00::1"
    assert check("https://192.0.0.9/jwks/a", "https://192.0.0.9/jwks/").address == "192.0.0.9"

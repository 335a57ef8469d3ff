"""Addresses and names that never lead to a public JWKS, written out from IANA's registries.

Python's ``ipaddress`` flags (``is_global``, ``is_private``) change between
interpreter versions (3.11 lets 192.0.0.0/24, 3fff::/20 and 5f00::/16
through; 3.13 calls 2002::/16 private), so the guard keeps its own tables:

- the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
  its updates), every entry refused whatever its "Globally Reachable" column
  says: the reachable ones are protocol anycast, AS112 and relay services
  that never host a JWKS, and a refused JWKS host can still be listed in
  ``JWTSEAL_TRUSTED_JWKS_URIS``;
- 6to4 (2002::/16) refused whole: a relay picked by routing carries the
  traffic, RFC 7526 deprecated the mechanism, and its embedded IPv4 address
  is one more thing to get wrong;
- ranges outside those registries that are not unicast or are deprecated:
  IPv4 multicast, IPv4-compatible and IPv4-translated IPv6, site-local and
  multicast IPv6; and any IPv6 address outside 2000::/3, the only block IANA
  allocates as global unicast;
- the Special-Use Domain Names registry (RFC 6761 and later), ICANN's
  ``internal`` (2024), and the private top-level names RFC 6762 appendix G
  lists, refused before any lookup.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final

__all__ = ["GLOBAL_UNICAST_V6", "SPECIAL_NAMES", "SPECIAL_V4", "SPECIAL_V6", "is_special", "is_special_name"]

SPECIAL_V4: Final = tuple(
    IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network" (RFC 791)
        "10.0.0.0/8",  # private use (RFC 1918)
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback (RFC 1122)
        "169.254.0.0/16",  # link local, cloud metadata services (RFC 3927)
        "172.16.0.0/12",  # private use (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments, with .9 and .10 anycast (RFC 6890)
        "192.0.2.0/24",  # documentation TEST-NET-1 (RFC 5737)
        "192.31.196.0/24",  # AS112-v4 (RFC 7535)
        "192.52.193.0/24",  # AMT (RFC 7450)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",  # private use (RFC 1918)
        "192.175.48.0/24",  # direct delegation AS112 service (RFC 7534)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # documentation TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771), not unicast at all
        "240.0.0.0/4",  # reserved (RFC 1112)
        "255.255.255.255/32",  # limited broadcast (RFC 919)
    )
)

SPECIAL_V6: Final = tuple(
    IPv6Network(network)
    for network in (
        "::/128",  # unspecified (RFC 4291)
        "::1/128",  # loopback (RFC 4291)
        "::/96",  # deprecated IPv4-compatible (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291)
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
        "64:ff9b::/96",  # IPv4/IPv6 translation, NAT64 (RFC 6052)
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "100:0:0:1::/64",  # dummy IPv6 prefix (RFC 9780)
        "2001::/23",  # IETF protocol assignments: Teredo, ORCHID, anycast, AMT, AS112 (RFC 2928)
        "2001:db8::/32",  # documentation (RFC 3849)
        "2002::/16",  # 6to4 (RFC 3056), refused whole: see the module docstring
        "2620:4f:8000::/48",  # direct delegation AS112 service (RFC 7534)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing SIDs (RFC 9602)
        "fc00::/7",  # unique local (RFC 4193)
        "fe80::/10",  # link-local unicast (RFC 4291)
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "ff00::/8",  # multicast (RFC 4291)
    )
)

GLOBAL_UNICAST_V6: Final = IPv6Network("2000::/3")

SPECIAL_NAMES: Final = frozenset(
    {
        "localhost",  # RFC 6761: always loopback
        "localdomain",  # the common default domain of a host's own name
        "local",  # multicast DNS (RFC 6762)
        "internal",  # private use (ICANN, 2024)
        "invalid",  # RFC 6761: never resolves
        "test",  # RFC 6761: testing
        "example",  # RFC 6761: documentation
        "onion",  # Tor (RFC 7686)
        "alt",  # non-DNS namespaces (RFC 9476)
        "arpa",  # infrastructure: home.arpa (RFC 8375), in-addr.arpa, ipv4only.arpa
        "home",  # RFC 6762 appendix G: private names in common use
        "lan",
        "corp",
        "intranet",
        "private",
    }
)


def is_special(address: IPv4Address | IPv6Address) -> bool:
    """Whether ``address`` lies in a refused range (see the module docstring)."""
    if isinstance(address, IPv4Address):
        return any(address in network for network in SPECIAL_V4)
    return address not in GLOBAL_UNICAST_V6 or any(address in network for network in SPECIAL_V6)


def is_special_name(host: str) -> bool:
    """Whether ``host`` (lower case, one trailing dot allowed) is or ends in a special-use name."""
    return host.removesuffix(".").rsplit(".", 1)[-1] in SPECIAL_NAMES

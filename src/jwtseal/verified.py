"""VerifiedToken: what an application gets once every check passed."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import _jws
from .claims import Claims

__all__ = ["VerifiedToken", "scopes_of"]


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose signature and claims passed every configured check."""

    claims: Claims
    _header: _jws.Header

    @property
    def header(self) -> dict[str, Any]:
        """A deep copy: the parsed header is cached and shared by every token of its key."""
        return copy.deepcopy(dict(self._header.members))

    @property
    def kid(self) -> str:
        return str(self._header.kid)

    @property
    def alg(self) -> str:
        return str(self._header.alg)

    @property
    def issuer(self) -> str | None:
        """The ``iss`` claim, when it is a string."""
        iss = self.claims.get("iss")
        return iss if isinstance(iss, str) else None

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim, when it is a string."""
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes: see :func:`scopes_of`."""
        return scopes_of(self.claims)


def scopes_of(claims: Claims) -> frozenset[str]:
    """Scopes from ``scope`` (RFC 8693/9068: space-separated) and ``scp`` (a list or a string)."""
    names: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            names.update(value.split())
        elif isinstance(value, list):
            names.update(item for item in value if isinstance(item, str))
    return frozenset(names)

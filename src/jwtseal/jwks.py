"""A public JSON Web Key Set, parsed once into verifying keys by ``kid``."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType
from typing import Any, Final

from .errors import InvalidKey, JwksUnavailable
from .keys import VerifyingKey

__all__ = ["MAX_KEYS", "PublicKeySet"]

MAX_KEYS: Final = 100
"""More keys than any real issuer publishes; bounds the memory of a cached set."""


class PublicKeySet:
    """The usable keys of a JWKS document.

    Keys that are not for signatures, of an unsupported type or curve, weak
    (RSA under 2048 bits) or invalid are skipped; private members are
    ignored; a ``kid`` that two keys share is unusable rather than guessed.
    """

    def __init__(self, keys: dict[str, VerifyingKey]) -> None:
        self._keys = MappingProxyType(keys)

    @classmethod
    def from_document(cls, document: Any) -> PublicKeySet:
        """Parse ``{"keys": [...]}``.

        Raises:
            JwksUnavailable: the document is not a key set.
        """
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise JwksUnavailable('The JWKS is not a {"keys": [...]} key set.')
        if len(entries) > MAX_KEYS:
            raise JwksUnavailable(f"The JWKS has more than {MAX_KEYS} keys.")
        usable = [key for key in map(_usable, entries) if key is not None]
        counts = Counter(key.kid for key in usable)
        return cls({key.kid: key for key in usable if counts[key.kid] == 1})

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def find(self, kid: str) -> VerifyingKey | None:
        return self._keys.get(kid)


def _usable(entry: Any) -> VerifyingKey | None:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    try:
        return VerifyingKey.from_jwk(entry)
    except InvalidKey:
        return None

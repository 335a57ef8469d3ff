"""Strict base64url without padding (RFC 7515 section 2).

Python's decoder silently skips foreign characters and accepts non-zero
trailing bits, so two different strings could decode to the same bytes.
Here every input has exactly one spelling.
"""

from __future__ import annotations

import base64
import re
from typing import Final

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE: Final = {char: index for index, char in enumerate(_ALPHABET)}
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]*")
# Unused low bits of the last character, by the segment's length modulo 4.
_SPARE_BITS_MASK: Final = {0: 0, 2: 0b1111, 3: 0b11}


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Decode one canonical segment.

    Raises:
        ValueError: a foreign character, padding, an impossible length or
            non-zero spare bits.
    """
    mask = _SPARE_BITS_MASK.get(len(segment) % 4)
    if mask is None or not _SEGMENT.fullmatch(segment):
        raise ValueError("not canonical base64url")
    if mask and _VALUE[segment[-1]] & mask:
        raise ValueError("not canonical base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))

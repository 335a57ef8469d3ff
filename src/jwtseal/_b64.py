"""Strict base64url without padding (RFC 7515 section 2).

Python's decoder silently skips foreign characters and accepts non-zero
trailing bits, so two different strings could decode to the same bytes.
Here every input has exactly one spelling.
"""

from __future__ import annotations

import binascii
from typing import Final

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE: Final = {char: index for index, char in enumerate(_ALPHABET)}
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
_FROM_STANDARD: Final = bytes.maketrans(b"+/", b"-_")
_PADDING: Final = (b"", b"", b"==", b"=")
# Unused low bits of the last character, by the segment's length modulo 4.
_SPARE_BITS_MASK: Final = {0: 0, 2: 0b1111, 3: 0b11}


def b64url_encode_bytes(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_FROM_STANDARD).rstrip(b"=")


def b64url_encode(data: bytes) -> str:
    return b64url_encode_bytes(data).decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Decode one canonical segment.

    Raises:
        ValueError: a foreign character, padding, an impossible length or
            non-zero spare bits.
    """
    data = segment.encode("ascii")  # UnicodeEncodeError is a ValueError
    # "+", "/" and "=" are deleted, so a changed length means one was there;
    # strict mode refuses every other character outside the alphabet.
    standard = data.translate(_TO_STANDARD, b"+/=")
    mask = _SPARE_BITS_MASK.get(len(data) % 4)
    if mask is None or len(standard) != len(data):
        raise ValueError("not canonical base64url")
    decoded = binascii.a2b_base64(standard + _PADDING[len(data) % 4], strict_mode=True)
    if mask and _VALUE[segment[-1]] & mask:
        raise ValueError("not canonical base64url")
    return decoded

"""Strict base64url without padding (RFC 7515 section 2).

Python's decoder silently skips foreign characters and accepts non-zero
trailing bits, so two different strings could decode to the same bytes.
Here every input has exactly one spelling.
"""

from __future__ import annotations

import binascii
from typing import Final

_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The 6-bit value of each alphabet byte (other bytes never get this far).
_VALUE: Final = bytes(_ALPHABET.find(byte) % 64 for byte in range(256))
# "-" and "_" become their standard spelling; "+", "/" and "=" become "!",
# which strict mode refuses like every other character outside the alphabet.
_TO_STANDARD: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_FROM_STANDARD: Final = bytes.maketrans(b"+/", b"-_")
_PADDING: Final = (b"", b"", b"==", b"=")
# Unused low bits of the last character, by the segment's length modulo 4.
_SPARE_BITS_MASK: Final = (0, None, 0b1111, 0b11)
_a2b_base64: Final = binascii.a2b_base64  # one lookup fewer per segment


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
    return b64url_decode_bytes(segment.encode("ascii"))  # UnicodeEncodeError is a ValueError


def b64url_decode_bytes(data: bytes) -> bytes:
    """:func:`b64url_decode` for a segment already in bytes (one copy fewer).

    Raises:
        ValueError: see :func:`b64url_decode`.
    """
    spare = len(data) % 4
    mask = _SPARE_BITS_MASK[spare]
    if mask is None:
        raise ValueError("not canonical base64url")
    decoded = _a2b_base64(data.translate(_TO_STANDARD) + _PADDING[spare], strict_mode=True)
    if mask and _VALUE[data[-1]] & mask:
        raise ValueError("not canonical base64url")
    return decoded

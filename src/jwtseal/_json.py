"""Strict JSON for token segments: UTF-8, no duplicate members, no NaN.

Duplicate member names are the classic parser-differential hole (two parsers
read two different claims from one token), so they are refused outright.
Nesting is bounded by :data:`MAX_DEPTH`, the same on every interpreter and for
every caller, so ``/encode`` never issues claims that ``/decode`` refuses.
"""

from __future__ import annotations

import json
import math
from _json import make_encoder, make_scanner
from typing import Any, Final

MAX_DEPTH: Final = 64
"""The deepest nesting of objects and arrays accepted anywhere: ``{}`` is 1."""


def too_deep(value: Any) -> bool:
    """Whether ``value`` nests objects and arrays deeper than :data:`MAX_DEPTH`, walked without recursion."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(MAX_DEPTH):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_float=_finite, parse_constant=_no_constant
)
# The C scanner itself: ``raw_decode`` is only a Python frame around it.
_SCAN: Final = make_scanner(_DECODER)  # type: ignore[arg-type]  # any decoder is a context, as in json


def loads_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object strictly.

    Raises:
        ValueError: not UTF-8, not JSON, not an object, nested deeper than
            :data:`MAX_DEPTH`, a duplicate member or a non-finite number.
    """
    try:
        text = data.decode("utf-8")
        value, end = _SCAN(text, 0) if text[:1] == "{" else (None, -1)
        if end != len(text):  # whitespace around it, or not an object: the full path decides
            value = _DECODER.decode(text)
    except StopIteration as exc:  # what the scanner raises for "{" followed by nothing valid
        raise ValueError("not JSON") from exc
    except RecursionError as exc:
        raise ValueError("too deeply nested") from exc
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")  # noqa: TRY004 - one error type for every parse failure
    if text.count("[") + text.count("{") > MAX_DEPTH and too_deep(value):  # counting is cheap; walk rarely
        raise ValueError("too deeply nested")
    return value


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# The C encoder that ``_ENCODER.encode`` builds on every call, built once.
# No circular-reference markers: a cycle ends in RecursionError, reported
# like any nesting too deep to write (markers would also go stale after an
# error, since the C encoder does not remove them when it bails out).
_ENCODE: Final = make_encoder(
    None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
)


def dumps_compact(value: Any) -> bytes:
    """Serialize without whitespace, refusing NaN and infinities.

    Raises:
        ValueError: NaN or an infinity, a lone surrogate (not UTF-8), or
            nesting too deep to write.
    """
    try:
        return "".join(_ENCODE(value, 0)).encode()
    except RecursionError as exc:  # parsed just under the limit, one frame short to write
        raise ValueError("too deeply nested") from exc


# The same, ASCII-only (non-ASCII escaped as \uXXXX) for HTTP answers: what
# ``json.dumps(value, separators=(",", ":"))`` writes, without the encoder it
# builds on every call, which cost more than the rest of an answer's JSON.
_ENCODE_ASCII: Final = make_encoder(
    None, _ENCODER.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
)


def dumps_ascii(value: Any) -> bytes:
    """Serialize without whitespace, escaping every non-ASCII character.

    Raises:
        ValueError: NaN or an infinity.
    """
    return "".join(_ENCODE_ASCII(value, 0)).encode("ascii")

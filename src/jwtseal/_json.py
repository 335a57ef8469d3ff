"""Strict JSON for token segments: UTF-8, no duplicate members, no NaN, bounded depth.

Duplicate member names are the classic parser-differential hole (two parsers
read two different claims from one token), so they are refused outright.

Only the ``json`` module's public API is used, so every interpreter that runs
the package parses the same way. Nesting is bounded by :data:`MAX_DEPTH`,
jwtseal's own limit, checked on the text before any parser recurses: the
interpreter's recursion limit (which differs between versions and between its
C and Python code) is never what decides whether a token parses. The same
bound holds for claims being issued, so ``/encode`` never issues claims that
``/decode`` refuses.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, Final

MAX_DEPTH: Final = 64
"""How deeply arrays and objects may nest in a document read: ``{"a": [1]}`` is 2.

Far beyond any claim set, and far below any interpreter's recursion limit.
"""

# A JSON string, escapes included (unrolled so it runs in linear time); what
# is left once they are removed holds no bracket that is not structure.
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


def too_deep(text: str) -> bool:
    """Whether ``text`` nests deeper than :data:`MAX_DEPTH` (for any JSON, valid or not).

    The caller first counts the opening brackets, which settles almost every
    document at C speed: only one with more brackets than the limit comes
    here, to have its strings removed and its depth measured.
    """
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH


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


def loads_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object strictly.

    Raises:
        ValueError: not UTF-8, not JSON, not an object, nested deeper than
            :data:`MAX_DEPTH`, a duplicate member or a non-finite number.
    """
    text = data.decode("utf-8")
    if text.count("[") + text.count("{") > MAX_DEPTH and too_deep(text):
        raise ValueError("too deeply nested")
    # raw_decode alone for the usual bare object; whitespace around it or
    # anything else takes the full path, which decides.
    value, end = _DECODER.raw_decode(text) if text[:1] == "{" else (None, -1)
    if end != len(text):
        value = _DECODER.decode(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")  # noqa: TRY004 - one error type for every parse failure
    return value


# No circular-reference markers: a cycle ends in RecursionError, reported like
# any nesting too deep to write.
_COMPACT: Final = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
)


def dumps_compact(value: Any) -> bytes:
    """Serialize without whitespace, refusing NaN and infinities.

    Raises:
        ValueError: NaN or an infinity, a lone surrogate (not UTF-8), or
            nesting too deep to write.
    """
    try:
        return _COMPACT.encode(value).encode()
    except RecursionError as exc:  # deeper than the interpreter can write at all, or a cycle
        raise ValueError("too deeply nested") from exc


# The same, ASCII-only (non-ASCII escaped as \uXXXX) for HTTP answers.
_ASCII: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False)


def dumps_ascii(value: Any) -> bytes:
    """Serialize without whitespace, escaping every non-ASCII character.

    Raises:
        ValueError: NaN or an infinity.
    """
    return _ASCII.encode(value).encode("ascii")

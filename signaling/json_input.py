"""JSON from outside the server: one strict reader for request bodies and signaling messages.

Python's ``json`` accepts more than a court's server can use, and what it accepts beyond
RFC 8259 surfaced later as 500s: a number of thousands of digits (``int()`` refuses it with
a plain ``ValueError``), a lone UTF-16 surrogate such as ``"\\ud800"`` (a ``str`` that
SQLite, Redis, hashing and JWT cannot encode), ``NaN`` and ``Infinity``. Everything read
here is refused at the edge with one typed error, code ``bad_json``, that says why.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidRequest

# Longer literals are not numbers anyone means (a duration, a protocol version, a bitrate);
# int() of thousands of digits is also quadratic.
MAX_NUMBER_CHARS = 40


class _Unusable(ValueError):
    """Raised by the parser hooks; becomes the caller's typed error."""


def _whole_number(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Unusable(f"has a number longer than {MAX_NUMBER_CHARS} characters")
    return int(literal)


def _number(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Unusable(f"has a number longer than {MAX_NUMBER_CHARS} characters")
    return float(literal)


def _constant(literal: str) -> Any:
    raise _Unusable(f"has {literal}, which is not a JSON number")


def _has_lone_surrogate(data: Any) -> bool:
    # Iterative: json has already bounded the depth, a recursive walk would risk it again.
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)  # the keys, as texts
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def load_json(
    raw: str | bytes, *, what: str, error: type[InvalidRequest] = InvalidRequest
) -> Any:
    """Parse ``raw``; anything but usable JSON raises ``error`` with code ``bad_json``.

    ``what`` names the input in the message ("the request body", "the message").
    """
    try:
        data = json.loads(
            raw, parse_int=_whole_number, parse_float=_number, parse_constant=_constant
        )
    except _Unusable as exc:
        raise error(f"{what} {exc}", code="bad_json") from None
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; nesting too deep recurses.
    except (ValueError, RecursionError):
        raise error(f"{what} is not valid JSON", code="bad_json") from None
    if _has_lone_surrogate(data):
        raise error(
            f"{what} has text with a lone UTF-16 surrogate (such as \\ud800), "
            "which is not a Unicode character",
            code="bad_json",
        )
    return data

"""Reading and validating JSON request bodies: unknown fields, wrong types, size."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from signaling.errors import InvalidRequest, RequestTooLarge
from signaling.json_input import load_json

# Dates outside these years are typing mistakes or probes; inside them every sum the server
# makes (an end, a link window, a day of listings) stays within Python's calendar.
MIN_YEAR, MAX_YEAR = 1970, 2999


async def read_json_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; refuse a body over ``max_bytes`` before reading it all."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise RequestTooLarge(f"the request body may be at most {max_bytes} bytes")
    body = await request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise RequestTooLarge(f"the request body may be at most {max_bytes} bytes")
    data = load_json(body or b"null", what="the request body")
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object", code="bad_json")
    return data


def check_fields(
    data: dict[str, Any], required: set[str], optional: frozenset[str] = frozenset()
) -> None:
    """Refuse unknown and missing fields, naming them."""
    unknown = sorted(set(data) - required - optional)
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", code="unknown_field",
                             field=unknown[0])
    missing = sorted(required - set(data))
    if missing:
        raise InvalidRequest(f"missing field {missing[0]!r}", code="missing_field",
                             field=missing[0])


def string_field(data: dict[str, Any], name: str) -> str:
    """A field that must be a string."""
    value = data[name]
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string", code="wrong_type", field=name)
    return value


def int_field(data: dict[str, Any], name: str) -> int:
    """A field that must be a whole number (not a boolean, not a float)."""
    value = data[name]
    if type(value) is not int:
        raise InvalidRequest(f"{name} must be a whole number", code="wrong_type", field=name)
    return value


def datetime_field(data: dict[str, Any], name: str) -> datetime:
    """An ISO 8601 date and time with a UTC offset, from 1970 to 2999; others are refused."""
    raw = string_field(data, name)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be a real ISO 8601 date and time, such as 2026-12-01T10:00:00+05:00",
            code="invalid_date",
            field=name,
        ) from None
    if value.tzinfo is None:
        raise InvalidRequest(f"{name} must include a UTC offset, such as +05:00",
                             code="invalid_date", field=name)
    try:
        year = value.astimezone(UTC).year
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the first day Python knows
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidRequest(f"{name} must lie between the years {MIN_YEAR} and {MAX_YEAR}",
                             code="invalid_date", field=name)
    return value


def query_datetime(request: web.Request, name: str) -> datetime | None:
    """An optional ISO 8601 query parameter with a UTC offset."""
    raw = request.query.get(name)
    if raw is None:
        return None
    return datetime_field({name: raw}, name)

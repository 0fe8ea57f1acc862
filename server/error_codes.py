"""The one table mapping typed errors to HTTP statuses and WebSocket close codes."""

from __future__ import annotations

from signaling.errors import (
    Conflict,
    Forbidden,
    HearingEnded,
    InternalError,
    InvalidRequest,
    LinkInvalid,
    LinkRevoked,
    MessageTooLarge,
    NotAuthenticated,
    NotFound,
    ProtocolViolation,
    QashyqError,
    RateLimited,
    Removed,
    RequestTooLarge,
    SlowClient,
    TooEarly,
)
from signaling.room_member import Replaced

# Most specific first: the first class an error is an instance of decides.
_TABLE: tuple[tuple[type[QashyqError], int, int], ...] = (
    (MessageTooLarge, 413, 4413),
    (RequestTooLarge, 413, 4413),
    (ProtocolViolation, 400, 4400),
    (InvalidRequest, 400, 4400),
    (NotAuthenticated, 401, 4401),
    (LinkInvalid, 401, 4401),
    (LinkRevoked, 403, 4403),
    (Removed, 403, 4403),
    (Forbidden, 403, 4403),
    (TooEarly, 425, 4408),
    (HearingEnded, 410, 4410),
    (NotFound, 404, 4404),
    (Replaced, 409, 4409),
    (Conflict, 409, 4409),
    (SlowClient, 503, 4429),
    # Answered with a non-fatal error frame, never a close; 1008 should it ever end one.
    (RateLimited, 429, 1008),
    (InternalError, 500, 1011),
)


def http_status(error: QashyqError) -> int:
    """The HTTP status for an error raised while serving a request."""
    for cls, status, _ in _TABLE:
        if isinstance(error, cls):
            return status
    return 500


def ws_close_code(error: QashyqError | None) -> int:
    """The WebSocket close code for the error that ended a session (None: normal, 1000)."""
    if error is None:
        return 1000
    for cls, _, code in _TABLE:
        if isinstance(error, cls):
            return code
    return 1011

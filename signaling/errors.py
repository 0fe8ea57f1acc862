"""Typed errors of the hearing domain.

Every failure a user can cause has a class here with a stable ``code``; the edge
(``server/error_codes.py``) maps each class to an HTTP status and a WebSocket close
code in one table, so no handler invents its own numbers::

    QashyqError
    ├── InvalidRequest          bad input: unknown field, wrong type, impossible date
    │   └── ProtocolViolation   a signaling message that breaks the protocol
    ├── RequestTooLarge         a body or message over the size limit
    │   └── MessageTooLarge
    ├── NotAuthenticated        no or wrong admin token
    │   ├── WrongCredentialKind an admin token where a station credential belongs, or back
    │   ├── AdminTokenExpired   an admin token past its expiry
    │   ├── AdminTokenRevoked   an admin token revoked with ``qashyq admin-token --revoke``
    │   └── EnrolmentCodeInvalid a station's enrolment code: malformed, used or expired
    ├── LinkError               a participant link that cannot be used
    │   ├── LinkInvalid         bad signature, malformed, expired, alg none
    │   ├── LinkRevoked         the clerk revoked it
    │   │   └── StationRevoked  the clerk revoked the workstation it was fetched from
    │   ├── TooEarly            before the join window opens (carries the start time)
    │   └── HearingEnded        the hearing is over
    ├── Forbidden               the role may not do that
    ├── NotFound
    ├── Conflict                e.g. adding a participant to an ended hearing
    ├── Removed                 a host removed the participant
    │   └── RemovedForFlooding  the server removed a page that kept sending too fast
    ├── RateLimited             a page sent one kind of message too often (not fatal)
    ├── SlowClient              the client did not read its messages in time
    ├── HandshakeTimeout        no hello in time
    └── InternalError           a bug on our side; logged, the page is told to rejoin
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class QashyqError(Exception):
    """Base of every error Qashyq reports to a user; ``code`` is stable across releases."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        """The JSON body sent to clients: a stable code and a human message."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidRequest(QashyqError):
    """The request is malformed or violates a rule; nothing was stored."""

    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        if code is not None:
            self.code = code


class ProtocolViolation(InvalidRequest):
    """A signaling message broke the protocol (handshake, schema)."""

    code = "protocol_error"


class RequestTooLarge(QashyqError):
    """A request body over the configured limit."""

    code = "too_large"


class MessageTooLarge(RequestTooLarge):
    """A signaling message over the configured limit."""

    code = "message_too_large"


class NotAuthenticated(QashyqError):
    """No admin token, or a token that is not known."""

    code = "not_authenticated"


class WrongCredentialKind(NotAuthenticated):
    """An admin token on a station endpoint, or a station credential on an admin one."""

    code = "wrong_credential_kind"


class AdminTokenExpired(NotAuthenticated):
    """An admin token past the expiry it was issued with."""

    code = "admin_token_expired"


class AdminTokenRevoked(NotAuthenticated):
    """An admin token that was revoked."""

    code = "admin_token_revoked"


class EnrolmentCodeInvalid(NotAuthenticated):
    """A station enrolment code that is malformed, unknown, already used or expired."""

    code = "enrolment_code_invalid"


class LinkError(QashyqError):
    """A participant link that cannot be used to join."""

    code = "link_error"


class LinkInvalid(LinkError):
    """The link's token is malformed, wrongly signed, expired or for nothing we know."""

    code = "link_invalid"


class LinkRevoked(LinkError):
    """The clerk revoked this participant's link."""

    code = "link_revoked"


class StationRevoked(LinkRevoked):
    """The clerk revoked this workstation: its credential and links it fetched stop working."""

    code = "station_revoked"


class TooEarly(LinkError):
    """The join window has not opened yet."""

    code = "too_early"

    def __init__(self, starts_at: datetime, opens_at: datetime) -> None:
        super().__init__(
            f"the hearing starts at {starts_at.isoformat()}; the link opens at "
            f"{opens_at.isoformat()}",
            starts_at=starts_at.isoformat(),
            opens_at=opens_at.isoformat(),
        )


class HearingEnded(LinkError):
    """The hearing is over; nobody can join it any more."""

    code = "hearing_ended"


class Forbidden(QashyqError):
    """The participant's role does not allow this action."""

    code = "forbidden"


class NotFound(QashyqError):
    """No such hearing, participant or recording."""

    code = "not_found"


class Conflict(QashyqError):
    """The action does not fit the current state (e.g. the hearing has ended)."""

    code = "conflict"


class Removed(QashyqError):
    """A host removed the participant from the hearing."""

    code = "removed"


class RemovedForFlooding(Removed):
    """The server removed a page that kept exceeding its message rates."""

    code = "flooding"


class RateLimited(QashyqError):
    """A page sent one kind of message more often than allowed; that message was dropped."""

    code = "rate_limited"

    def __init__(self, kind: str, retry_after_s: float) -> None:
        super().__init__(
            f"too many {kind} messages; wait {retry_after_s:.1f} s before the next",
            kind=kind,
            retry_after_s=round(retry_after_s, 3),
        )


class SlowClient(QashyqError):
    """The client did not keep up with its messages and was dropped."""

    code = "slow_client"


class HandshakeTimeout(ProtocolViolation):
    """The client did not say hello in time."""

    code = "handshake_timeout"


class InternalError(QashyqError):
    """Something failed on the server's side; details are in the server log only."""

    code = "internal_error"

"""Signed participant links: one JWT per participant, checked on every connect.

The algorithm is fixed server-side (HS256); tokens that name another algorithm, including
``none``, are refused before their signature is even considered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from .errors import LinkInvalid, TooEarly
from .model import Hearing, Participant, Role

ALGORITHM = "HS256"
ISSUER = "qashyq"


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link says: who may join which hearing with what role."""

    hearing_id: str
    participant_id: str
    role: Role
    link_id: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    # Set when a facility workstation fetched the link: it stops working if the station is
    # revoked or the participant is moved to another one.
    station_id: str | None = None


@dataclass(frozen=True)
class LinkPolicy:
    """When links open and close relative to the schedule."""

    opens_before_start: timedelta = timedelta(minutes=30)
    closes_after_end: timedelta = timedelta(hours=2)

    def __post_init__(self) -> None:
        if self.opens_before_start < timedelta(0) or self.closes_after_end < timedelta(0):
            raise ValueError("link windows must not be negative")


class LinkSigner:
    """Issues and verifies participant links with one server secret."""

    def __init__(self, secret: bytes, policy: LinkPolicy | None = None) -> None:
        if len(secret) < 32:
            raise ValueError("the link secret must be at least 32 bytes")
        self._secret = secret
        self.policy = policy or LinkPolicy()

    def issue(
        self,
        hearing: Hearing,
        participant: Participant,
        now: datetime,
        station_id: str | None = None,
    ) -> str:
        """A signed token for this participant of this hearing (fetched by ``station_id``)."""
        not_before = hearing.starts_at - self.policy.opens_before_start
        expires = hearing.ends_at + self.policy.closes_after_end
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "hid": hearing.id,
            "sub": participant.id,
            "role": participant.role.value,
            "lid": participant.link_id,
            "iat": int(now.timestamp()),
            "nbf": int(not_before.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        if station_id is not None:
            claims["stn"] = station_id
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: object, now: datetime) -> LinkClaims:
        """The claims of a valid token; raise ``LinkInvalid`` or ``TooEarly`` otherwise.

        Revocation and the hearing's state are checked by the caller against the store,
        because they change after the token was signed.
        """
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise LinkInvalid("the link is malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise LinkInvalid("the link is malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise LinkInvalid("the link is signed with an algorithm this server does not accept")
        try:
            # nbf is checked below so the error can name the start time.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": ["iss", "hid", "sub", "role", "lid", "iat", "nbf", "exp"],
                    "verify_nbf": False,
                    "verify_exp": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise LinkInvalid("the link's signature is not valid") from exc
        except jwt.PyJWTError as exc:
            raise LinkInvalid("the link is malformed") from exc
        try:
            role = Role(claims["role"])
            not_before = datetime.fromtimestamp(int(claims["nbf"]), now.tzinfo)
            expires = datetime.fromtimestamp(int(claims["exp"]), now.tzinfo)
            issued = datetime.fromtimestamp(int(claims["iat"]), now.tzinfo)
            hearing_id, participant_id, link_id = claims["hid"], claims["sub"], claims["lid"]
        except (ValueError, TypeError, KeyError) as exc:
            raise LinkInvalid("the link is malformed") from exc
        if not all(isinstance(v, str) for v in (hearing_id, participant_id, link_id)):
            raise LinkInvalid("the link is malformed")
        station_id = claims.get("stn")
        if station_id is not None and not isinstance(station_id, str):
            raise LinkInvalid("the link is malformed")
        if now >= expires:
            raise LinkInvalid("the link has expired", expired_at=expires.isoformat())
        if now < not_before:
            raise TooEarly(not_before + self.policy.opens_before_start, not_before)
        return LinkClaims(hearing_id, participant_id, role, link_id, issued, not_before, expires,
                          station_id)

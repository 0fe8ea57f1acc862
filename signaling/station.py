"""Detention facility workstations ("stations"): enrolment codes and station credentials.

A clerk creates a station and hands its one-time enrolment code to the facility (as a link
``/station#enrol=<code>``). The workstation's browser exchanges the code, once and before it
expires, for a long-lived credential that it keeps; the clerk can revoke the station at any
time. The server keeps only SHA-256 hashes of codes and credentials: both are random, so a
plain hash cannot be reversed, and a stolen database enrols nobody.

Both secrets name their station (``qe_<station id>.<secret>`` and ``qs_<station id>.<secret>``),
so a check is one store read by id and a constant-time hash comparison, with no index on hashes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import EnrolmentCodeInvalid, InvalidRequest, NotAuthenticated, StationRevoked

CREDENTIAL_PREFIX = "qs_"
ENROLMENT_CODE_PREFIX = "qe_"
MAX_SECRET_LENGTH = 200


class StationStatus(StrEnum):
    """Where a station stands, as the clerk's page shows it."""

    AWAITING_ENROLMENT = "awaiting_enrolment"
    ENROLMENT_EXPIRED = "enrolment_expired"
    ENROLLED = "enrolled"
    REVOKED = "revoked"


def secret_hash(secret: str) -> str:
    """The stored form of a code or credential."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _matches(secret: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(secret_hash(secret), stored_hash)


def _text(value: object, name: str, limit: int) -> None:
    if not (isinstance(value, str) and 0 < len(value.strip()) <= limit):
        raise InvalidRequest(f"{name} must be 1 to {limit} characters", code="invalid_field",
                             field=name)


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidRequest(f"{name} must be a timezone-aware date and time",
                             code="invalid_field", field=name)


def _station_id_in(secret: object, prefix: str) -> str | None:
    """The station id a code or credential names, or None if it is malformed."""
    if not isinstance(secret, str) or len(secret) > MAX_SECRET_LENGTH:
        return None
    if not secret.startswith(prefix):
        return None
    station_id, dot, rest = secret[len(prefix):].partition(".")
    if not dot or not station_id.startswith("s_") or len(rest) < 16:
        return None
    return station_id


def station_id_of_code(code: object) -> str:
    """The station an enrolment code is for; ``EnrolmentCodeInvalid`` if malformed."""
    station_id = _station_id_in(code, ENROLMENT_CODE_PREFIX)
    if station_id is None:
        raise EnrolmentCodeInvalid("the enrolment code is malformed", reason="malformed")
    return station_id


def station_id_of_credential(credential: object) -> str:
    """The station a credential is for; ``NotAuthenticated`` if malformed."""
    station_id = _station_id_in(credential, CREDENTIAL_PREFIX)
    if station_id is None:
        raise NotAuthenticated("the station credential is malformed")
    return station_id


@dataclass(frozen=True)
class Station:
    """An enrolled (or awaiting enrolment) facility workstation; hashes only, never secrets."""

    id: str
    name: str
    facility: str
    created_at: datetime
    credential_hash: str | None = None
    enrolled_at: datetime | None = None
    enrolment_code_hash: str | None = None
    enrolment_expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.id, str) and self.id.startswith("s_") and "." not in self.id):
            raise InvalidRequest("a station id starts with s_ and has no dot",
                                 code="invalid_field", field="id")
        _text(self.name, "name", 80)
        _text(self.facility, "facility", 120)
        for name in ("created_at", "enrolled_at", "enrolment_expires_at", "revoked_at"):
            _aware(getattr(self, name), name)
        if self.created_at is None:
            raise InvalidRequest("created_at is required", code="invalid_field",
                                 field="created_at")
        if (self.enrolment_code_hash is None) != (self.enrolment_expires_at is None):
            raise InvalidRequest("an enrolment code needs an expiry and the other way round",
                                 code="invalid_field", field="enrolment_expires_at")

    @classmethod
    def create(
        cls, station_id: str, name: str, facility: str, now: datetime, valid_for: timedelta
    ) -> tuple[Station, str]:
        """A new station and its first enrolment code (returned once, stored hashed)."""
        station = cls(id=station_id, name=name, facility=facility, created_at=now)
        return station.with_new_enrolment_code(now, valid_for)

    @property
    def revoked(self) -> bool:
        """True once the clerk has revoked the station."""
        return self.revoked_at is not None

    def status(self, now: datetime) -> StationStatus:
        """Revoked, enrolled, or waiting for its code to be used (or past its expiry)."""
        if self.revoked_at is not None:
            return StationStatus.REVOKED
        if self.credential_hash is not None:
            return StationStatus.ENROLLED
        if self.enrolment_expires_at is not None and now < self.enrolment_expires_at:
            return StationStatus.AWAITING_ENROLMENT
        return StationStatus.ENROLMENT_EXPIRED

    def with_new_enrolment_code(self, now: datetime, valid_for: timedelta) -> tuple[Station, str]:
        """This station with a fresh one-time code (replacing any unused one), and the code.

        A credential already in use keeps working until the new code is used, so a clerk can
        prepare a replacement workstation without cutting the old one off early.
        """
        if self.revoked:
            raise StationRevoked("this workstation was revoked; create a new one")
        code = f"{ENROLMENT_CODE_PREFIX}{self.id}.{secrets.token_urlsafe(24)}"
        station = dataclasses.replace(
            self, enrolment_code_hash=secret_hash(code), enrolment_expires_at=now + valid_for
        )
        return station, code

    def enrolled(self, code: str, now: datetime) -> tuple[Station, str]:
        """Exchange a valid, unexpired, unused code for a new credential (returned once)."""
        if self.revoked:
            raise StationRevoked("this workstation was revoked by the court")
        if not _matches(code, self.enrolment_code_hash):
            # A used code no longer matches: using it clears the stored hash.
            raise EnrolmentCodeInvalid(
                "the enrolment code was already used or replaced; ask the clerk for a new link",
                reason="used",
            )
        assert self.enrolment_expires_at is not None  # set together with the hash
        if now >= self.enrolment_expires_at:
            raise EnrolmentCodeInvalid(
                "the enrolment code has expired; ask the clerk for a new link",
                reason="expired",
                expired_at=self.enrolment_expires_at.isoformat(),
            )
        credential = f"{CREDENTIAL_PREFIX}{self.id}.{secrets.token_urlsafe(32)}"
        station = dataclasses.replace(
            self,
            credential_hash=secret_hash(credential),
            enrolled_at=now,
            enrolment_code_hash=None,
            enrolment_expires_at=None,
        )
        return station, credential

    def check_credential(self, credential: str) -> None:
        """Raise unless ``credential`` is this station's current, unrevoked credential."""
        if not _matches(credential, self.credential_hash):
            raise NotAuthenticated("the station credential is not known to this server")
        if self.revoked:
            raise StationRevoked("this workstation was revoked by the court")

    def revoked_now(self, now: datetime) -> Station:
        """This station revoked at ``now`` (its credential and any unused code stop working)."""
        if self.revoked:
            return self
        return dataclasses.replace(
            self, revoked_at=now, enrolment_code_hash=None, enrolment_expires_at=None
        )

    def public_json(self, now: datetime) -> dict[str, Any]:
        """What the clerk's API shows: no hashes."""
        return {
            "id": self.id,
            "name": self.name,
            "facility": self.facility,
            "status": self.status(now).value,
            "created_at": self.created_at.isoformat(),
            "enrolled_at": self.enrolled_at.isoformat() if self.enrolled_at else None,
            "enrolment_expires_at": (
                self.enrolment_expires_at.isoformat() if self.enrolment_expires_at else None
            ),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON form the stores keep (hashes included)."""
        body = {
            "id": self.id,
            "name": self.name,
            "facility": self.facility,
            "created_at": self.created_at.isoformat(),
            "credential_hash": self.credential_hash,
            "enrolment_code_hash": self.enrolment_code_hash,
        }
        for name in ("enrolled_at", "enrolment_expires_at", "revoked_at"):
            value: datetime | None = getattr(self, name)
            body[name] = value.isoformat() if value else None
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Station:
        """Rebuild a station stored with :meth:`to_json`."""

        def when(name: str) -> datetime | None:
            raw = data.get(name)
            return datetime.fromisoformat(raw) if raw else None

        created = when("created_at")
        assert created is not None, "a stored station has a creation time"
        return cls(
            id=data["id"],
            name=data["name"],
            facility=data["facility"],
            created_at=created,
            credential_hash=data.get("credential_hash"),
            enrolled_at=when("enrolled_at"),
            enrolment_code_hash=data.get("enrolment_code_hash"),
            enrolment_expires_at=when("enrolment_expires_at"),
            revoked_at=when("revoked_at"),
        )

"""The hearing domain: hearings, participants, roles, audit events.

Values are frozen dataclasses that validate in ``__post_init__``, so an invalid hearing
cannot exist in memory, in a store, or in a response.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

# The hearing pins its video codec; the media plane defines what the codecs are.
from media import VideoCodec as VideoCodec

from .errors import InvalidRequest


class Role(StrEnum):
    """What a participant is in the hearing; it decides what they may do."""

    JUDGE = "judge"
    MEDIATOR = "mediator"
    CLERK = "clerk"
    PROSECUTOR = "prosecutor"
    LAWYER = "lawyer"
    DEFENDANT = "defendant"
    PLAINTIFF = "plaintiff"
    RESPONDENT = "respondent"
    WITNESS = "witness"
    INTERPRETER = "interpreter"
    OBSERVER = "observer"

    @property
    def is_host(self) -> bool:
        """Hosts run the hearing: they skip the lobby and moderate."""
        return self in HOST_ROLES

    @property
    def can_publish(self) -> bool:
        """Observers (public, press) see and hear but never publish."""
        return self is not Role.OBSERVER


HOST_ROLES = frozenset({Role.JUDGE, Role.MEDIATOR, Role.CLERK})


class HearingKind(StrEnum):
    """A court hearing is run by a judge; a reconciliation session by a mediator."""

    COURT = "court"
    MEDIATION = "mediation"


class Language(StrEnum):
    """Languages of the interface; a hearing's language is the page's starting language."""

    KK = "kk"
    RU = "ru"
    EN = "en"


MAX_DURATION_MINUTES = 24 * 60


def new_id(prefix: str) -> str:
    """A short, URL-safe, unguessable identifier such as ``h_3fZ...``."""
    return f"{prefix}_{secrets.token_urlsafe(9)}"


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _require(condition: bool, message: str, code: str = "invalid_field", **details: Any) -> None:
    if not condition:
        raise InvalidRequest(message, code=code, **details)


def _aware(value: datetime, name: str) -> None:
    _require(
        isinstance(value, datetime) and value.tzinfo is not None,
        f"{name} must be a timezone-aware date and time",
        field=name,
    )


# Publishers' video bitrate cap per hearing (kbit/s), all simulcast layers together: 1000
# sends 720p, 360p and 180p layers; a weak uplink's own congestion control drops the upper
# layers by itself, so the cap is a court's policy, not what makes a phone work. 64 is the
# floor below which VP8 is useless.
DEFAULT_MAX_VIDEO_KBPS = 1000
MIN_VIDEO_KBPS, MAX_VIDEO_KBPS = 64, 4000


@dataclass(frozen=True)
class Hearing:
    """A scheduled hearing or mediation session."""

    id: str
    case_number: str
    title: str
    kind: HearingKind
    starts_at: datetime
    duration_minutes: int
    language: Language
    created_at: datetime
    video_codec: VideoCodec = VideoCodec.VP8
    ended_at: datetime | None = None
    # Each publisher's camera is capped at this (pages apply it to their video sender).
    max_video_kbps: int = DEFAULT_MAX_VIDEO_KBPS

    def __post_init__(self) -> None:
        _require(bool(self.id), "hearing id is empty")
        _require(
            isinstance(self.case_number, str) and 0 < len(self.case_number.strip()) <= 64,
            "case_number must be 1 to 64 characters",
            field="case_number",
        )
        _require(
            isinstance(self.title, str) and 0 < len(self.title.strip()) <= 200,
            "title must be 1 to 200 characters",
            field="title",
        )
        _require(isinstance(self.kind, HearingKind), "kind must be court or mediation")
        _require(isinstance(self.language, Language), "language must be kk, ru or en")
        _require(isinstance(self.video_codec, VideoCodec), "video_codec must be vp8 or h264")
        _aware(self.starts_at, "starts_at")
        _aware(self.created_at, "created_at")
        _require(
            type(self.duration_minutes) is int
            and 0 < self.duration_minutes <= MAX_DURATION_MINUTES,
            f"duration_minutes must be a whole number from 1 to {MAX_DURATION_MINUTES}",
            field="duration_minutes",
        )
        if self.ended_at is not None:
            _aware(self.ended_at, "ended_at")
        _require(
            type(self.max_video_kbps) is int
            and MIN_VIDEO_KBPS <= self.max_video_kbps <= MAX_VIDEO_KBPS,
            f"max_video_kbps must be a whole number from {MIN_VIDEO_KBPS} to {MAX_VIDEO_KBPS}",
            field="max_video_kbps",
        )

    @property
    def ends_at(self) -> datetime:
        """The scheduled end."""
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def host_role(self) -> Role:
        """Who presides: a judge in court, a mediator in mediation."""
        return Role.JUDGE if self.kind is HearingKind.COURT else Role.MEDIATOR

    def ended(self, at: datetime) -> Hearing:
        """This hearing, ended at ``at``."""
        return dataclasses.replace(self, ended_at=at)

    def summary_json(self) -> dict[str, Any]:
        """What a participant's page or a station is told about the hearing."""
        return {
            "id": self.id,
            "case_number": self.case_number,
            "title": self.title,
            "kind": self.kind.value,
            "language": self.language.value,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        """The public JSON form used by the API and the stores."""
        return {
            "id": self.id,
            "case_number": self.case_number,
            "title": self.title,
            "kind": self.kind.value,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "duration_minutes": self.duration_minutes,
            "language": self.language.value,
            "video_codec": self.video_codec.value,
            "max_video_kbps": self.max_video_kbps,
            "created_at": self.created_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hearing:
        """Rebuild a hearing stored with :meth:`to_json`."""
        return cls(
            id=data["id"],
            case_number=data["case_number"],
            title=data["title"],
            kind=HearingKind(data["kind"]),
            starts_at=datetime.fromisoformat(data["starts_at"]),
            duration_minutes=int(data["duration_minutes"]),
            language=Language(data["language"]),
            video_codec=VideoCodec(data.get("video_codec", "vp8")),
            max_video_kbps=int(data.get("max_video_kbps", DEFAULT_MAX_VIDEO_KBPS)),
            created_at=datetime.fromisoformat(data["created_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]) if data.get("ended_at") else None,
        )


@dataclass(frozen=True)
class Participant:
    """A person invited to a hearing, with the role their link grants."""

    id: str
    hearing_id: str
    display_name: str
    role: Role
    created_at: datetime
    link_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    revoked_at: datetime | None = None
    # The facility workstation this participant joins from, if any (see signaling.station).
    station_id: str | None = None

    def __post_init__(self) -> None:
        _require(
            isinstance(self.display_name, str) and 0 < len(self.display_name.strip()) <= 80,
            "display_name must be 1 to 80 characters",
            field="display_name",
        )
        _require(isinstance(self.role, Role), "unknown role", code="unknown_role")
        _aware(self.created_at, "created_at")
        _require(
            self.station_id is None or (isinstance(self.station_id, str) and bool(self.station_id)),
            "station_id must be a station id or null",
            field="station_id",
        )

    @property
    def revoked(self) -> bool:
        """True once the clerk has revoked the link."""
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by the stores (the API hides ``link_id``)."""
        return {
            "id": self.id,
            "hearing_id": self.hearing_id,
            "display_name": self.display_name,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "link_id": self.link_id,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "station_id": self.station_id,
        }

    def public_json(self) -> dict[str, Any]:
        """What the API and other participants may see."""
        body = self.to_json()
        del body["link_id"]
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Participant:
        """Rebuild a participant stored with :meth:`to_json`."""
        return cls(
            id=data["id"],
            hearing_id=data["hearing_id"],
            display_name=data["display_name"],
            role=Role(data["role"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            link_id=data["link_id"],
            revoked_at=(
                datetime.fromisoformat(data["revoked_at"]) if data.get("revoked_at") else None
            ),
            # Participants stored before stations existed have no station_id.
            station_id=data.get("station_id"),
        )


@dataclass(frozen=True)
class AuditEvent:
    """One entry of a hearing's audit timeline."""

    hearing_id: str
    at: datetime
    kind: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _aware(self.at, "at")
        _require(bool(self.kind), "event kind is empty")

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by the API and the stores."""
        return {
            "hearing_id": self.hearing_id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEvent:
        """Rebuild an event stored with :meth:`to_json`."""
        return cls(
            hearing_id=data["hearing_id"],
            at=datetime.fromisoformat(data["at"]),
            kind=data["kind"],
            actor=data["actor"],
            data=dict(data.get("data") or {}),
        )

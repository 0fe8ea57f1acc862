"""How long the court keeps a hearing's record, and the legal hold that suspends deletion.

The rule: a hearing expires ``days`` after it ended, or after its scheduled end if it was
never ended (``Hearing.ended_at``, else ``Hearing.ends_at``). An expired hearing is deleted
(its recording, participants, links and timeline) unless it is under a legal hold; what
was deleted, when and by which rule is kept in the court-wide timeline, which is never
deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidRequest
from .model import Hearing

MAX_HOLD_REASON = 500


@dataclass(frozen=True)
class RetentionRule:
    """Keep each hearing this many days after its end."""

    days: int

    def __post_init__(self) -> None:
        if type(self.days) is not int or self.days < 1:
            raise ValueError(f"a retention period is a whole number of days, not {self.days!r}")

    def expires_at(self, hearing: Hearing) -> datetime:
        """When the hearing may be deleted: its end (or scheduled end) plus the period."""
        return (hearing.ended_at or hearing.ends_at) + timedelta(days=self.days)

    def expired(self, hearing: Hearing, now: datetime) -> bool:
        """True once the hearing's retention period is over."""
        return now >= self.expires_at(hearing)

    def describe(self) -> str:
        """The rule in words, as the audit timeline records it."""
        return (f"QASHYQ_RETENTION_DAYS={self.days}: deleted {self.days} days after the "
                "hearing ended (its scheduled end if it was never ended)")


@dataclass(frozen=True)
class LegalHold:
    """A hearing the court must keep whatever its retention period (e.g. an appeal)."""

    hearing_id: str
    placed_at: datetime
    placed_by: str
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not 0 < len(self.reason.strip()) <= MAX_HOLD_REASON:
            raise InvalidRequest(f"reason must be 1 to {MAX_HOLD_REASON} characters",
                                 code="invalid_field", field="reason")

    def to_json(self) -> dict[str, Any]:
        """The form used by the API and the stores."""
        return {
            "hearing_id": self.hearing_id,
            "placed_at": self.placed_at.isoformat(),
            "placed_by": self.placed_by,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LegalHold:
        """Rebuild a hold stored with :meth:`to_json`."""
        return cls(
            hearing_id=data["hearing_id"],
            placed_at=datetime.fromisoformat(data["placed_at"]),
            placed_by=data["placed_by"],
            reason=data["reason"],
        )

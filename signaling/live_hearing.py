"""What a hearing in progress must keep beyond one process: who sits in it, and the record.

A court cannot lose a hearing because the server restarted or crashed. The room keeps a
``LiveHearing`` in the store whenever its seats or its record change, and refreshes
``alive_at`` while it runs; a new process resumes every hearing it finds: the same seats
(no lobby for those already admitted), the record on again if it was on, and the gap
between ``alive_at`` and the restart in the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LiveHearing:
    """The durable part of one open hearing's live state."""

    hearing_id: str
    opened_at: datetime
    # Admitted participants: a return goes straight back to the hearing, never the lobby.
    admitted: frozenset[str]
    # Of those, who had a page (or a reconnection grace) at ``alive_at``: after a restart
    # they are "reconnecting" for the others until they return or the grace runs out.
    present: frozenset[str]
    on_record: bool
    # The last moment this hearing's server was known to run it.
    alive_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "hearing_id": self.hearing_id,
            "opened_at": self.opened_at.isoformat(),
            "admitted": sorted(self.admitted),
            "present": sorted(self.present),
            "on_record": self.on_record,
            "alive_at": self.alive_at.isoformat(),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LiveHearing:
        """Read the stored form back."""
        return cls(
            hearing_id=str(body["hearing_id"]),
            opened_at=datetime.fromisoformat(body["opened_at"]),
            admitted=frozenset(str(p) for p in body["admitted"]),
            present=frozenset(str(p) for p in body.get("present", ())),
            on_record=bool(body["on_record"]),
            alive_at=datetime.fromisoformat(body["alive_at"]),
        )

"""Who is in one hearing: the pages present, the admitted seats, the reconnection graces.

Kept apart from the room's moderation so that what must outlive the process (a
``LiveHearing``) is read from, and restored into, one place.
"""

from __future__ import annotations

from datetime import datetime

from .live_hearing import LiveHearing
from .model import Participant
from .reconnection import ReconnectGrace
from .room_member import Seat
from .roster import Presence


class RoomSeats:
    """The participants one room knows, where they sit, and who is reconnecting."""

    def __init__(self, grace: ReconnectGrace) -> None:
        self.present: dict[str, Presence] = {}
        # Admission survives a dropped connection: a reconnect does not go back to the lobby.
        self.admitted: set[str] = set()
        self.grace = grace

    def presence(self, participant_id: str) -> Presence | None:
        """A participant known to the room, connected or not."""
        return self.present.get(participant_id)

    def seat_of(self, participant_id: str) -> Seat | None:
        """Where a connected participant sits, or None if not connected."""
        presence = self.present.get(participant_id)
        if presence is None or presence.member is None:
            return None
        return Seat.ADMITTED if participant_id in self.admitted else Seat.LOBBY

    def connected_ids(self) -> list[str]:
        """Participants with a live connection."""
        return [pid for pid, p in self.present.items() if p.member is not None]

    def lobby_ids(self) -> list[str]:
        """Connected participants waiting to be admitted, in arrival order."""
        return [pid for pid in self.connected_ids() if pid not in self.admitted]

    def is_reconnecting(self, participant_id: str) -> bool:
        """Dropped, and the seat is still kept for them."""
        return self.grace.is_reconnecting(participant_id)

    def is_here(self, participant_id: str) -> bool:
        """Connected, or dropped within the reconnection grace."""
        presence = self.present.get(participant_id)
        return presence is not None and (presence.member is not None
                                         or self.grace.is_reconnecting(participant_id))

    @property
    def idle(self) -> bool:
        """Nobody connected and nobody within a reconnection grace."""
        return not any(self.is_here(pid) for pid in self.present)

    def live_state(self, hearing_id: str, *, opened_at: datetime, on_record: bool,
                   now: datetime) -> LiveHearing:
        """The seats as a restart needs them."""
        present = {pid for pid in self.admitted if self.is_here(pid)}
        return LiveHearing(hearing_id, opened_at, frozenset(self.admitted),
                           frozenset(present), on_record=on_record, alive_at=now)

    def resume(self, live: LiveHearing, participants: dict[str, Participant]) -> list[Presence]:
        """Take the seats back: the same people admitted, and those who were present
        reconnecting until they return or their grace runs out. Returns the latter."""
        self.admitted = {pid for pid in live.admitted if pid in participants}
        returning = []
        for pid in sorted(live.present & self.admitted):
            presence = Presence(participants[pid])
            self.present[pid] = presence
            self.grace.start(pid)
            returning.append(presence)
        return returning

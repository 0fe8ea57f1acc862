"""How a hearing room sees a connected page, and where it sits.

Kept apart from ``hearing_room`` so the session and the server can name these without the
room's whole state machine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from .errors import QashyqError, Removed
from .model import Participant
from .protocol import PageMessage


class Denied(Removed):
    """A host turned the participant away from the lobby."""

    code = "denied"


class Replaced(QashyqError):
    """The same participant connected again from another page."""

    code = "replaced"


class Seat(StrEnum):
    """Where a connected participant sits."""

    LOBBY = "lobby"
    ADMITTED = "admitted"


class HearingState(StrEnum):
    """Scheduled until a host joins; open; ended for good."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    ENDED = "ended"


class RoomMember(Protocol):
    """A connected participant page, as the room sees it."""

    @property
    def participant(self) -> Participant:
        """Who is connected."""

    def send(self, message: PageMessage) -> None:
        """Queue a message for the page; never blocks (a slow page is dropped instead)."""

    def terminate(self, error: QashyqError) -> None:
        """Tell the page why and close its connection; never blocks."""

"""How a hearing room sees a connected page, and where it sits.

Kept apart from ``hearing_room`` so the session and the server can name these without the
room's whole state machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

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


# A User-Agent is the client's own claim and can be any length: the trail keeps enough.
USER_AGENT_CHARS = 200


@dataclass(frozen=True)
class PageClient:
    """Where a page connected from: a link used by someone else leaves this in the trail."""

    address: str | None = None
    user_agent: str | None = None

    def audit_fields(self) -> dict[str, Any]:
        """The fields a join, rejoin or replacement records."""
        return {
            "address": self.address,
            "user_agent": None if self.user_agent is None
            else self.user_agent[:USER_AGENT_CHARS],
        }


class RoomMember(Protocol):
    """A connected participant page, as the room sees it."""

    @property
    def participant(self) -> Participant:
        """Who is connected."""

    @property
    def client(self) -> PageClient:
        """Where the page connected from."""

    def send(self, message: PageMessage) -> None:
        """Queue a message for the page; never blocks (a slow page is dropped instead)."""

    def terminate(self, error: QashyqError) -> None:
        """Tell the page why and close its connection; never blocks."""

"""How a hearing room sees a connected page, where it sits, and the SFU it drives.

Kept apart from ``hearing_room`` so the session and the server can name these without the
room's whole state machine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from media.hearing_media import ParticipantQuality

from .errors import QashyqError, Removed
from .model import Participant


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

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the page; never blocks (a slow page is dropped instead)."""

    def terminate(self, error: QashyqError) -> None:
        """Tell the page why and close its connection; never blocks."""


class MediaPlane(Protocol):
    """The SFU of one hearing, as the room drives it (see ``media.hearing_media``)."""

    async def add_participant(self, participant_id: str, *, can_publish: bool) -> None:
        """Start media for an admitted participant: the server sends an offer."""

    async def apply_answer(self, participant_id: str, sdp: str) -> None:
        """The page's answer to the server's last offer."""

    async def remove_participant(self, participant_id: str) -> None:
        """Tear the participant's media down; others stop receiving it."""

    def set_muted(self, participant_id: str, muted: bool) -> None:
        """Server-side mute: stop forwarding the participant's audio."""

    def set_video_enabled(self, participant_id: str, receive_video: bool) -> None:
        """Stop (or resume) forwarding video to a participant (audio-only mode)."""

    def quality(self, participant_id: str) -> ParticipantQuality:
        """The server's RTCP view of the participant's link."""

    async def close(self) -> None:
        """Stop all media; idempotent."""

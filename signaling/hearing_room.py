"""The live state of one hearing on this node: who is connected, the lobby, moderation.

The room knows nothing of WebSockets: it talks to each connected page through the
``RoomMember`` protocol, and to the media plane through ``MediaPlane``. Every action is
checked against the actor's role here, on the server, whatever the page shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from media.errors import MediaError

from .audit import ADMIN_ACTOR, AuditTrail
from .errors import (
    Conflict,
    Forbidden,
    HearingEnded,
    InvalidRequest,
    LinkRevoked,
    NotFound,
    QashyqError,
    Removed,
)
from .model import Hearing, Participant, utc_now

log = logging.getLogger(__name__)


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

    async def close(self) -> None:
        """Stop all media; idempotent."""


@dataclass
class _Presence:
    participant: Participant
    member: RoomMember | None = None
    hand: bool = False
    muted: bool = False
    audio: bool = True
    video: bool = True


class HearingRoom:
    """Live state of one hearing on this node."""

    def __init__(
        self,
        hearing: Hearing,
        audit: AuditTrail,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.hearing = hearing
        self._audit = audit
        self._media: MediaPlane | None = None
        self._clock = clock
        self._present: dict[str, _Presence] = {}
        # Admission survives a dropped connection: a reconnect does not go back to the lobby.
        self._admitted: set[str] = set()
        self._state = HearingState.ENDED if hearing.ended_at else HearingState.SCHEDULED
        self._lock = asyncio.Lock()

    def attach_media(self, media: MediaPlane) -> None:
        """Give the room its SFU (the room is the SFU's ``MediaSignal``)."""
        self._media = media

    @property
    def media(self) -> MediaPlane | None:
        """The room's SFU, if this server runs one."""
        return self._media

    async def send_offer(
        self, participant_id: str, sdp: str, streams: dict[str, dict[str, str]]
    ) -> None:
        """``MediaSignal``: relay the SFU's offer to the participant's page."""
        presence = self._present.get(participant_id)
        if presence is not None and presence.member is not None:
            presence.member.send({"type": "offer", "sdp": sdp, "streams": streams})

    # ---- queries -------------------------------------------------------------------------

    @property
    def state(self) -> HearingState:
        """Scheduled, open or ended."""
        return self._state

    def seat_of(self, participant_id: str) -> Seat | None:
        """Where a connected participant sits, or None if not connected."""
        presence = self._present.get(participant_id)
        if presence is None or presence.member is None:
            return None
        return Seat.ADMITTED if participant_id in self._admitted else Seat.LOBBY

    def connected_ids(self) -> list[str]:
        """Participants with a live connection."""
        return [pid for pid, p in self._present.items() if p.member is not None]

    def lobby_ids(self) -> list[str]:
        """Connected participants waiting to be admitted, in arrival order."""
        return [pid for pid in self.connected_ids() if pid not in self._admitted]

    def roster(self, for_host: bool) -> list[dict[str, Any]]:
        """The roster as a page sees it; only hosts see who waits in the lobby."""
        entries = []
        for pid, presence in self._present.items():
            seat = self.seat_of(pid)
            if seat is None or (seat is Seat.LOBBY and not for_host):
                continue
            p = presence.participant
            entries.append(
                {
                    "id": pid,
                    "display_name": p.display_name,
                    "role": p.role.value,
                    "state": seat.value,
                    "connected": True,
                    "muted": presence.muted,
                    "hand": presence.hand,
                    "audio": presence.audio,
                    "video": presence.video,
                }
            )
        return entries

    def permissions(self, participant: Participant) -> list[str]:
        """What this participant's role allows in this room."""
        perms = ["chat", "hand"]
        if participant.role.can_publish:
            perms.append("publish")
        if participant.role.is_host:
            perms += ["admit", "mute", "remove", "end"]
        return perms

    # ---- joining and leaving ---------------------------------------------------------------

    async def join(self, member: RoomMember) -> Seat:
        """Seat a newly connected page: hosts are admitted and open the hearing."""
        participant = member.participant
        async with self._lock:
            if self._state is HearingState.ENDED:
                raise HearingEnded("the hearing has ended")
            presence = self._present.get(participant.id)
            if presence is not None and presence.member is not None:
                presence.member.terminate(Replaced("you joined from another page"))
                if self._media is not None and participant.id in self._admitted:
                    await self._media.remove_participant(participant.id)
            if presence is None:
                presence = _Presence(participant)
                self._present[participant.id] = presence
            presence.participant = participant
            presence.member = member
            presence.hand = False
            rejoined = participant.id in self._admitted
            if participant.role.is_host:
                self._admitted.add(participant.id)
                if self._state is HearingState.SCHEDULED:
                    self._state = HearingState.OPEN
                    await self._audit.record(self.hearing.id, "hearing_opened", participant.id)
            seat = Seat.ADMITTED if participant.id in self._admitted else Seat.LOBBY
            await self._audit.record(
                self.hearing.id,
                "joined" if not rejoined else "rejoined",
                participant.id,
                role=participant.role.value,
                seat=seat.value,
            )
        # The newcomer gets the roster inside its welcome, which must come first.
        self._broadcast_roster(exclude=member)
        return seat

    async def start_media(self, member: RoomMember) -> None:
        """Begin media for an admitted member (after its welcome or admission went out)."""
        participant = member.participant
        if self._media is None or self.seat_of(participant.id) is not Seat.ADMITTED:
            return
        await self._media.add_participant(participant.id, can_publish=participant.role.can_publish)
        presence = self._present[participant.id]
        if presence.muted:
            self._media.set_muted(participant.id, True)

    async def leave(self, member: RoomMember) -> None:
        """Forget a closed page; its seat (admitted or not) is kept for a reconnect."""
        pid = member.participant.id
        async with self._lock:
            presence = self._present.get(pid)
            if presence is None or presence.member is not member:
                return
            presence.member = None
            presence.hand = False
            if self._media is not None:
                await self._media.remove_participant(pid)
            if self._state is not HearingState.ENDED:
                await self._audit.record(self.hearing.id, "left", pid)
        self._broadcast_roster()

    # ---- everyone ------------------------------------------------------------------------------

    async def raise_hand(self, member: RoomMember, raised: bool) -> None:
        """Raise or lower the participant's hand."""
        presence = self._require_admitted(member)
        if presence.hand == raised:
            return
        presence.hand = raised
        await self._audit.record(
            self.hearing.id, "hand_raised" if raised else "hand_lowered", member.participant.id
        )
        self._broadcast_roster()

    async def chat(self, member: RoomMember, text: str) -> None:
        """Send a chat message to every admitted participant (and the sender)."""
        self._require_admitted(member)
        text = text.strip()
        if not text:
            return
        p = member.participant
        at = self._clock()
        await self._audit.record(self.hearing.id, "chat", p.id, text=text)
        self._broadcast(
            {
                "type": "chat",
                "from": p.id,
                "display_name": p.display_name,
                "role": p.role.value,
                "text": text,
                "at": at.isoformat(),
            },
            admitted_only=True,
        )

    async def set_media_state(self, member: RoomMember, audio: bool, video: bool) -> None:
        """The participant switched their own microphone or camera."""
        presence = self._require_admitted(member)
        if (presence.audio, presence.video) == (audio, video):
            return
        presence.audio, presence.video = audio, video
        await self._audit.record(
            self.hearing.id, "media_state", member.participant.id, audio=audio, video=video
        )
        self._broadcast_roster()

    async def apply_answer(self, member: RoomMember, sdp: str) -> None:
        """Pass the page's SDP answer to the media plane."""
        self._require_admitted(member)
        if self._media is None:
            raise Conflict("this server has no media plane")
        try:
            await self._media.apply_answer(member.participant.id, sdp)
        except MediaError as error:
            raise InvalidRequest(f"the SDP answer was refused: {error}", code="bad_sdp") from None

    # ---- hosts -------------------------------------------------------------------------------

    async def admit(self, actor: RoomMember | None, participant_id: str) -> None:
        """Let a lobby participant in; ``actor`` None means the clerk through the API."""
        actor_id = self._require_host(actor)
        async with self._lock:
            presence = self._present.get(participant_id)
            if presence is None or presence.member is None or participant_id in self._admitted:
                raise NotFound("nobody with that id waits in the lobby")
            self._admitted.add(participant_id)
            await self._audit.record(self.hearing.id, "admitted", actor_id,
                                     participant_id=participant_id)
            member = presence.member
            member.send({"type": "admitted"})
        self._broadcast_roster()
        await self.start_media(member)

    async def deny(self, actor: RoomMember | None, participant_id: str) -> None:
        """Turn a lobby participant away."""
        actor_id = self._require_host(actor)
        presence = self._present.get(participant_id)
        if presence is None or presence.member is None or participant_id in self._admitted:
            raise NotFound("nobody with that id waits in the lobby")
        await self._audit.record(self.hearing.id, "denied", actor_id,
                                 participant_id=participant_id)
        presence.member.terminate(Denied("the judge did not admit you to this hearing"))

    async def mute(self, actor: RoomMember | None, participant_id: str, muted: bool) -> None:
        """Server-side mute: the participant's audio stops being forwarded."""
        actor_id = self._require_host(actor)
        presence = self._present.get(participant_id)
        if presence is None:
            raise NotFound("no such participant in this hearing")
        if presence.muted == muted:
            return
        presence.muted = muted
        if self._media is not None:
            self._media.set_muted(participant_id, muted)
        await self._audit.record(
            self.hearing.id, "muted" if muted else "unmuted", actor_id,
            participant_id=participant_id,
        )
        if presence.member is not None:
            presence.member.send({"type": "muted", "muted": muted, "by": actor_id})
        self._broadcast_roster()

    async def remove(self, actor: RoomMember | None, participant_id: str) -> None:
        """Remove a participant: their media stops, their page is closed, their seat is lost."""
        actor_id = self._require_host(actor)
        presence = self._present.get(participant_id)
        if presence is None or presence.member is None:
            raise NotFound("no such participant is connected")
        self._admitted.discard(participant_id)
        await self._audit.record(self.hearing.id, "removed", actor_id,
                                 participant_id=participant_id)
        presence.member.terminate(Removed("a host removed you from the hearing"))

    async def revoke(self, participant_id: str) -> None:
        """The clerk revoked the link: close any live page at once."""
        self._admitted.discard(participant_id)
        presence = self._present.get(participant_id)
        if presence is not None and presence.member is not None:
            presence.member.terminate(LinkRevoked("your link was revoked"))

    def authorize_host(self, actor: RoomMember | None) -> None:
        """Raise unless the actor may run the hearing (None: the clerk through the API)."""
        self._require_host(actor)

    async def end(self, actor: RoomMember | None) -> None:
        """End the hearing for everyone; nobody can join it again."""
        actor_id = self._require_host(actor)
        async with self._lock:
            if self._state is HearingState.ENDED:
                return
            self._state = HearingState.ENDED
            await self._audit.record(self.hearing.id, "hearing_ended", actor_id)
            members = [p.member for p in self._present.values() if p.member is not None]
        for member in members:
            member.send({"type": "ended"})
            member.terminate(HearingEnded("the hearing has ended"))
        if self._media is not None:
            await self._media.close()

    async def close(self) -> None:
        """Stop the room's media (the server is shutting down); idempotent."""
        if self._media is not None:
            await self._media.close()

    # ---- internals -----------------------------------------------------------------------------

    def _require_admitted(self, member: RoomMember) -> _Presence:
        presence = self._present.get(member.participant.id)
        if presence is None or presence.member is not member:
            raise Conflict("you are not connected to this hearing")
        if member.participant.id not in self._admitted:
            raise Forbidden("you are waiting in the lobby")
        return presence

    def _require_host(self, actor: RoomMember | None) -> str:
        if self._state is HearingState.ENDED:
            raise HearingEnded("the hearing has ended")
        if actor is None:
            return ADMIN_ACTOR
        if not actor.participant.role.is_host:
            raise Forbidden(
                f"a {actor.participant.role.value} may not do that; only the judge, the "
                "mediator or the clerk may"
            )
        self._require_admitted(actor)
        return actor.participant.id

    def _broadcast_roster(self, exclude: RoomMember | None = None) -> None:
        host_view = {"type": "roster", "participants": self.roster(for_host=True)}
        public_view = {"type": "roster", "participants": self.roster(for_host=False)}
        for presence in self._present.values():
            if presence.member is None or presence.member is exclude:
                continue
            if presence.participant.role.is_host:
                presence.member.send(host_view)
            elif presence.participant.id in self._admitted:
                presence.member.send(public_view)

    def _broadcast(self, message: dict[str, Any], *, admitted_only: bool) -> None:
        for pid, presence in self._present.items():
            if presence.member is None:
                continue
            if admitted_only and pid not in self._admitted:
                continue
            presence.member.send(message)

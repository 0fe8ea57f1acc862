"""What hosts do to others in the hearing (besides admitting them): turn away from the lobby,
mute at the server, remove, and close a revoked link's page; and the server's own removal
of a page that breaks the rules (``expel``).

Every action is checked against the actor's role first (``_require_host``) and audited.
"""

from __future__ import annotations

from typing import Any, Protocol

from media import MediaPlane

from .audit import AuditTrail
from .court_record import SERVER_ACTOR
from .errors import LinkRevoked, NotFound, Removed
from .model import Hearing
from .protocol import muted_message
from .room_member import Denied, RoomMember
from .roster import Presence
from .seats import RoomSeats


class ModeratedRoom(Protocol):
    """What moderation needs of its room."""

    hearing: Hearing
    _audit: AuditTrail
    _seats: RoomSeats

    @property
    def media(self) -> MediaPlane | None:
        """The room's SFU, if any."""

    def _require_host(self, actor: RoomMember | None) -> str: ...

    def lobby_presence(self, participant_id: str) -> Presence: ...

    async def keep(self) -> None: ...

    async def expel(self, member: RoomMember, error: Removed, *, actor_id: str = ...,
                    **why: Any) -> None: ...

    def broadcast_roster(
        self, exclude: RoomMember | None = None, *, hosts_only: bool = False
    ) -> None: ...


class HostModeration:
    """The hosts' moderation of a ``HearingRoom`` (mixed into it)."""

    async def deny(self: ModeratedRoom, actor: RoomMember | None, participant_id: str) -> None:
        """Turn a lobby participant away."""
        actor_id = self._require_host(actor)
        presence = self.lobby_presence(participant_id)
        assert presence.member is not None
        await self._audit.record(self.hearing.id, "denied", actor_id,
                                 participant_id=participant_id)
        presence.member.terminate(Denied("the judge did not admit you to this hearing"))

    async def mute(
        self: ModeratedRoom, actor: RoomMember | None, participant_id: str, muted: bool
    ) -> None:
        """Server-side mute: the participant's audio stops being forwarded."""
        actor_id = self._require_host(actor)
        presence = self._seats.present.get(participant_id)
        if presence is None:
            raise NotFound("no such participant in this hearing")
        if presence.muted == muted:
            return
        presence.muted = muted
        if self.media is not None:
            self.media.set_muted(participant_id, muted)
        await self._audit.record(
            self.hearing.id, "muted" if muted else "unmuted", actor_id,
            participant_id=participant_id,
        )
        if presence.member is not None:
            presence.member.send(muted_message(muted, actor_id))
        self.broadcast_roster()

    async def remove(self: ModeratedRoom, actor: RoomMember | None, participant_id: str) -> None:
        """Remove a participant: their media stops, their page is closed, their seat is lost."""
        actor_id = self._require_host(actor)
        presence = self._seats.present.get(participant_id)
        if presence is None or presence.member is None:
            raise NotFound("no such participant is connected")
        await self.expel(presence.member, Removed("a host removed you from the hearing"),
                         actor_id=actor_id)

    async def expel(self: ModeratedRoom, member: RoomMember, error: Removed, *,
                    actor_id: str = SERVER_ACTOR, **why: Any) -> None:
        """Close a page and take its seat (a host's removal; by default the server's, e.g.
        of a page that keeps sending too fast)."""
        pid = member.participant.id
        self._seats.admitted.discard(pid)
        await self._audit.record(self.hearing.id, "removed", actor_id, participant_id=pid, **why)
        await self.keep()
        member.terminate(error)

    async def revoke(
        self: ModeratedRoom, participant_id: str, reason: LinkRevoked | None = None
    ) -> None:
        """The clerk revoked the link (or the workstation it came from): close any live page."""
        self._seats.admitted.discard(participant_id)
        await self.keep()
        presence = self._seats.present.get(participant_id)
        if presence is not None and presence.member is not None:
            presence.member.terminate(reason or LinkRevoked("your link was revoked"))


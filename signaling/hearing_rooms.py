"""All live hearing rooms of this node, and the checks a link passes before it joins one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt

from media import MediaPlane, MediaSignal, Recorder

from .audit import ADMIN_ACTOR, AuditTrail
from .court_record import CourtRecord
from .errors import HearingEnded, LinkInvalid, LinkRevoked, NotFound, StationRevoked, TooEarly
from .hearing_room import HearingRoom
from .links import LinkSigner
from .model import Hearing, Participant, utc_now
from .room_member import HearingState, RoomMember
from .store import HearingStore


@dataclass(frozen=True)
class RoomMedia:
    """What the server gives a new room: its SFU and, where it records, its recorder."""

    plane: MediaPlane
    recorder: Recorder | None = None


# The room is the SFU's MediaSignal: it relays offers to pages.
MediaFactory = Callable[[Hearing, MediaSignal], RoomMedia]


class HearingRooms:
    """Creates rooms on first use and owns them until the server stops."""

    def __init__(
        self,
        store: HearingStore,
        audit: AuditTrail,
        links: LinkSigner,
        media_factory: MediaFactory | None = None,
        clock: Callable[[], datetime] = utc_now,
        reconnect_grace_s: float = 60.0,
    ) -> None:
        self.store = store
        self.audit = audit
        self.links = links
        self._media_factory = media_factory
        self._clock = clock
        self._reconnect_grace_s = reconnect_grace_s
        self._rooms: dict[str, HearingRoom] = {}
        self._closed = False

    def get(self, hearing_id: str) -> HearingRoom | None:
        """The live room, if anyone has joined the hearing on this node."""
        return self._rooms.get(hearing_id)

    def state_of(self, hearing: Hearing) -> HearingState:
        """Scheduled, open or ended: the stored end wins, then this node's live room."""
        if hearing.ended_at is not None:
            return HearingState.ENDED
        room = self._rooms.get(hearing.id)
        return room.state if room is not None else HearingState.SCHEDULED

    def live_rooms(self) -> list[HearingRoom]:
        """Every room on this node."""
        return list(self._rooms.values())

    def room_for(self, hearing: Hearing) -> HearingRoom:
        """The room of a hearing, created on first use."""
        room = self._rooms.get(hearing.id)
        if room is None:
            room = HearingRoom(hearing, self.audit, self._clock,
                               reconnect_grace_s=self._reconnect_grace_s)
            if self._media_factory is not None:
                media = self._media_factory(hearing, room)
                room.attach_media(media.plane)
                if media.recorder is not None:
                    room.attach_record(CourtRecord(hearing, media.recorder, self.audit))
            self._rooms[hearing.id] = room
        return room

    async def admit_link(self, token: object) -> tuple[Hearing, Participant]:
        """Check a link against its signature, the store and the schedule.

        Revocation and the hearing's end are read from the store on every connect, so a
        revoked link stops working at once even though its signature stays valid.
        """
        now = self._clock()
        try:
            claims = self.links.verify(token, now)
        except TooEarly:
            # Name the hearing's real start time rather than one derived from the token.
            hearing = await self._hearing_of(token)
            if hearing is None:
                raise
            opens = hearing.starts_at - self.links.policy.opens_before_start
            raise TooEarly(hearing.starts_at, opens) from None
        hearing = await self.store.get_hearing(claims.hearing_id)
        participant = await self.store.get_participant(claims.hearing_id, claims.participant_id)
        if hearing is None or participant is None:
            raise LinkInvalid("the link is for a hearing or participant that does not exist")
        if participant.link_id != claims.link_id or participant.role is not claims.role:
            raise LinkInvalid("the link does not match the participant it names")
        if participant.revoked:
            raise LinkRevoked("this link was revoked by the court")
        if claims.station_id is not None:
            await self._check_station(claims.station_id, participant)
        room = self._rooms.get(hearing.id)
        if hearing.ended_at is not None or (room is not None and room.state == "ended"):
            raise HearingEnded("the hearing has ended")
        return hearing, participant

    async def _check_station(self, station_id: str, participant: Participant) -> None:
        """A link a workstation fetched works only while it is that participant's station."""
        station = await self.store.get_station(station_id)
        if station is None or station.revoked:
            raise StationRevoked("this workstation was revoked by the court")
        if participant.station_id != station_id:
            raise LinkRevoked("the participant now joins from another workstation")

    async def _hearing_of(self, token: object) -> Hearing | None:
        try:
            hid = jwt.decode(str(token), options={"verify_signature": False}).get("hid")
        except jwt.PyJWTError:
            return None
        return await self.store.get_hearing(hid) if isinstance(hid, str) else None

    async def end(
        self, hearing_id: str, actor: RoomMember | None = None, admin: str = ADMIN_ACTOR
    ) -> Hearing:
        """End a hearing (a host's page, or the clerk through the API when ``actor`` is None;
        ``admin`` names that clerk's admin token in the timeline when no room is live).

        The room checks the actor's role and closes every page; the end is then stored so
        no link works again, on this node or after a restart.
        """
        room = self._rooms.get(hearing_id)
        hearing = await self.store.get_hearing(hearing_id)
        if hearing is None:
            raise NotFound("no such hearing")
        if room is not None:
            room.authorize_host(actor)
        # Stored first: once pages learn of the end, no link works anywhere any more.
        if hearing.ended_at is None:
            hearing = hearing.ended(self._clock())
            await self.store.save_hearing(hearing)
        if room is not None:
            await room.end(actor)
        else:
            await self.audit.record(hearing_id, "hearing_ended", admin)
        return hearing

    async def revoke(
        self, hearing_id: str, participant_id: str, admin: str = ADMIN_ACTOR
    ) -> Participant:
        """Revoke a participant's link and close their live page (``admin``: the audit
        actor, the admin token's name)."""
        participant = await self.store.get_participant(hearing_id, participant_id)
        if participant is None:
            raise NotFound("no such participant in this hearing")
        if not participant.revoked:
            participant = dataclasses.replace(participant, revoked_at=self._clock())
            await self.store.save_participant(participant)
            await self.audit.record(hearing_id, "link_revoked", admin,
                                    participant_id=participant_id)
        room = self._rooms.get(hearing_id)
        if room is not None:
            await room.revoke(participant_id)
        return participant

    async def close(self) -> None:
        """Stop every room's media; idempotent."""
        if self._closed:
            return
        self._closed = True
        rooms = list(self._rooms.values())
        self._rooms.clear()
        await asyncio.gather(*(room.close() for room in rooms), return_exceptions=True)

"""All live hearing rooms of this node, and the checks a link passes before it joins one.

A room lives while someone is in its hearing: it is released when the hearing ends or its
last page has gone (after the reconnection grace). What must outlive a room or the process
(who is admitted, whether the hearing is on the record) is kept in the store as a
``LiveHearing``; the next room of that hearing, in this process or after a restart, takes
it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt

from media import MediaPlane, MediaSignal, Recorder

from .audit import ADMIN_ACTOR, AuditTrail
from .court_record import SERVER_ACTOR, CourtRecord
from .errors import HearingEnded, LinkInvalid, LinkRevoked, NotFound, StationRevoked, TooEarly
from .hearing_room import HearingRoom
from .links import LinkSigner
from .live_hearing import LiveHearing
from .model import Hearing, Participant, utc_now
from .room_member import HearingState, RoomMember
from .store import HearingStore

log = logging.getLogger(__name__)

# How often an open hearing notes that it still runs: after a crash, the timeline's gap
# starts at most this long before the real one.
ALIVE_EVERY_S = 5.0


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
        # Open hearings with no room on this node: a return takes their seats back up.
        self._resting: dict[str, LiveHearing] = {}
        # One lock per hearing: a room being released and a new one for the same hearing
        # never overlap (they share the recording folder).
        self._hearing_locks: dict[str, asyncio.Lock] = {}
        self._releases: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False

    def get(self, hearing_id: str) -> HearingRoom | None:
        """The live room, if anyone has joined the hearing on this node."""
        return self._rooms.get(hearing_id)

    def state_of(self, hearing: Hearing) -> HearingState:
        """Scheduled, open or ended: the stored end wins, then this node's live room."""
        if hearing.ended_at is not None:
            return HearingState.ENDED
        room = self._rooms.get(hearing.id)
        if room is not None:
            return room.state
        return HearingState.OPEN if hearing.id in self._resting else HearingState.SCHEDULED

    def live_rooms(self) -> list[HearingRoom]:
        """Every room on this node."""
        return list(self._rooms.values())

    async def room_for(self, hearing: Hearing) -> HearingRoom:
        """The room of a hearing, created on first use (taking up a resting hearing)."""
        async with self._lock_of(hearing.id):
            room = self._rooms.get(hearing.id)
            if room is None:
                room = await self._open_room(hearing, self._resting.pop(hearing.id, None))
            return room

    def _lock_of(self, hearing_id: str) -> asyncio.Lock:
        return self._hearing_locks.setdefault(hearing_id, asyncio.Lock())

    async def _open_room(self, hearing: Hearing, live: LiveHearing | None) -> HearingRoom:
        room = HearingRoom(hearing, self.audit, self._clock,
                           reconnect_grace_s=self._reconnect_grace_s,
                           keep=self.store.save_live_hearing, on_idle=self._release_soon)
        if self._media_factory is not None:
            media = self._media_factory(hearing, room)
            room.attach_media(media.plane)
            if media.recorder is not None:
                room.attach_record(CourtRecord(hearing, media.recorder, self.audit))
        self._rooms[hearing.id] = room
        if live is not None:
            participants = {p.id: p for p in await self.store.list_participants(hearing.id)
                            if not p.revoked}
            await room.resume(live, participants)
        return room

    # ---- hearings in progress across restarts -------------------------------------------

    async def resume(self) -> None:
        """After a (re)start: take up every hearing the last process left open.

        Each gets a ``server_restarted`` entry with the last moment the old process was
        known to run it and the moment this one started; its people return to their seats
        without the lobby. Then open hearings note every few seconds that they still run.
        """
        now = self._clock()
        for live in await self.store.list_live_hearings():
            hearing = await self.store.get_hearing(live.hearing_id)
            if hearing is None or hearing.ended_at is not None:
                await self.store.delete_live_hearing(live.hearing_id)
                continue
            if live.present:
                try:
                    async with self._lock_of(hearing.id):
                        await self._open_room(hearing, live)
                except Exception:
                    log.exception("hearing %s could not be resumed", hearing.id)
                    broken = self._rooms.pop(hearing.id, None)
                    if broken is not None:
                        await broken.close()
            if hearing.id not in self._rooms:
                self._resting[hearing.id] = live  # taken up when someone returns
            # After the record is on again, so the record's own timeline shows the gap.
            await self.audit.record(
                hearing.id, "server_restarted", SERVER_ACTOR,
                down_at=live.alive_at.isoformat(), up_at=now.isoformat(),
                gap_s=round((now - live.alive_at).total_seconds(), 1),
            )
        self._heartbeat = asyncio.create_task(self._note_alive(), name="hearings-alive")

    async def _note_alive(self) -> None:
        while True:
            await asyncio.sleep(ALIVE_EVERY_S)
            for room in list(self._rooms.values()):
                try:
                    await room.keep()
                except Exception:  # a store outage must not stop the next beat
                    log.exception("hearing %s: live state not kept", room.hearing.id)

    def _release_soon(self, room: HearingRoom) -> None:
        if self._closed:
            return
        task = asyncio.create_task(self._release(room), name=f"release-{room.hearing.id}")
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, room: HearingRoom) -> None:
        """The last page went: free the room, its media and tasks; the seats rest in the
        store (the room kept them there as the last page left) until someone returns."""
        hearing_id = room.hearing.id
        async with self._lock_of(hearing_id):
            if self._rooms.get(hearing_id) is not room or not room.idle:
                return  # someone came back meanwhile
            live = room.live_state()
            if live is not None:
                self._resting[hearing_id] = live
            del self._rooms[hearing_id]
            await room.close()

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
            await room.end(actor, admin)
        else:
            await self.audit.record(hearing_id, "hearing_ended", admin)
        self._resting.pop(hearing_id, None)
        await self.store.delete_live_hearing(hearing_id)
        if room is not None and self._rooms.get(hearing_id) is room:
            del self._rooms[hearing_id]
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
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for task in list(self._releases):
            with contextlib.suppress(Exception):
                await task
        rooms = list(self._rooms.values())
        self._rooms.clear()
        # The moment this process stopped running them: the restart's gap starts here.
        for room in rooms:
            with contextlib.suppress(Exception):
                await room.keep()
        await asyncio.gather(*(room.close() for room in rooms), return_exceptions=True)

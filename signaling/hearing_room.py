"""The live state of one hearing on this node: who is connected, the lobby, moderation.

The room knows nothing of WebSockets: it talks to each connected page through the
``RoomMember`` protocol, and to the media plane through ``media.MediaPlane``. Every action is
checked against the actor's role here, on the server, whatever the page shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from media import MediaError, MediaPlane, StreamMap

from .audit import ADMIN_ACTOR, AuditTrail
from .court_record import SERVER_ACTOR, CourtRecord
from .errors import (
    Conflict,
    Forbidden,
    HearingEnded,
    InvalidRequest,
    NotFound,
)
from .live_hearing import LiveHearing
from .model import Hearing, HearingKind, Participant, utc_now
from .moderation import HostModeration
from .participant_links import ParticipantLinks
from .protocol import (
    PageMessage,
    admitted_message,
    chat_message,
    ended_message,
    offer_message,
    page_replaced_message,
    record_message,
)
from .reconnection import ReconnectGrace
from .room_member import HearingState, Replaced, RoomMember, Seat
from .roster import Presence, public_entries, role_permissions, roster_entries
from .roster_fanout import RosterFanout
from .seats import RoomSeats

log = logging.getLogger(__name__)


class HearingRoom(HostModeration):
    """Live state of one hearing on this node."""

    def __init__(
        self,
        hearing: Hearing,
        audit: AuditTrail,
        clock: Callable[[], datetime] = utc_now,
        reconnect_grace_s: float = 60.0,
        keep: Callable[[LiveHearing], Awaitable[None]] | None = None,
        on_idle: Callable[[HearingRoom], None] | None = None,
    ) -> None:
        self.hearing = hearing
        self._audit = audit
        self._media: MediaPlane | None = None
        self._record: CourtRecord | None = None
        self._clock = clock
        self._state = HearingState.ENDED if hearing.ended_at else HearingState.SCHEDULED
        self._opened_at: datetime | None = None
        # Seats and the record outlive this process (``LiveHearing``): a restart resumes them.
        self._keep = keep
        # Nobody connected and nobody reconnecting: the owner may release the room.
        self._on_idle = on_idle
        self._lock = asyncio.Lock()
        # Media starts run beside the session that caused them: a host admitting ten people
        # must not wait for ten ICE gatherings one after another. The room awaits them, and
        # the audit records of what the media plane reports.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seats = RoomSeats(ReconnectGrace(reconnect_grace_s, self._seat_lost))
        self._roster_fanout = RosterFanout()
        self.links = ParticipantLinks(self, audit, clock=clock)

    def attach_media(self, media: MediaPlane) -> None:
        """Give the room its SFU (the room is the SFU's ``MediaSignal``)."""
        self._media = media

    def attach_record(self, record: CourtRecord) -> None:
        """Give the room its record (hosts switch it; court hearings start on the record)."""
        self._record = record
        record.bind(self)

    @property
    def on_record(self) -> bool:
        """Whether the hearing is being recorded right now."""
        return self._record is not None and self._record.on

    @property
    def media(self) -> MediaPlane | None:
        """The room's SFU, if this server runs one."""
        return self._media

    async def send_offer(self, participant_id: str, sdp: str, streams: StreamMap) -> None:
        """``MediaSignal``: relay the SFU's offer to the participant's page."""
        presence = self._seats.present.get(participant_id)
        if presence is not None and presence.member is not None:
            presence.member.send(offer_message(sdp, streams))

    def receiving_video(self, participant_id: str, receiving: bool) -> None:
        """``MediaSignal``: the participant's downlink carries video again, or only audio."""
        self.links.receiving_video(participant_id, receiving)

    # ---- queries -------------------------------------------------------------------------

    @property
    def state(self) -> HearingState:
        """Scheduled, open or ended."""
        return self._state

    def presence(self, participant_id: str) -> Presence | None:
        """A participant known to the room, connected or not."""
        return self._seats.presence(participant_id)

    def seat_of(self, participant_id: str) -> Seat | None:
        """Where a connected participant sits, or None if not connected."""
        return self._seats.seat_of(participant_id)

    def connected_ids(self) -> list[str]:
        """Participants with a live connection."""
        return self._seats.connected_ids()

    def lobby_ids(self) -> list[str]:
        """Connected participants waiting to be admitted, in arrival order."""
        return self._seats.lobby_ids()

    def roster(self, for_host: bool) -> list[dict[str, Any]]:
        """The roster as a page sees it; only hosts see who waits in the lobby."""
        entries = roster_entries(self._seats, self.links)
        return entries if for_host else public_entries(entries)

    def permissions(self, participant: Participant) -> list[str]:
        """What this participant's role allows in this room."""
        return role_permissions(participant, can_record=self._record is not None)

    # ---- joining and leaving ---------------------------------------------------------------

    async def join(self, member: RoomMember) -> Seat:
        """Seat a newly connected page: hosts are admitted and open the hearing."""
        participant = member.participant
        async with self._lock:
            if self._state is HearingState.ENDED:
                raise HearingEnded("the hearing has ended")
            presence = self._seats.present.get(participant.id)
            replaced = presence is not None and presence.member is not None
            if presence is not None and presence.member is not None:
                presence.member.terminate(Replaced("you joined from another page"))
                if self._media is not None and participant.id in self._seats.admitted:
                    await self._media.remove_participant(participant.id)
                # A link used on a second device is a possible takeover: the court sees it.
                await self._audit.record(
                    self.hearing.id, "replaced", participant.id,
                    previous=presence.member.client.audit_fields(),
                    **member.client.audit_fields(),
                )
            if presence is None:
                presence = Presence(participant)
                self._seats.present[participant.id] = presence
            presence.participant = participant
            presence.member = member
            presence.hand = False
            gap_s = self._seats.grace.end(participant.id)
            # Back: whatever kept them from the hearing while away is over.
            self.links.reconnected(presence)
            rejoined = participant.id in self._seats.admitted
            if participant.role.is_host:
                self._seats.admitted.add(participant.id)
                if self._state is HearingState.SCHEDULED:
                    self._state = HearingState.OPEN
                    self._opened_at = self._clock()
                    await self._audit.record(self.hearing.id, "hearing_opened", participant.id)
                    if self._record is not None and self.hearing.kind is HearingKind.COURT:
                        await self._record.switch(True, participant.id)
            seat = Seat.ADMITTED if participant.id in self._seats.admitted else Seat.LOBBY
            if gap_s is not None:
                # The timeline shows how long the participant was away from the hearing.
                await self._audit.record(
                    self.hearing.id, "reconnected", participant.id, gap_s=gap_s
                )
            else:
                await self._audit.record(
                    self.hearing.id,
                    "joined" if not rejoined else "rejoined",
                    participant.id,
                    role=participant.role.value,
                    seat=seat.value,
                    **member.client.audit_fields(),
                )
            await self.keep()
        if replaced:
            self.send_to_hosts(page_replaced_message(participant))
        # The newcomer gets the roster inside its welcome, which must come first.
        self.broadcast_roster(exclude=member)
        return seat

    async def start_media(self, member: RoomMember) -> None:
        """Begin media for an admitted member (after its welcome or admission went out)."""
        participant = member.participant
        if self._media is None or self.seat_of(participant.id) is not Seat.ADMITTED:
            return
        await self._media.add_participant(participant.id, can_publish=participant.role.can_publish)
        presence = self._seats.present[participant.id]
        if presence.muted:
            self._media.set_muted(participant.id, True)
        if not presence.receive_video:
            self._media.set_receive_video(participant.id, False)

    async def leave(self, member: RoomMember, *, voluntary: bool = False) -> None:
        """Forget a closed page.

        A page that dropped keeps an admitted seat for the reconnection grace ("reconnecting"
        for the others); a participant who chose to leave gives the seat up.
        """
        pid = member.participant.id
        async with self._lock:
            presence = self._seats.present.get(pid)
            if presence is None or presence.member is not member:
                return
            presence.member = None
            presence.hand = False
            presence.downlink_audio_only = False  # a new connection is allocated afresh
            self.links.forget(pid)
            if self._media is not None:
                await self._media.remove_participant(pid)
            if self._state is not HearingState.ENDED:
                dropped = not voluntary and pid in self._seats.admitted
                if dropped and self._seats.grace.grace_s > 0:
                    self._seats.grace.start(pid)
                    self.links.disconnected(presence)
                    await self._audit.record(
                        self.hearing.id, "disconnected", pid, grace_s=self._seats.grace.grace_s
                    )
                else:
                    if not member.participant.role.is_host:
                        self._seats.admitted.discard(pid)
                    self.links.reconnected(presence)  # chose to leave: no alert stands
                    await self._audit.record(self.hearing.id, "left", pid)
                await self.keep()
        self.broadcast_roster()
        self._idle_check()

    async def _seat_lost(self, participant_id: str) -> None:
        """The reconnection grace ran out: a return now waits in the lobby."""
        async with self._lock:
            presence = self._seats.present.get(participant_id)
            if presence is None or presence.member is not None:
                return  # back just in time
            if not presence.participant.role.is_host:
                self._seats.admitted.discard(participant_id)
            await self._audit.record(
                self.hearing.id, "seat_lost", participant_id, grace_s=self._seats.grace.grace_s
            )
            await self.keep()
        self.broadcast_roster()
        self._idle_check()

    # ---- everyone ------------------------------------------------------------------------------

    async def raise_hand(self, member: RoomMember, raised: bool) -> None:
        """Raise or lower the participant's hand."""
        presence = self.admitted_presence(member)
        if presence.hand == raised:
            return
        presence.hand = raised
        await self._audit.record(
            self.hearing.id, "hand_raised" if raised else "hand_lowered", member.participant.id
        )
        self.broadcast_roster()

    async def chat(self, member: RoomMember, text: str) -> None:
        """Send a chat message to every admitted participant (and the sender)."""
        self.admitted_presence(member)
        text = text.strip()
        if not text:
            return
        p = member.participant
        at = self._clock()
        await self._audit.record(self.hearing.id, "chat", p.id, text=text)
        self._broadcast(
            chat_message(sender_id=p.id, display_name=p.display_name, role=p.role.value,
                         text=text, at=at),
            admitted_only=True,
        )

    async def set_media_state(self, member: RoomMember, audio: bool, video: bool) -> None:
        """The participant switched their own microphone or camera."""
        presence = self.admitted_presence(member)
        if (presence.audio, presence.video) == (audio, video):
            return
        presence.audio, presence.video = audio, video
        await self._audit.record(
            self.hearing.id, "media_state", member.participant.id, audio=audio, video=video
        )
        self.broadcast_roster()

    async def apply_answer(self, member: RoomMember, sdp: str) -> None:
        """Pass the page's SDP answer to the media plane."""
        self.admitted_presence(member)
        if self._media is None:
            raise Conflict("this server has no media plane")
        try:
            await self._media.apply_answer(member.participant.id, sdp)
        except MediaError as error:
            raise InvalidRequest(f"the SDP answer was refused: {error}", code="bad_sdp") from None

    async def set_receive_video(self, member: RoomMember, enabled: bool) -> None:
        """The participant's own audio-only choice (``ParticipantLinks``)."""
        await self.links.set_receive_video(member, enabled)

    async def report_quality(self, member: RoomMember, figures: dict[str, float]) -> None:
        """The page's link figures (``ParticipantLinks``)."""
        await self.links.report_quality(member, figures)

    def set_view(self, member: RoomMember, tiles: dict[str, dict[str, Any]],
                 hidden: bool) -> None:
        """What the page shows (``ParticipantLinks``)."""
        self.links.set_view(member, tiles, hidden)

    # ---- hosts -------------------------------------------------------------------------------

    async def admit(self, actor: RoomMember | None, participant_id: str) -> None:
        """Let a lobby participant in; ``actor`` None means the clerk through the API."""
        actor_id = self._require_host(actor)
        async with self._lock:
            presence = self.lobby_presence(participant_id)
            assert presence.member is not None
            self._seats.admitted.add(participant_id)
            await self._audit.record(self.hearing.id, "admitted", actor_id,
                                     participant_id=participant_id)
            await self.keep()
            member = presence.member
            member.send(admitted_message())
        self.broadcast_roster()
        self._start_media_soon(member)

    def _start_media_soon(self, member: RoomMember) -> None:
        self.spawn(self._start_media_logged(member))

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` beside the caller; the room awaits it before it closes."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_media_logged(self, member: RoomMember) -> None:
        try:
            await self.start_media(member)
        except MediaError as error:
            # The page's media could not start (it left meanwhile, or the hearing closed);
            # its signaling goes on and a rejoin starts media again.
            log.info("media for %s did not start: %s", member.participant.id, error)
        except Exception:
            log.exception("media for %s failed to start", member.participant.id)

    async def _await_tasks(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def authorize_host(self, actor: RoomMember | None) -> None:
        """Raise unless the actor may run the hearing (None: the clerk through the API)."""
        self._require_host(actor)

    async def end(self, actor: RoomMember | None, admin: str = ADMIN_ACTOR) -> None:
        """End the hearing for everyone; nobody can join it again (``admin``: the clerk's
        token name when ``actor`` is None)."""
        actor_id = self._require_host(actor)
        if actor is None:
            actor_id = admin  # the clerk's admin token, by name
        async with self._lock:
            if self._state is HearingState.ENDED:
                return
            self._state = HearingState.ENDED
            await self._audit.record(self.hearing.id, "hearing_ended", actor_id)
            members = [p.member for p in self._seats.present.values() if p.member is not None]
        if self._record is not None:
            # First, and owned by the record: closing the pages may cancel this caller.
            await self._record.stop(ended=True)
        for member in members:
            member.send(ended_message())
            member.terminate(HearingEnded("the hearing has ended"))
        await self._seats.grace.close()
        if self._media is not None:
            await self._media.close()
        await self._await_tasks()

    async def close(self) -> None:
        """Stop the room's media and grace timers (the server is shutting down); idempotent."""
        await self._seats.grace.close()
        if self._media is not None:
            await self._media.close()
        await self._await_tasks()
        if self._record is not None:
            await self._record.stop(ended=False)

    # ---- the record ----------------------------------------------------------------------------

    async def set_record(self, actor: RoomMember | None, on: bool) -> None:
        """A host puts the hearing on or off the record; every admitted page is told."""
        actor_id = self._require_host(actor)
        if self._record is None:
            raise Conflict("this server does not record hearings")
        if await self._record.switch(on, actor_id):
            await self.keep()
            self._broadcast(record_message(on, actor_id), admitted_only=True)

    def send_to_hosts(self, message: PageMessage) -> None:
        """``RecordRoom``: a message for every connected host page (recorder alerts)."""
        for presence in self._seats.present.values():
            if presence.member is not None and presence.participant.role.is_host:
                presence.member.send(message)

    def is_sending(self, participant_id: str, kind: str) -> bool:
        """``RecordRoom``: whether the page should be sending ``kind`` now."""
        presence = self._seats.present.get(participant_id)
        if presence is None or presence.member is None:
            return False
        return presence.audio and not presence.muted if kind == "audio" else presence.video

    # ---- beyond this process (LiveHearing) ----------------------------------------------------

    def live_state(self) -> LiveHearing | None:
        """What a restart needs to resume this hearing (None: it is not open)."""
        if self._state is not HearingState.OPEN:
            return None
        return self._seats.live_state(self.hearing.id, opened_at=self._opened_at or self._clock(),
                                      on_record=self.on_record, now=self._clock())

    async def keep(self) -> None:
        """Store the live state (seats, the record, that the hearing still runs)."""
        live = self.live_state()
        if self._keep is not None and live is not None:
            await self._keep(live)

    async def resume(self, live: LiveHearing, participants: dict[str, Participant]) -> None:
        """Take up a hearing another process (or an earlier room) ran: open, with its seats,
        and on the record again if it was (the record continues in the same folder)."""
        self._state = HearingState.OPEN
        self._opened_at = live.opened_at
        for presence in self._seats.resume(live, participants):
            self.links.disconnected(presence)
        if live.on_record and self._record is not None:
            await self._record.switch(True, SERVER_ACTOR)
        await self.keep()

    @property
    def idle(self) -> bool:
        """Nobody connected and nobody within a reconnection grace."""
        return self._seats.idle

    def _idle_check(self) -> None:
        if self._on_idle is not None and self.idle and self._state is not HearingState.ENDED:
            self._on_idle(self)

    # ---- internals -----------------------------------------------------------------------------

    def lobby_presence(self, participant_id: str) -> Presence:
        """A connected participant waiting in the lobby; raises ``NotFound`` otherwise."""
        presence = self._seats.present.get(participant_id)
        if presence is None or self.seat_of(participant_id) is not Seat.LOBBY:
            raise NotFound("nobody with that id waits in the lobby")
        return presence

    def admitted_presence(self, member: RoomMember) -> Presence:
        """The member's presence; raises unless it is connected and admitted."""
        presence = self._seats.present.get(member.participant.id)
        if presence is None or presence.member is not member:
            raise Conflict("you are not connected to this hearing")
        if member.participant.id not in self._seats.admitted:
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
        self.admitted_presence(actor)
        return actor.participant.id

    def broadcast_roster(
        self, exclude: RoomMember | None = None, *, hosts_only: bool = False
    ) -> None:
        """Send every page its view of the roster (hosts see the lobby and the numbers);
        ``exclude`` gets it in its welcome."""
        readers = [
            (p.member, p.participant.role.is_host) for p in self._seats.present.values()
            if p.member is not None and (p.participant.role.is_host
                                         or p.participant.id in self._seats.admitted)
        ]
        self._roster_fanout.send(readers, lambda: self.roster(for_host=True),
                                 welcomed=exclude, hosts_only=hosts_only)

    def _broadcast(self, message: PageMessage, *, admitted_only: bool) -> None:
        for pid, presence in self._seats.present.items():
            if presence.member is None:
                continue
            if admitted_only and pid not in self._seats.admitted:
                continue
            presence.member.send(message)

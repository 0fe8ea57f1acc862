"""Each participant's link in a live hearing: quality, audio only, what the page shows, and
whether the people who must follow the hearing can.

- Quality: the page's ``quality`` figures with the server's view of both directions
  (``network_quality``), a level next to every name, the numbers to hosts, samples in the
  timeline.
- Audio only: the participant's own choice (``receive_video``), and the server's allocation
  when the downlink cannot carry even the speaker's lowest video layer (``downlink``), lifted
  by itself when the link recovers.
- What the page shows (``view``): tiles and their sizes, so the SFU sends no more than a
  tile can show and nothing for tiles nobody can see.
- Participation: the right to participate effectively. When a party who must follow the
  hearing (``MUST_FOLLOW``) cannot hear it — their page conceals more than
  ``CONCEALED_PCT`` % of the audio over ``WINDOW_S`` seconds — or is disconnected, the hosts
  are alerted at once, naming them, and the timeline records the interval, so the court
  can repeat what was missed. No SFU does this: only a court needs it.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from media import MediaError, MediaPlane, TileView

from .audit import AuditTrail
from .model import Hearing, Role, utc_now
from .network_quality import NetworkQuality, link_sample
from .protocol import PageMessage, downlink_message, participation_alert_message
from .room_member import RoomMember
from .roster import Presence

# The parties to the proceedings, their lawyers, witnesses and interpreters must be able to
# follow it; hosts run it, observers only watch.
MUST_FOLLOW = frozenset({Role.DEFENDANT, Role.PLAINTIFF, Role.RESPONDENT, Role.LAWYER,
                         Role.WITNESS, Role.INTERPRETER})
CONCEALED_PCT = 10.0
WINDOW_S = 10.0
# Reports cover ~4 s each: this many in a row make the window.
_WINDOW_REPORTS = 3
_RESTORE_REPORTS = 2


class LinkRoom(Protocol):
    """What the participants' links need of their hearing room."""

    hearing: Hearing

    @property
    def media(self) -> MediaPlane | None:
        """The room's SFU, if this server runs one."""

    def admitted_presence(self, member: RoomMember) -> Presence:
        """The member's presence; raises unless it is connected and admitted."""

    def presence(self, participant_id: str) -> Presence | None:
        """A participant known to the room, connected or not."""

    def broadcast_roster(self, *, hosts_only: bool = False) -> None:
        """Send every page its view of the roster."""

    def send_to_hosts(self, message: PageMessage) -> None:
        """A message for every connected host page."""

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` beside the caller; the room awaits it before it closes."""


@dataclass
class _Participation:
    """Whether a participant who must follow the hearing can, and since when not."""

    concealed: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW_REPORTS))
    lost_reason: str | None = None
    lost_at: datetime | None = None
    lost_mono: float = 0.0


class ParticipantLinks:
    """The links of one hearing's participants; owned by its ``HearingRoom``."""

    def __init__(
        self,
        room: LinkRoom,
        audit: AuditTrail,
        *,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._room = room
        self._audit = audit
        self._clock = clock
        self._monotonic = monotonic
        self.quality = NetworkQuality(monotonic)
        self._participation: dict[str, _Participation] = {}

    # ---- quality -------------------------------------------------------------------------

    async def report_quality(self, member: RoomMember, figures: dict[str, float]) -> None:
        """The page's link figures; merged with the server's view, shown and sampled."""
        self._room.admitted_presence(member)
        participant = member.participant
        media_view = None
        media = self._room.media
        if media is not None:
            with contextlib.suppress(MediaError):
                media_view = media.quality(participant.id)
        update = self.quality.report(participant.id, link_sample(figures, media_view))
        if update is None:
            return  # rate-limited
        concealed = figures.get("concealed_pct")
        if concealed is not None and participant.role in MUST_FOLLOW:
            self._heard(participant.id, concealed)
        if update.record:
            await self._audit.record(
                self._room.hearing.id, "network_quality", participant.id,
                level=update.sample.level.value, **update.sample.to_json(),
            )
        # Everyone sees a changed level; only hosts get every new set of numbers.
        self._room.broadcast_roster(hosts_only=not update.level_changed)

    def forget(self, participant_id: str) -> None:
        """The participant's connection is gone: its figures describe nothing any more."""
        self.quality.forget(participant_id)

    # ---- audio only ---------------------------------------------------------------------------

    async def set_receive_video(self, member: RoomMember, enabled: bool) -> None:
        """The participant's own audio-only choice (``enabled`` False: no video)."""
        presence = self._room.admitted_presence(member)
        if presence.receive_video == enabled:
            return
        presence.receive_video = enabled
        media = self._room.media
        if media is not None:
            with contextlib.suppress(MediaError):  # no media yet: applied when it starts
                media.set_receive_video(member.participant.id, enabled)
        await self._audit.record(
            self._room.hearing.id, "audio_only" if not enabled else "video_resumed",
            member.participant.id,
        )
        self._room.broadcast_roster()

    def receiving_video(self, participant_id: str, receiving: bool) -> None:
        """``MediaSignal``: the downlink carries video again, or only audio."""
        presence = self._room.presence(participant_id)
        if presence is None or presence.downlink_audio_only is not receiving:
            return
        presence.downlink_audio_only = not receiving
        if presence.member is not None:
            presence.member.send(downlink_message(audio_only=not receiving))
        self._room.spawn(self._audit.record(
            self._room.hearing.id,
            "downlink_video_resumed" if receiving else "downlink_audio_only", participant_id,
        ))
        self._room.broadcast_roster()

    # ---- what the page shows --------------------------------------------------------------

    def set_view(self, member: RoomMember, tiles: dict[str, dict[str, Any]],
                 hidden: bool) -> None:
        """Which participants the page shows, how big, and whether it is hidden at all."""
        self._room.admitted_presence(member)
        media = self._room.media
        if media is None:
            return
        views = {pid: TileView(t["visible"], t["width"], t["height"]) for pid, t in tiles.items()}
        with contextlib.suppress(MediaError):  # no media yet: the next view message counts
            media.set_view(member.participant.id, views, hidden=hidden)

    # ---- participation ----------------------------------------------------------------------

    def participation_of(self, participant_id: str) -> str | None:
        """Why the participant cannot follow the hearing now (None: they can)."""
        watch = self._participation.get(participant_id)
        return None if watch is None else watch.lost_reason

    def disconnected(self, presence: Presence) -> None:
        """An admitted participant's connection dropped (the seat is kept for a while)."""
        if presence.participant.role in MUST_FOLLOW:
            self._lost(presence, "disconnected")

    def reconnected(self, presence: Presence) -> None:
        """The participant is back (or left for good): a disconnection alert ends."""
        watch = self._participation.get(presence.participant.id)
        if watch is not None and watch.lost_reason == "disconnected":
            self._restored(presence, watch)

    def _heard(self, participant_id: str, concealed_pct: float) -> None:
        presence = self._room.presence(participant_id)
        if presence is None:
            return
        watch = self._participation.setdefault(participant_id, _Participation())
        watch.concealed.append(concealed_pct)
        recent = list(watch.concealed)
        if watch.lost_reason is None:
            if len(recent) == _WINDOW_REPORTS and sum(recent) / len(recent) > CONCEALED_PCT:
                self._lost(presence, "cannot_hear")
        elif watch.lost_reason == "cannot_hear":
            last = recent[-_RESTORE_REPORTS:]
            if len(last) == _RESTORE_REPORTS and all(c <= CONCEALED_PCT for c in last):
                self._restored(presence, watch)

    def _lost(self, presence: Presence, reason: str) -> None:
        participant = presence.participant
        watch = self._participation.setdefault(participant.id, _Participation())
        if watch.lost_reason is not None:
            return
        watch.lost_reason, watch.lost_at = reason, self._clock()
        watch.lost_mono = self._monotonic()
        self._room.send_to_hosts(participation_alert_message(
            participant.id, participant.display_name, participant.role.value, reason,
            since=watch.lost_at, until=None,
        ))
        self._room.spawn(self._audit.record(
            self._room.hearing.id, "participation_lost", "server",
            participant_id=participant.id, reason=reason,
        ))
        self._room.broadcast_roster(hosts_only=True)

    def _restored(self, presence: Presence, watch: _Participation) -> None:
        participant = presence.participant
        reason, since = watch.lost_reason, watch.lost_at
        gap_s = round(self._monotonic() - watch.lost_mono, 1)
        watch.lost_reason, watch.lost_at = None, None
        watch.concealed.clear()
        until = self._clock()
        self._room.send_to_hosts(participation_alert_message(
            participant.id, participant.display_name, participant.role.value, reason or "",
            since=since, until=until,
        ))
        self._room.spawn(self._audit.record(
            self._room.hearing.id, "participation_restored", "server",
            participant_id=participant.id, reason=reason,
            since=None if since is None else since.isoformat(), missed_s=gap_s,
        ))
        self._room.broadcast_roster(hosts_only=True)

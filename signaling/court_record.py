"""The court's record of one hearing: on and off the record, who is told, what is audited.

The mechanics (tracks, the timeline file, the state of the record, watching disk and
tracks) are the media plane's ``Recorder``; this is the policy. Hosts switch the record
(a court hearing starts on it); every audit event of the hearing goes into the record's
timeline with its offset on the media clock, so nothing is recorded twice; a fault of the
recorder alerts the hosts at once and enters the audit trail (and so the timeline), and the
hearing goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

from media import Recorder, RecorderFault, RecorderStart, TimelineEntry

from .audit import AuditTrail
from .model import AuditEvent, Hearing
from .protocol import PageMessage, recorder_alert_message

SERVER_ACTOR = "server"


class RecordRoom(Protocol):
    """What the record needs of its hearing room."""

    def send_to_hosts(self, message: PageMessage) -> None:
        """Send a message to every connected host page."""

    def is_sending(self, participant_id: str, kind: str) -> bool:
        """Whether the participant's page should be sending this kind of media now."""


class CourtRecord:
    """The record of one hearing on this node; owned by its ``HearingRoom``.

    The ``RecorderListener`` of its recorder.
    """

    def __init__(self, hearing: Hearing, recorder: Recorder, audit: AuditTrail) -> None:
        self.hearing = hearing
        self._recorder = recorder
        self._audit = audit
        self._room: RecordRoom | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()
        self._stopped = False
        self._stopping: asyncio.Future[None] | None = None
        self.on = False

    def bind(self, room: RecordRoom) -> None:
        """The room that alerts hosts and knows who should be sending."""
        self._room = room

    # ---- on and off the record --------------------------------------------------------------

    async def switch(self, on: bool, actor: str) -> bool:
        """Go on or off the record; returns whether it did."""
        async with self._lock:
            if on == self.on or self._stopped:
                return False
            if on:
                return await self._start(actor)
            await self._audit.record(self.hearing.id, "record_off", actor)
            self.on = False
            await self._recorder.pause()
            return True

    async def _start(self, actor: str) -> bool:
        started = await self._recorder.start(self)
        if started is RecorderStart.FAILED:
            return False  # the hosts were alerted; the hearing goes on unrecorded
        if started is RecorderStart.RESUMED:
            self._note("recording_resumed_after_restart", previous_state="incomplete")
        self._audit.add_observer(self._timeline)
        self.on = True
        await self._audit.record(self.hearing.id, "record_on", actor)
        return True

    # ---- RecorderListener ---------------------------------------------------------------------

    def recorder_fault(self, fault: RecorderFault) -> None:
        """Alert the hosts at once; the audit trail (and so the timeline) notes the gap."""
        self._alert(fault, resolved=False)
        self._note("recorder_fault", track=fault.track, participant_id=fault.participant_id,
                   media=fault.kind, reason=fault.reason, offset_s=self._recorder.media_offset_s)

    def recorder_resumed(self, fault: RecorderFault) -> None:
        """The gap in the track ends here."""
        self._alert(fault, resolved=True)
        self._note("recorder_resumed", track=fault.track, participant_id=fault.participant_id,
                   media=fault.kind, offset_s=self._recorder.media_offset_s)

    def expects_media(self, participant_id: str, kind: str) -> bool:
        """Whether the participant's page should be sending ``kind`` (else silence is fine)."""
        return self._room is None or self._room.is_sending(participant_id, kind)

    def _alert(self, fault: RecorderFault, *, resolved: bool) -> None:
        if self._room is not None:
            self._room.send_to_hosts(recorder_alert_message(
                fault, resolved=resolved, offset_s=self._recorder.media_offset_s
            ))

    # ---- the timeline -----------------------------------------------------------------------

    def _timeline(self, event: AuditEvent) -> None:
        if event.hearing_id == self.hearing.id:
            self._recorder.write_timeline(
                TimelineEntry(event.at, event.kind, event.actor, event.data)
            )

    def _note(self, kind: str, **data: Any) -> None:
        self._spawn(self._audit.record(self.hearing.id, kind, SERVER_ACTOR, **data))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the end ----------------------------------------------------------------------------

    async def stop(self, *, ended: bool) -> None:
        """The hearing ended (``ended``) or the server stops: close everything; idempotent.

        An ended hearing goes to processing (composite, signed manifest); a server stopping
        mid-hearing leaves a signed, incomplete record that a restart can continue. The work
        runs in a task the record owns, so a cancelled caller cannot cut it short, and every
        later caller waits for the same end.
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(ended))
        await asyncio.shield(self._stopping)

    async def _stop(self, ended: bool) -> None:
        async with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if self.on:
                if ended:
                    await self._audit.record(self.hearing.id, "record_off", SERVER_ACTOR)
                self.on = False
            await self._recorder.pause()
            # Faults noted while closing the tracks still reach the timeline.
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._audit.remove_observer(self._timeline)
        await self._recorder.finish(ended=ended)

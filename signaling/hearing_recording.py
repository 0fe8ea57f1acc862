"""The record of one live hearing: on and off the record, track recorders, the timeline.

While the hearing is on the record every published stream has a ``TrackRecorder`` as one
more sink (streams published later are picked up through the SFU's stream observer). Every
audit event of the hearing goes into ``timeline.jsonl`` with its wall-clock time and its
offset on the recording's media clock, so nothing is recorded twice. A recorder fault
alerts the hosts at once, enters the audit trail (and so the timeline), and the hearing
goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from media.published_stream import PublishedStream
from media.recording.folder import ClosedSegment, RecordingFolder, RecordingState
from media.recording.track_recorder import TrackRecorder

from .audit import AuditTrail
from .model import AuditEvent, Hearing

log = logging.getLogger(__name__)

SERVER_ACTOR = "server"
STALL_CHECK_S = 1.0


class RecordableMedia(Protocol):
    """The SFU as the recording sees it (``media.hearing_media.HearingMedia``)."""

    def add_stream_observer(self, observer: Any) -> None:
        """Hear of streams published from now on."""

    def remove_stream_observer(self, observer: Any) -> None:
        """Stop hearing of streams."""

    def published_streams(self) -> list[PublishedStream]:
        """The streams published right now."""


class RecordingRoom(Protocol):
    """What the recording needs of its hearing room."""

    def send_to_hosts(self, message: dict[str, Any]) -> None:
        """Send a message to every connected host page."""

    def is_sending(self, participant_id: str, kind: str) -> bool:
        """Whether the participant's page should be sending this kind of media now."""


# (hearing id, hearing ended) -> signs / renders; awaited when the recording stops.
StoppedCallback = Callable[[str, bool], Awaitable[None]]


class HearingRecording:
    """Recording of one hearing on this node; owned by its ``HearingRoom``."""

    def __init__(
        self,
        hearing: Hearing,
        folder: RecordingFolder,
        audit: AuditTrail,
        media: RecordableMedia,
        *,
        segment_s: float,
        stall_s: float,
        on_stopped: StoppedCallback,
        min_free_bytes: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hearing = hearing
        self.folder = folder
        self._audit = audit
        self._media = media
        self._segment_s = segment_s
        self._stall_s = stall_s
        self._min_free_bytes = min_free_bytes
        self._on_stopped = on_stopped
        self._clock = clock
        self._room: RecordingRoom | None = None
        self._origin: float | None = None
        self._recorders: dict[int, tuple[PublishedStream, TrackRecorder, float]] = {}
        self._stalled: set[str] = set()
        self._faults: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stall_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopped = False
        self._stopping: asyncio.Future[None] | None = None
        self.on = False

    def bind(self, room: RecordingRoom) -> None:
        """The room that alerts hosts and knows who should be sending."""
        self._room = room

    # ---- on and off the record --------------------------------------------------------------

    async def switch(self, on: bool, actor: str) -> bool:
        """Go on or off the record; returns whether anything changed."""
        async with self._lock:
            if on == self.on or self._stopped:
                return False
            if on:
                await self._start(actor)
            else:
                await self._audit.record(self.hearing.id, "record_off", actor)
                await self._detach_all()
            return True

    async def _start(self, actor: str) -> None:
        try:
            self.folder.create()
        except OSError as error:
            # The hearing goes on without a record; the hosts know at once.
            self._fault("disk", None, None, f"cannot create the recording folder: {error}")
            return
        status = self.folder.status()
        origin_wall = float(status.get("origin_wall") or time.time())
        if status.get("state") == RecordingState.INCOMPLETE:
            # The server stopped mid-hearing (crash or shutdown); the record continues.
            self._note("recording_resumed_after_restart", previous_state=status["state"])
        # Offsets stay on one clock across restarts: they count from the first start.
        self._origin = self._clock() - (time.time() - origin_wall)
        self._update_status(
            hearing_id=self.hearing.id,
            case_number=self.hearing.case_number,
            title=self.hearing.title,
            state=RecordingState.RECORDING.value,
            origin_wall=origin_wall,
            on_record=True,
        )
        self._audit.add_observer(self._timeline)
        self.on = True
        await self._audit.record(self.hearing.id, "record_on", actor)
        self._media.add_stream_observer(self)
        for stream in self._media.published_streams():
            self.stream_published(stream)
        self._stall_task = asyncio.create_task(
            self._watch_stalls(), name=f"recording-stalls-{self.hearing.id}"
        )

    async def _detach_all(self) -> None:
        self.on = False
        self._media.remove_stream_observer(self)
        if self._stall_task is not None:
            self._stall_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stall_task
            self._stall_task = None
        recorders = list(self._recorders.values())
        self._recorders.clear()
        for stream, recorder, _ in recorders:
            stream.remove_sink(recorder)
        await asyncio.gather(*(recorder.close() for _, recorder, _ in recorders))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._update_status(on_record=False)

    def _update_status(self, **changes: Any) -> None:
        try:
            self.folder.update_status(**changes)
        except OSError as error:
            self._fault("disk", None, None, f"cannot write the recording state: {error}")

    @property
    def media_offset_s(self) -> float | None:
        """Seconds since the recording's origin, or None before it ever started."""
        return None if self._origin is None else round(self._clock() - self._origin, 3)

    # ---- StreamObserver --------------------------------------------------------------------

    def stream_published(self, stream: PublishedStream) -> None:
        """Attach a recorder to a stream while on the record."""
        if not self.on or id(stream) in self._recorders or self._origin is None:
            return
        recorder = TrackRecorder(
            stream, self.folder, self, origin=self._origin, segment_s=self._segment_s
        )
        self._recorders[id(stream)] = (stream, recorder, self._clock())
        stream.add_sink(recorder)

    def stream_unpublished(self, stream: PublishedStream) -> None:
        """The publisher left: close its recorder (its last segment is kept)."""
        entry = self._recorders.pop(id(stream), None)
        if entry is None:
            return
        stream.remove_sink(entry[1])
        self._stalled.discard(entry[1].track)
        self._spawn(entry[1].close())

    # ---- RecorderEvents ------------------------------------------------------------------------

    def recorder_fault(self, recorder: TrackRecorder, reason: str) -> None:
        """Alert the hosts at once; the audit trail (and so the timeline) notes the gap."""
        self._fault(recorder.track, recorder.participant_id, recorder.kind, reason)

    def recorder_resumed(self, recorder: TrackRecorder) -> None:
        """The gap in the track ends here."""
        self._resolved(recorder.track, recorder.participant_id, recorder.kind)

    def _fault(self, track: str, participant_id: str | None, kind: str | None,
               reason: str) -> None:
        if track in self._faults:
            return
        self._faults[track] = reason
        self._alert(track, participant_id, kind, reason, resolved=False)
        self._spawn(self._audit.record(
            self.hearing.id, "recorder_fault", SERVER_ACTOR, track=track,
            participant_id=participant_id, media=kind, reason=reason,
            offset_s=self.media_offset_s,
        ))

    def _resolved(self, track: str, participant_id: str | None, kind: str | None) -> None:
        if self._faults.pop(track, None) is None:
            return
        self._alert(track, participant_id, kind, "recording again", resolved=True)
        self._spawn(self._audit.record(
            self.hearing.id, "recorder_resumed", SERVER_ACTOR, track=track,
            participant_id=participant_id, media=kind, offset_s=self.media_offset_s,
        ))

    def segment_closed(self, recorder: TrackRecorder, segment: ClosedSegment) -> None:
        """Nothing to do: the segment is already in the chain journal."""

    @property
    def faults(self) -> dict[str, str]:
        """Tracks currently losing media, and why."""
        return dict(self._faults)

    def _alert(self, track: str, participant_id: str | None, kind: str | None, reason: str,
               *, resolved: bool) -> None:
        if self._room is None:
            return
        self._room.send_to_hosts({
            "type": "recorder_alert",
            "track": track,
            "participant_id": participant_id,
            "kind": kind,
            "reason": reason,
            "resolved": resolved,
            "offset_s": self.media_offset_s,
        })

    async def _watch_stalls(self) -> None:
        # A track that stops arriving while its page should be sending is a recorder fault:
        # the record has a hole even though nothing failed on the server.
        while True:
            await asyncio.sleep(STALL_CHECK_S)
            self._check_disk()
            now = self._clock()
            for stream, recorder, attached in list(self._recorders.values()):
                last = recorder.last_arrival or attached
                expected = not stream.muted and (
                    self._room is None
                    or self._room.is_sending(recorder.participant_id, recorder.kind)
                )
                silent = now - last > self._stall_s
                if expected and silent and recorder.track not in self._stalled:
                    self._stalled.add(recorder.track)
                    self.recorder_fault(
                        recorder, f"no {recorder.kind} has arrived for {self._stall_s:g} s"
                    )
                elif recorder.track in self._stalled and (not silent or not expected):
                    self._stalled.discard(recorder.track)
                    self.recorder_resumed(recorder)

    def _check_disk(self) -> None:
        # Muxers hold up to a cluster in memory, so a full disk may only fail a write at
        # the next keyframe; free space tells the hosts before media is lost.
        try:
            free = shutil.disk_usage(self.folder.path).free
        except OSError:
            return
        if free < self._min_free_bytes:
            self._fault("disk", None, None,
                        f"the recording disk is nearly full ({free // 1024} KiB free)")
        else:
            self._resolved("disk", None, None)

    # ---- the timeline ----------------------------------------------------------------------

    def _timeline(self, event: AuditEvent) -> None:
        if event.hearing_id != self.hearing.id:
            return
        written = self.folder.append_timeline({
            "at": event.at.isoformat(),
            "offset_s": self.media_offset_s,
            "kind": event.kind,
            "actor": event.actor,
            "data": event.data,
        })
        if not written:
            log.warning("hearing %s: the timeline could not be written", self.hearing.id)

    def _note(self, kind: str, **data: Any) -> None:
        self._spawn(self._audit.record(self.hearing.id, kind, SERVER_ACTOR, **data))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the end -------------------------------------------------------------------------------

    async def stop(self, *, ended: bool) -> None:
        """The hearing ended (``ended``) or the server stops: close everything; idempotent.

        An ended hearing goes to processing (composite, signed manifest); a server stopping
        mid-hearing leaves a signed, incomplete record that a restart can continue. The work
        runs in a task the recording owns, so a cancelled caller cannot cut it short, and
        every later caller waits for the same end.
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(ended))
        await asyncio.shield(self._stopping)

    async def _stop(self, ended: bool) -> None:
        async with self._lock:
            if self._stopped:
                return
            self._stopped = True
            was_recording = self._origin is not None
            if self.on:
                if ended:
                    await self._audit.record(self.hearing.id, "record_off", SERVER_ACTOR)
                await self._detach_all()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._audit.remove_observer(self._timeline)
        if was_recording:
            with contextlib.suppress(OSError):
                self.folder.sync_timeline()
            await self._on_stopped(self.hearing.id, ended)

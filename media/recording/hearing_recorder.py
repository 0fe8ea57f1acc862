"""The recorder of one hearing: the mechanics behind ``media.plane.Recorder``.

While the hearing is on the record every published stream has a ``TrackRecorder`` as one
more sink (streams published later are picked up as a stream observer of the SFU). The
recorder also writes the record's timeline and state, and watches for media the record is
losing: a write or mux error, a full queue, a track that stopped arriving although its page
should be sending, a nearly full disk. Each such fault is told to the listener once, and
its end once. What the court does about it (alerts, audit, on and off the record) is the
hearing's policy, in ``signaling``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..periodic_task import PeriodicTask
from ..plane import RecorderFault, RecorderListener, RecorderStart, TimelineEntry
from ..published_stream import PublishedStream
from .folder import ClosedSegment, RecordingFolder
from .recorder_thread import RecorderThread
from .status import RecordingState
from .timeline import TimelineWriter
from .track_recorder import TrackRecorder

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0
DISK_TRACK = "disk"

# (hearing id, hearing ended) -> signs / renders the record; awaited by ``finish``.
FinishedCallback = Callable[[str, bool], Awaitable[None]]


class StreamSource(Protocol):
    """The SFU as the recorder sees it (``media.hearing_media.HearingMedia``)."""

    def add_stream_observer(self, observer: Any) -> None:
        """Hear of streams published from now on."""

    def remove_stream_observer(self, observer: Any) -> None:
        """Stop hearing of streams."""

    def published_streams(self) -> list[PublishedStream]:
        """The streams published right now."""


class HearingRecorder:
    """Records one hearing on this node into its ``RecordingFolder``."""

    def __init__(
        self,
        media: StreamSource,
        folder: RecordingFolder,
        *,
        case_number: str,
        title: str,
        segment_s: float,
        stall_s: float,
        on_finished: FinishedCallback,
        min_free_bytes: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self._media = media
        self._case_number = case_number
        self._title = title
        self._segment_s = segment_s
        self._stall_s = stall_s
        self._min_free_bytes = min_free_bytes
        self._on_finished = on_finished
        self._clock = clock
        self._listener: RecorderListener | None = None
        self._origin: float | None = None
        # id(stream) -> (stream, its recorder, when it was attached)
        self._recorders: dict[int, tuple[PublishedStream, TrackRecorder, float]] = {}
        self._stalled: set[str] = set()
        self._faults: dict[str, RecorderFault] = {}
        self._closing_tracks: set[asyncio.Task[None]] = set()
        self._watch: PeriodicTask | None = None
        self._timeline = TimelineWriter(folder)
        self._thread: RecorderThread | None = None
        self._finished = False
        self.on = False

    @property
    def media_offset_s(self) -> float | None:
        """Seconds since the recording's origin, or None before it ever started."""
        return None if self._origin is None else round(self._clock() - self._origin, 3)

    # ---- Recorder ---------------------------------------------------------------------------

    async def start(self, listener: RecorderListener) -> RecorderStart:
        """Record every published stream from now on."""
        self._listener = listener
        if self.on or self._finished:
            return RecorderStart.STARTED if self.on else RecorderStart.FAILED
        try:
            await asyncio.to_thread(self.folder.create)
        except OSError as error:
            # The hearing goes on without a record; the listener alerts the hosts at once.
            self._fault(RecorderFault(DISK_TRACK, None, None,
                                      f"cannot create the recording folder: {error}"))
            return RecorderStart.FAILED
        status = await asyncio.to_thread(self.folder.status)
        origin_wall = status.origin_wall if status and status.origin_wall else time.time()
        # Offsets stay on one clock across restarts: they count from the first start.
        self._origin = self._clock() - (time.time() - origin_wall)
        await self._update_status(
            case_number=self._case_number,
            title=self._title,
            state=RecordingState.RECORDING,
            origin_wall=origin_wall,
            on_record=True,
        )
        self.on = True
        self._media.add_stream_observer(self)
        for stream in self._media.published_streams():
            self.stream_published(stream)
        self._watch = PeriodicTask(
            f"recording watch of hearing {self.folder.hearing_id}", WATCH_INTERVAL_S,
            self._watch_step,
        )
        # The server stopped mid-hearing (crash or shutdown): the record continues.
        resumed = status is not None and status.state is RecordingState.INCOMPLETE
        return RecorderStart.RESUMED if resumed else RecorderStart.STARTED

    async def pause(self) -> None:
        """Close every track (their last segments are kept); the record stays open."""
        if not self.on:
            return
        self.on = False
        self._media.remove_stream_observer(self)
        if self._watch is not None:
            await self._watch.close()
            self._watch = None
        recorders = list(self._recorders.values())
        self._recorders.clear()
        for _, recorder, _ in recorders:
            recorder.detach()
        await asyncio.gather(*(recorder.close() for _, recorder, _ in recorders))
        if self._closing_tracks:
            await asyncio.gather(*self._closing_tracks, return_exceptions=True)
        await self._update_status(on_record=False)

    async def finish(self, *, ended: bool) -> None:
        """Close everything; an ended hearing's record is then processed, a record cut off by
        a server stop is signed as incomplete (``on_finished``); idempotent."""
        if self._finished:
            return
        self._finished = True
        await self.pause()
        if self._thread is not None:
            await self._thread.close()
        try:
            await asyncio.to_thread(self._timeline.close)
        except OSError:
            log.warning("hearing %s: the timeline could not be flushed", self.folder.hearing_id)
        if self._origin is None:
            return  # never on the record: nothing to sign or render
        await self._on_finished(self.folder.hearing_id, ended)

    def write_timeline(self, entry: TimelineEntry) -> None:
        """Queue one event with its offset on the media clock for the timeline's thread (the
        loop never waits for the disk); a failed write is retried with the next one."""
        self._timeline.append({
            "at": entry.at.isoformat(),
            "offset_s": self.media_offset_s,
            "kind": entry.kind,
            "actor": entry.actor,
            "data": entry.data,
        })

    # ---- StreamObserver ---------------------------------------------------------------------

    def stream_published(self, stream: PublishedStream) -> None:
        """Attach a track recorder to a stream while on the record."""
        if not self.on or id(stream) in self._recorders or self._origin is None:
            return
        if self._thread is None:
            self._thread = RecorderThread(f"recorder-{self.folder.hearing_id}")
        recorder = TrackRecorder(
            stream, self.folder, self, origin=self._origin, segment_s=self._segment_s,
            thread=self._thread,
        )
        self._recorders[id(stream)] = (stream, recorder, self._clock())

    def stream_unpublished(self, stream: PublishedStream) -> None:
        """The publisher left: close its track recorder (its last segment is kept)."""
        entry = self._recorders.pop(id(stream), None)
        if entry is None:
            return
        entry[1].detach()
        self._stalled.discard(entry[1].track)
        task = asyncio.ensure_future(entry[1].close())
        self._closing_tracks.add(task)
        task.add_done_callback(self._closing_tracks.discard)

    # ---- TrackEvents ------------------------------------------------------------------------

    def track_fault(self, recorder: TrackRecorder, reason: str) -> None:
        """A track recorder cannot write: the record loses that track until it resumes."""
        self._fault(RecorderFault(recorder.track, recorder.participant_id, recorder.kind, reason))

    def track_resumed(self, recorder: TrackRecorder) -> None:
        """The track records again."""
        self._resolved(recorder.track)

    def segment_closed(self, recorder: TrackRecorder, segment: ClosedSegment) -> None:
        """Nothing to do: the segment is already in the chain journal."""

    # ---- faults -----------------------------------------------------------------------------

    def _fault(self, fault: RecorderFault) -> None:
        if fault.track in self._faults:
            return
        self._faults[fault.track] = fault
        if self._listener is not None:
            self._listener.recorder_fault(fault)

    def _resolved(self, track: str) -> None:
        fault = self._faults.pop(track, None)
        if fault is not None and self._listener is not None:
            self._listener.recorder_resumed(fault)

    async def _update_status(self, **changes: Any) -> None:
        # The state file is fsynced: in a worker thread, so the loop forwards media meanwhile.
        try:
            await asyncio.to_thread(self.folder.update_status, **changes)
        except OSError as error:
            self._fault(RecorderFault(DISK_TRACK, None, None,
                                      f"cannot write the recording state: {error}"))

    async def _watch_step(self) -> None:
        await self._check_disk()
        self._check_stalls()
        now = self._clock()
        for _, recorder, _ in list(self._recorders.values()):
            # Also when no packet reaches it: the layer it waits on may have stopped.
            recorder.choose_layer(now)

    def _check_stalls(self) -> None:
        # A track that stops arriving while its page should be sending is a fault: the record
        # has a hole even though nothing failed on the server.
        now = self._clock()
        for stream, recorder, attached in list(self._recorders.values()):
            last = recorder.last_arrival or attached
            expected = not stream.muted and (
                self._listener is None
                or self._listener.expects_media(recorder.participant_id, recorder.kind)
            )
            silent = now - last > self._stall_s
            if expected and silent and recorder.track not in self._stalled:
                self._stalled.add(recorder.track)
                self.track_fault(
                    recorder, f"no {recorder.kind} has arrived for {self._stall_s:g} s"
                )
            elif recorder.track in self._stalled and (not silent or not expected):
                self._stalled.discard(recorder.track)
                self.track_resumed(recorder)

    async def _check_disk(self) -> None:
        # Muxers hold up to a cluster in memory, so a full disk may only fail a write at the
        # next keyframe; free space tells the hosts before media is lost. Asked in a thread:
        # a stalled disk or network share answers late.
        try:
            free = (await asyncio.to_thread(shutil.disk_usage, self.folder.path)).free
        except OSError:
            return
        if free < self._min_free_bytes:
            self._fault(RecorderFault(
                DISK_TRACK, None, None,
                f"the recording disk is nearly full ({free // 1024} KiB free)",
            ))
        else:
            self._resolved(DISK_TRACK)

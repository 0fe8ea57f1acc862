"""The recorder of one published stream: just another ``PacketSink`` on it.

It records the best layer the publisher sends (a ``LayerSwitch`` moves it between layers at
keyframes, so the record stays one continuous track when a phone's encoder drops its top
layer). ``deliver`` only timestamps the packet and queues it, within this track's bound,
for the hearing's ``RecorderThread`` (never blocks the forwarding path), which assembles
frames and writes segments. Failures (a full queue, a write or mux error) are reported as
faults through ``TrackEvents`` on the event loop; the recorder then drops what it cannot
write and tries again at the next keyframe after ``RETRY_AFTER_S``, so a freed disk
resumes the record by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from aiortc.rtp import RtpPacket

from ..layer_switch import LayerSwitch
from ..published_stream import ForwardedPacket, PublishedStream
from .folder import ClosedSegment, RecordingFolder
from .frames import AudioFrames, EncodedFrame, VideoFrames
from .recorder_thread import RecorderThread
from .segments import SegmentWriter

log = logging.getLogger(__name__)

QUEUE_PACKETS = 4096
RETRY_AFTER_S = 2.0
# How often the recorder looks again for the best layer the publisher sends.
CHOOSE_LAYER_EVERY_S = 1.0


class TrackEvents(Protocol):
    """What the owner of track recorders hears from them (always on the event loop)."""

    def track_fault(self, recorder: TrackRecorder, reason: str) -> None:
        """The recorder could not write; media is being lost until ``track_resumed``."""

    def track_resumed(self, recorder: TrackRecorder) -> None:
        """The recorder writes again after a fault."""

    def segment_closed(self, recorder: TrackRecorder, segment: ClosedSegment) -> None:
        """A segment was closed and entered in the chain."""


class TrackRecorder:
    """Records one ``PublishedStream`` into segments; a ``PacketSink``."""

    def __init__(
        self,
        stream: PublishedStream,
        folder: RecordingFolder,
        events: TrackEvents,
        *,
        origin: float,
        segment_s: float,
        thread: RecorderThread | None = None,
        queue_packets: int = QUEUE_PACKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.participant_id = stream.participant_id
        self.kind = stream.kind
        self.track = f"{stream.participant_id}-{stream.kind}"
        self.last_arrival: float | None = None
        self.segments = 0
        self._events = events
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        # The hearing's thread, or (alone, as in the benchmarks) one of its own.
        self._own_thread = thread is None
        self._thread = thread or RecorderThread(f"recorder-{self.track}")
        # The thread's queue is shared and unbounded: this track's share is bounded by
        # counting, each counter with one writer (the loop what it queues, the thread what
        # it takes).
        self._queue_limit = queue_packets
        self._queued = 0
        self._taken = 0
        self._writer = SegmentWriter(
            folder, stream.participant_id, stream.kind, segment_s=segment_s, origin=origin
        )
        self._fault: str | None = None
        self._overflowing = False
        self._closed = False
        self._switch = LayerSwitch(stream, self, clock=clock)
        self._next_choice = 0.0
        self.choose_layer(clock())
        self._closing: asyncio.Future[None] | None = None
        # Worker-thread state.
        self._assembler: AudioFrames | VideoFrames | None = None
        self._codec_refused = False
        self._retry_at = 0.0
        self._dropped = 0

    @property
    def faulted(self) -> bool:
        """Whether the recorder is currently losing media."""
        return self._fault is not None or self._overflowing

    # ---- PacketSink (event loop) ----------------------------------------------------------

    async def deliver(self, packet: ForwardedPacket) -> None:
        """Queue the packet, renumbered into the track's one stream, for the worker."""
        if self._closed:
            return
        now = self._clock()
        if now >= self._next_choice:
            self.choose_layer(now)
        out = self._switch.rewrite(packet)
        if out is None:
            await self._switch.missed(packet)
            return
        self.last_arrival = now
        rtp = packet.rtp
        sequence_number, timestamp, payload = out
        recorded = ForwardedPacket(
            RtpPacket(rtp.payload_type, rtp.marker, sequence_number, timestamp, 0, payload),
            packet.mime_type, packet.clock_rate, packet.keyframe_start, packet.segment,
            packet.layer,
        )
        waiting = self._queued - self._taken
        if waiting >= self._queue_limit:
            if not self._overflowing:
                self._overflowing = True
                self._events.track_fault(self, "the recorder cannot keep up (queue full)")
            return
        self._queued += 1
        self._thread.put(self, (now, recorded))
        if self._overflowing and waiting < self._queue_limit // 2:
            self._overflowing = False
            self._events.track_resumed(self)
        if self._writer.want_keyframe and self._switch.current is not None:
            await self.stream.request_keyframe(self._switch.current, repair=True)

    async def deliver_sender_report(self, layer: int, ntp_timestamp: int,
                                    rtp_timestamp: int) -> None:
        """Only for a switch between layers: tracks are aligned on arrival clocks."""
        self._switch.note_sender_report(layer, ntp_timestamp, rtp_timestamp)

    def choose_layer(self, now: float) -> None:
        """Record the best layer the publisher sends now (until any arrives, the top one)."""
        self._next_choice = now + CHOOSE_LAYER_EVERY_S
        layers = self.stream.layers
        # The best steady layer; a layer just turned on may turn off again at once.
        steady = [layer.index for layer in layers if layer.steady(now)]
        active = steady or [layer.index for layer in layers if layer.active(now)]
        best = max(active) if active else self._switch.target
        self._switch.set_target(self.stream.top_layer if best is None else best)

    def detach(self) -> None:
        """Stop taking the stream's packets (what is queued is still written)."""
        self._switch.close()

    async def close(self) -> None:
        """Write what is queued and close the open segment; idempotent."""
        if self._closing is None:
            self._closed = True
            self._switch.close()
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self._thread.finish(self)
        if self._own_thread:
            await self._thread.close()

    # ---- worker thread ---------------------------------------------------------------------

    def take(self, item: object) -> None:
        """Assemble frames from one queued packet and write them (in the thread)."""
        self._taken += 1
        assert isinstance(item, tuple)
        arrival, packet = item
        if self._assembler is None:
            if self._codec_refused:
                return
            try:
                self._writer.set_codec(packet.mime_type, packet.clock_rate)
            except ValueError as error:
                self._codec_refused = True
                self._report_fault(str(error))
                return
            self._assembler = VideoFrames(packet.mime_type) if self.kind == "video" \
                else AudioFrames()
        assembler = self._assembler
        for frame in assembler.push(arrival, packet.rtp, packet.keyframe_start):
            if self._fault is not None and (arrival < self._retry_at or not frame.keyframe):
                continue
            self._write(frame, arrival)
        if assembler.dropped != self._dropped:
            self._dropped = assembler.dropped
            self._writer.frame_lost()

    def _write(self, frame: EncodedFrame, arrival: float) -> None:
        try:
            closed = self._writer.write(frame)
        except Exception as error:
            self._writer.abandon()
            self._report_fault(_describe(error))
            self._retry_at = arrival + RETRY_AFTER_S
            return
        if self._fault is not None:
            self._fault = None
            self._loop.call_soon_threadsafe(self._events.track_resumed, self)
        if closed is not None:
            self._closed_segment(closed)

    def finish(self) -> None:
        """Close the open segment (in the thread, after the last queued packet)."""
        try:
            closed = self._writer.close()
        except Exception as error:
            self._writer.abandon()
            self._report_fault(_describe(error))
            return
        if closed is not None:
            self._closed_segment(closed)

    def _closed_segment(self, closed: ClosedSegment) -> None:
        self.segments += 1
        self._loop.call_soon_threadsafe(self._events.segment_closed, self, closed)

    def _report_fault(self, reason: str) -> None:
        log.warning("recorder %s: %s", self.track, reason)
        if self._fault is None:
            self._fault = reason
            self._loop.call_soon_threadsafe(self._events.track_fault, self, reason)


def _describe(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"write failed: {error.strerror}"
    return f"write failed: {error}"

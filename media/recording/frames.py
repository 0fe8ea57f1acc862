"""RTP packets back into encoded frames, tolerant of loss and reordering (never decoding).

A video frame is the run of packets sharing one RTP timestamp, from the packet that starts
the frame to the one carrying the marker bit. A frame with a hole is dropped once the
packets after it are older than ``RETRANSMISSION_WINDOW_S`` (the SFU NACKs losses, so a hole
usually fills); the writer then waits for the next keyframe. Audio packets are frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import VpxPayloadDescriptor, vp8_depayload
from aiortc.rtp import RtpPacket

from ..rtp_stats import seq_add, seq_diff

# The SFU retries NACKs for at least 1 s and four round trips; a hole still open after this
# is lost for good. On a slow phone link repairs take several round trips of 250-500 ms: a
# shorter wait dropped repairable frames and asked the phone for a keyframe each time.
RETRANSMISSION_WINDOW_S = 2.0
MAX_PENDING_FRAMES = 150


@dataclass(frozen=True)
class EncodedFrame:
    """One frame as the codec produced it, with its RTP timestamp and arrival time."""

    data: bytes
    timestamp: int
    arrival: float
    keyframe: bool


@dataclass
class _Pending:
    first_arrival: float
    packets: dict[int, RtpPacket] = field(default_factory=dict)
    keyframe_start: bool = False
    marker_seq: int | None = None


def ts_diff(a: int, b: int) -> int:
    """Signed distance from b to a on the 32-bit RTP timestamp circle (a - b)."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


class AudioFrames:
    """Opus: every packet is a frame; late or duplicate packets are dropped."""

    def __init__(self) -> None:
        self._last: int | None = None

    def push(self, arrival: float, packet: RtpPacket, keyframe_start: bool) -> list[EncodedFrame]:
        """Frames completed by this packet (zero or one)."""
        if self._last is not None and ts_diff(packet.timestamp, self._last) <= 0:
            return []
        self._last = packet.timestamp
        return [EncodedFrame(packet.payload, packet.timestamp, arrival, True)]

    @property
    def dropped(self) -> int:
        """Frames given up as incomplete (audio never assembles, so none)."""
        return 0


class VideoFrames:
    """VP8 or H.264 frames assembled by RTP timestamp and marker bit."""

    def __init__(self, mime_type: str) -> None:
        codec = mime_type.lower()
        self._depayload: Callable[[bytes], bytes] = (
            h264_depayload if codec == "video/h264" else vp8_depayload
        )
        self._starts_frame: Callable[[bytes], bool] = (
            _h264_starts_nal if codec == "video/h264" else _vp8_starts_frame
        )
        self._pending: dict[int, _Pending] = {}
        self._last_emitted: int | None = None
        self._last_marker_seq: int | None = None
        self.dropped = 0

    def push(self, arrival: float, packet: RtpPacket, keyframe_start: bool) -> list[EncodedFrame]:
        """Frames completed (in order) now that this packet arrived."""
        ts = packet.timestamp
        if self._last_emitted is not None and ts_diff(ts, self._last_emitted) <= 0:
            return []  # a retransmission for a frame already written or dropped
        pending = self._pending.get(ts)
        if pending is None:
            pending = self._pending[ts] = _Pending(arrival)
        pending.packets[packet.sequence_number] = packet
        if packet.marker:
            pending.marker_seq = packet.sequence_number
        if keyframe_start:
            pending.keyframe_start = True
        return self._drain(arrival)

    def _drain(self, now: float) -> list[EncodedFrame]:
        out: list[EncodedFrame] = []
        while self._pending:
            oldest = min(self._pending, key=lambda t: ts_diff(t, next(iter(self._pending))))
            pending = self._pending[oldest]
            ordered = self._complete(pending)
            if ordered is not None:
                del self._pending[oldest]
                self._emitted(oldest, pending)
                out.append(
                    EncodedFrame(
                        b"".join(self._depayload(p.payload) for p in ordered),
                        oldest,
                        pending.first_arrival,
                        pending.keyframe_start,
                    )
                )
                continue
            newest_arrival = max(p.first_arrival for p in self._pending.values())
            if (
                newest_arrival - pending.first_arrival > RETRANSMISSION_WINDOW_S
                or len(self._pending) > MAX_PENDING_FRAMES
            ):
                del self._pending[oldest]
                self._emitted(oldest, pending)
                self.dropped += 1
                continue
            break
        return out

    def _emitted(self, ts: int, pending: _Pending) -> None:
        self._last_emitted = ts
        if pending.marker_seq is not None:
            self._last_marker_seq = pending.marker_seq

    def _complete(self, pending: _Pending) -> list[RtpPacket] | None:
        marker = pending.marker_seq
        if marker is None:
            return None
        first = min(pending.packets, key=lambda s: seq_diff(s, marker))
        count = seq_diff(marker, first) + 1
        if count != len(pending.packets):
            return None
        ordered = [pending.packets[seq_add(first, i)] for i in range(count)]
        continues = (
            self._last_marker_seq is not None and seq_add(self._last_marker_seq, 1) == first
        )
        if not continues and not self._starts_frame(ordered[0].payload):
            return None
        return ordered


def _vp8_starts_frame(payload: bytes) -> bool:
    try:
        descriptor, _ = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        return False
    return bool(descriptor.partition_start) and descriptor.partition_id == 0


def _h264_starts_nal(payload: bytes) -> bool:
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == 28:  # FU-A: only the fragment with the start bit begins a NAL unit
        return len(payload) > 1 and bool(payload[1] & 0x80)
    return 1 <= nal_type <= 24


def vp8_dimensions(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 section 9.1)."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height

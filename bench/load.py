"""The synthetic load's media: pre-encoded senders and counting receivers on aiortc peers.

Publishers hand aiortc ``av.Packet`` objects (its own path for pre-encoded media: the sender's
encoder only packetizes them) and note, per publisher, a hash of every RTP payload with its send
time. Subscribers replace their receivers' packet handler on the instance: they count packets
and bytes, look the payload's hash up to measure ingress -> egress latency, and never feed a
jitter buffer or decoder. Both SFUs forward payloads unchanged, so the hash is SSRC-, sequence-
and timestamp-independent.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from .media_files import EncodedMedia

_CLOCK = {"audio": 48000, "video": 90000}


class PreEncodedTrack(MediaStreamTrack):
    """Loops pre-encoded frames in real time; a keyframe request restarts the loop."""

    def __init__(self, media: EncodedMedia) -> None:
        super().__init__()
        self.kind = media.kind
        self._media = media
        self._index = 0
        self._count = 0
        self._start: float | None = None
        self._ticks = round(media.interval_s * _CLOCK[media.kind])
        self._time_base = fractions.Fraction(1, _CLOCK[media.kind])

    def request_keyframe(self) -> None:
        """Send the loop's first frame (a keyframe) next: the SFU asked by PLI/FIR."""
        if self.kind == "video":
            self._index = 0

    async def recv(self) -> av.Packet:
        """The next frame as an ``av.Packet``, paced at the stream's frame interval."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._count * self._media.interval_s
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._media.frames[self._index])
        packet.pts = self._count * self._ticks
        packet.time_base = self._time_base
        self._index = (self._index + 1) % len(self._media.frames)
        self._count += 1
        return packet


def install_publisher(
    sender: RTCRtpSender, track: PreEncodedTrack, ledger: dict[int, float]
) -> None:
    """Make ``sender`` note each payload's send time in ``ledger`` and honour PLI/FIR."""
    original = sender._next_encoded_frame

    async def next_encoded_frame(codec: Any) -> Any:
        frame = await original(codec)
        if frame is not None:
            now = time.monotonic()
            for payload in frame.payloads:
                ledger[hash(payload)] = now
        return frame

    hooked: Any = sender
    hooked._next_encoded_frame = next_encoded_frame
    # aiortc only forces keyframes on its own encoders; ours restarts the pre-encoded loop.
    hooked._send_keyframe = track.request_keyframe


def vp8_keyframe_start(payload: bytes) -> bool:
    """Whether an RTP VP8 payload starts a keyframe (RFC 7741 descriptor, then P bit = 0)."""
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S bit set, partition index 0
        return False
    pos = 1
    if first & 0x80:
        ext = payload[1]
        pos = 2
        if ext & 0x80:
            pos += 2 if len(payload) > pos and payload[pos] & 0x80 else 1
        if ext & 0x40:
            pos += 1
        if ext & 0x30:
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01


@dataclass
class StreamCounter:
    """Packets one subscriber receives on one stream from one publisher."""

    publisher: str
    kind: str
    packets: int = 0
    bytes: int = 0
    first_seq: int | None = None
    highest_seq: int = 0  # extended (unwrapped) sequence number

    def note_seq(self, seq: int) -> None:
        """Track the extended sequence number range, for loss."""
        if self.first_seq is None:
            self.first_seq = self.highest_seq = seq
            return
        last = self.highest_seq & 0xFFFF
        delta = (seq - last) & 0xFFFF
        if delta < 0x8000:
            self.highest_seq += delta

    @property
    def expected(self) -> int:
        """Packets the subscriber should have had since its first one."""
        return 0 if self.first_seq is None else self.highest_seq - self.first_seq + 1


@dataclass
class ParticipantStats:
    """One participant's join milestones and received streams."""

    name: str
    signaling_start: float | None = None
    first_packet: float | None = None
    first_keyframe: float | None = None
    streams: list[StreamCounter] = field(default_factory=list)


@dataclass
class LoadStats:
    """Everything the load measures; latencies are only kept while ``recording``."""

    ledgers: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    participants: dict[str, ParticipantStats] = field(default_factory=dict)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    unmatched: int = 0
    recording: bool = False

    def ledger(self, publisher: str, kind: str) -> dict[int, float]:
        """The send-time table of one publisher's stream."""
        return self.ledgers.setdefault((publisher, kind), {})

    def participant(self, name: str) -> ParticipantStats:
        """The stats of ``name``, created on first use."""
        return self.participants.setdefault(name, ParticipantStats(name))

    def totals(self) -> tuple[int, int, int]:
        """(packets received, bytes received, packets expected) over all subscribers."""
        packets = size = expected = 0
        for participant in self.participants.values():
            for stream in participant.streams:
                packets += stream.packets
                size += stream.bytes
                expected += stream.expected
        return packets, size, expected


def install_counter(
    receiver: RTCRtpReceiver, stats: LoadStats, subscriber: str, publisher: str, kind: str
) -> None:
    """Make ``receiver`` count and time packets of ``publisher``'s ``kind`` without decoding.

    Called again after a renegotiation that moved the m-line to another publisher.
    """
    participant = stats.participant(subscriber)
    counter = StreamCounter(publisher, kind)
    participant.streams.append(counter)
    ledger = stats.ledger(publisher, kind)
    hooked: Any = receiver
    if not getattr(hooked, "_bench_registered", None):
        registered: list[Any] = []

        # Register with the DTLS transport's router only: no decoder thread per receiver.
        async def receive(parameters: Any) -> None:
            if not registered:
                hooked.transport._register_rtp_receiver(receiver, parameters)
                registered.append(hooked.transport)

        async def stop() -> None:
            while registered:
                registered.pop()._unregister_rtp_receiver(receiver)

        async def ignore_rtcp(packet: Any) -> None:
            return None

        hooked.receive = receive
        hooked.stop = stop
        hooked._handle_rtcp_packet = ignore_rtcp
        hooked._bench_registered = registered

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        now = time.monotonic()
        payload = packet.payload
        if not payload:
            return  # padding-only probes carry no media
        counter.packets += 1
        counter.bytes += len(payload)
        counter.note_seq(packet.sequence_number)
        if participant.first_packet is None:
            participant.first_packet = now
        if (
            participant.first_keyframe is None
            and kind == "video"
            and vp8_keyframe_start(payload)
        ):
            participant.first_keyframe = now
        if stats.recording:
            sent = ledger.get(hash(payload))
            if sent is None:
                stats.unmatched += 1
            else:
                stats.latencies_ms.append((now - sent) * 1000.0)

    hooked._handle_rtp_packet = handle_rtp_packet

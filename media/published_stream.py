"""One participant's published audio or video stream, and its fan-out to sinks.

The forwarding path never decodes: packets are cached (so subscribers' NACKs can be answered
without bothering the publisher), counted, and handed to every sink. A sink is anything with
``deliver``: a subscriber's peer connection today, the recorder later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiortc.rtp import RtpPacket

from .codecs import is_keyframe_start
from .metrics import StreamCounters
from .rtp_packets import audio_level_byte
from .rtp_stats import MissingPackets, ReceptionStatistics

# A power of two that covers ~1.5 s of 480p video: older packets are useless to a receiver.
PACKET_CACHE_SIZE = 1024
_CACHE_MASK = PACKET_CACHE_SIZE - 1
# (sequence number, timestamp, marker, payload type, SSRC, payload, audio-level byte)
_Cached = tuple[int, int, int, int, int, bytes, int | None]
KEYFRAME_REQUEST_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class ForwardedPacket:
    """A publisher's packet as the server received it (SSRC/seq/timestamp not rewritten).

    ``segment`` changes whenever the stream skipped packets on purpose (mute), so a sink can
    keep its own sequence numbers gap-free instead of reporting the skipped ones as lost.
    """

    rtp: RtpPacket
    mime_type: str
    clock_rate: int
    keyframe_start: bool
    segment: int


class PacketSink(Protocol):
    """A consumer of a published stream (a subscriber's connection, a recorder)."""

    async def deliver(self, packet: ForwardedPacket) -> None:
        """Take one packet; must not block on slow I/O."""

    async def deliver_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """The publisher's RTCP sender report: maps its RTP clock to wall clock (lip sync)."""


class LevelObserver(Protocol):
    """Hears the audio level of every packet of an audio stream (active-speaker selection)."""

    def add(self, level_byte: int | None) -> None:
        """One packet's ssrc-audio-level byte, or None when the packet carried none."""


class Upstream(Protocol):
    """How a published stream talks back to its publisher (RTCP feedback)."""

    async def send_pli(self, media_ssrc: int) -> None:
        """Ask the publisher for a keyframe."""

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        """Ask the publisher to retransmit packets."""


class PublishedStream:
    """A participant's audio or video as received by the server, fanned out to sinks."""

    def __init__(
        self,
        participant_id: str,
        kind: str,
        *,
        counters: StreamCounters,
        upstream: Upstream,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.participant_id = participant_id
        self.kind = kind
        self.counters = counters
        self.media_ssrc: int | None = None
        self.mime_type = ""
        self.clock_rate = 90000 if kind == "video" else 48000
        self.muted = False
        self.statistics: ReceptionStatistics | None = None
        self._sinks: list[PacketSink] = []
        self._upstream = upstream
        self._clock = clock
        # Entries are tuples of ints and bytes, which the garbage collector stops tracking:
        # a cache of packet objects would be promoted to the oldest generation at the packet
        # rate and make every full collection (a stall of the whole event loop) long.
        self._cache: list[_Cached | None] = [None] * PACKET_CACHE_SIZE
        self._missing = MissingPackets() if kind == "video" else None
        self._is_video = kind == "video"
        self._segment = 0
        self._levels: LevelObserver | None = None
        self._last_keyframe_request = -KEYFRAME_REQUEST_INTERVAL
        self.closed = False

    @property
    def sinks(self) -> tuple[PacketSink, ...]:
        """The current subscribers of this stream."""
        return tuple(self._sinks)

    def add_sink(self, sink: PacketSink) -> None:
        """Start delivering packets to ``sink`` (it waits for a keyframe on its own)."""
        if sink not in self._sinks:
            self._sinks.append(sink)

    def remove_sink(self, sink: PacketSink) -> None:
        """Stop delivering packets to ``sink``."""
        if sink in self._sinks:
            self._sinks.remove(sink)

    def set_codec(self, mime_type: str, clock_rate: int) -> None:
        """Record the negotiated codec (known once the publisher's answer is applied)."""
        self.mime_type = mime_type
        self.clock_rate = clock_rate
        self.statistics = ReceptionStatistics(clock_rate)

    def set_level_meter(self, meter: LevelObserver | None) -> None:
        """Report every packet's audio level to ``meter`` (None: stop reporting)."""
        self._levels = meter

    def set_muted(self, muted: bool) -> None:
        """Stop or resume forwarding; sinks see a new segment when forwarding resumes."""
        if self.muted != muted:
            self.muted = muted
            self._segment += 1

    def cached(self, sequence_number: int) -> RtpPacket | None:
        """The cached packet with this (publisher) sequence number, if still cached."""
        entry = self._cache[sequence_number & _CACHE_MASK]
        if entry is None or entry[0] != sequence_number:
            return None
        _, timestamp, marker, payload_type, ssrc, payload, level = entry
        packet = RtpPacket(payload_type, marker, sequence_number, timestamp, ssrc, payload)
        if level is not None:
            packet.extensions.audio_level = (bool(level & 0x80), level & 0x7F)
        return packet

    async def request_keyframe(self) -> bool:
        """Send a PLI to the publisher, at most one per ``KEYFRAME_REQUEST_INTERVAL``."""
        if self.kind != "video" or self.media_ssrc is None or self.closed:
            return False
        now = self._clock()
        if now - self._last_keyframe_request < KEYFRAME_REQUEST_INTERVAL:
            return False
        self._last_keyframe_request = now
        self.counters.plis_sent += 1
        await self._upstream.send_pli(self.media_ssrc)
        return True

    async def request_retransmission(self, sequence_numbers: list[int]) -> None:
        """Relay a subscriber's NACK for packets the server never received."""
        if self.media_ssrc is None or not sequence_numbers or self.closed:
            return
        self.counters.nacks_sent += 1
        await self._upstream.send_nack(self.media_ssrc, sequence_numbers)

    async def receive(self, packet: RtpPacket) -> None:
        """Handle one RTP packet from the publisher (RTX already unwrapped)."""
        if self.closed:
            return
        ssrc = packet.ssrc
        if self.media_ssrc is None:
            self.media_ssrc = ssrc
        elif ssrc != self.media_ssrc:
            return  # one stream per m-line: a second SSRC is not ours to forward
        seq = packet.sequence_number
        cache = self._cache
        slot = seq & _CACHE_MASK
        previous = cache[slot]
        if previous is not None and previous[0] == seq:
            return  # duplicate, e.g. a retransmission that arrived after all
        payload = packet.payload
        level = None if self._is_video else audio_level_byte(packet)
        cache[slot] = (seq, packet.timestamp, packet.marker, packet.payload_type, ssrc, payload,
                       level)
        counters = self.counters
        counters.packets += 1
        counters.bytes += len(payload)
        if self.statistics is not None:
            counters.packets_lost = self.statistics.add(packet)
        if self._missing is not None:
            lost = self._missing.add(seq, self._clock())
            if lost:
                counters.nacks_sent += 1
                await self._upstream.send_nack(ssrc, lost)
        if self.muted:
            return
        if self._levels is not None:
            self._levels.add(level)
        if not self._sinks:
            return
        forwarded = ForwardedPacket(
            packet,
            self.mime_type,
            self.clock_rate,
            self._is_video and is_keyframe_start(self.mime_type, payload),
            self._segment,
        )
        for sink in tuple(self._sinks):
            await sink.deliver(forwarded)

    async def receive_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """Relay the publisher's sender report to every sink (for lip sync)."""
        if self.statistics is not None:
            self.statistics.sender_report(ntp_timestamp, self._clock())
        for sink in tuple(self._sinks):
            await sink.deliver_sender_report(ntp_timestamp, rtp_timestamp)

    def close(self) -> None:
        """Stop forwarding; sinks are dropped (their owners tear them down)."""
        self.closed = True
        self._sinks.clear()
        self._cache = [None] * PACKET_CACHE_SIZE

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
from .rtp_stats import MissingPackets, ReceptionStatistics

# A power of two that covers ~1.5 s of 480p video: older packets are useless to a receiver.
PACKET_CACHE_SIZE = 1024
KEYFRAME_REQUEST_INTERVAL = 0.5


@dataclass(frozen=True)
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
        self._cache: list[RtpPacket | None] = [None] * PACKET_CACHE_SIZE
        self._missing = MissingPackets() if kind == "video" else None
        self._segment = 0
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

    def set_muted(self, muted: bool) -> None:
        """Stop or resume forwarding; sinks see a new segment when forwarding resumes."""
        if self.muted != muted:
            self.muted = muted
            self._segment += 1

    def cached(self, sequence_number: int) -> RtpPacket | None:
        """The cached packet with this (publisher) sequence number, if still cached."""
        packet = self._cache[sequence_number % PACKET_CACHE_SIZE]
        if packet is not None and packet.sequence_number == sequence_number:
            return packet
        return None

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
        if self.media_ssrc is None:
            self.media_ssrc = packet.ssrc
        elif packet.ssrc != self.media_ssrc:
            return  # one stream per m-line: a second SSRC is not ours to forward
        if self.cached(packet.sequence_number) is not None:
            return  # duplicate, e.g. a retransmission that arrived after all
        self._cache[packet.sequence_number % PACKET_CACHE_SIZE] = packet
        self.counters.packets += 1
        self.counters.bytes += len(packet.payload)
        if self.statistics is not None:
            self.statistics.add(packet)
            self.counters.packets_lost = self.statistics.packets_lost
        if self._missing is not None:
            lost = self._missing.add(packet.sequence_number, self._clock())
            if lost:
                self.counters.nacks_sent += 1
                await self._upstream.send_nack(packet.ssrc, lost)
        if self.muted:
            return
        forwarded = ForwardedPacket(
            rtp=packet,
            mime_type=self.mime_type,
            clock_rate=self.clock_rate,
            keyframe_start=self.kind == "video"
            and is_keyframe_start(self.mime_type, packet.payload),
            segment=self._segment,
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

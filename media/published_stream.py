"""One participant's published audio or video stream, its layers, and its fan-out to sinks.

The forwarding path never decodes: packets are cached per layer (so subscribers' NACKs can be
answered without bothering the publisher), counted, and handed to the sinks of the layer
they belong to. A sink is anything with ``deliver``: a subscriber's connection, a recorder.
A video stream has up to three simulcast layers (``stream_layer.StreamLayer``); a sink takes
one layer at a time and may listen to a second while it waits for a keyframe to switch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiortc.rtp import RtpPacket

from .codecs import is_keyframe_start, keyframe_size
from .metrics import StreamCounters
from .publisher_limits import PublisherLimits, picture_allowed
from .rtp_packets import audio_level_byte
from .rtp_stats import ReceptionStatistics
from .stream_layer import StreamLayer

# The rids a server offers a publisher's camera, lowest quality first (RFC 8853): a quarter,
# half and the full resolution.
SIMULCAST_RIDS = ("q", "h", "f")
# Consumers moving up a layer wait for a keyframe at this pace (they are seeing the layer
# below meanwhile), so those of one stream share a keyframe instead of asking for one each.
UPGRADE_KEYFRAME_EVERY_S = 4.0
NO_LIMITS = PublisherLimits()


@dataclass(frozen=True, slots=True)
class ForwardedPacket:
    """A publisher's packet as the server received it (SSRC/seq/timestamp not rewritten).

    ``segment`` changes whenever the stream skipped packets on purpose (mute), so a sink can
    keep its own sequence numbers gap-free instead of reporting the skipped ones as lost.
    ``layer`` is the index of the layer it came on (0 for a stream without simulcast).
    """

    rtp: RtpPacket
    mime_type: str
    clock_rate: int
    keyframe_start: bool
    segment: int
    layer: int


class PacketSink(Protocol):
    """A consumer of a published stream (a subscriber's connection, a recorder)."""

    async def deliver(self, packet: ForwardedPacket) -> None:
        """Take one packet; must not block on slow I/O."""

    async def deliver_sender_report(self, layer: int, ntp_timestamp: int,
                                    rtp_timestamp: int) -> None:
        """A layer's RTCP sender report: maps its RTP clock to wall clock (lip sync)."""


class LevelObserver(Protocol):
    """Hears the audio level of every packet of an audio stream (active-speaker selection)."""

    def add(self, level_byte: int | None, payload_size: int) -> None:
        """One packet's ssrc-audio-level byte (None when the packet carried none) and the
        size of its payload."""


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
        rids: Sequence[str | None] = (None,),
        clock: Callable[[], float] = time.monotonic,
        limits: PublisherLimits = NO_LIMITS,
    ) -> None:
        self.participant_id = participant_id
        self.kind = kind
        self.counters = counters
        self.mime_type = ""
        self.clock_rate = 90000 if kind == "video" else 48000
        self.muted = False
        self._is_video = kind == "video"
        self._limits = limits
        ceiling = limits.video_ceiling_bps if self._is_video else None
        self.layers = tuple(
            StreamLayer(i, rid, video=self._is_video, ceiling_bps=ceiling)
            for i, rid in enumerate(rids)
        )
        self._sinks: tuple[list[PacketSink], ...] = tuple([] for _ in self.layers)
        # Everyone following the stream, also while paused (taking no layer at all).
        self._consumers: list[PacketSink] = []
        self._upstream = upstream
        self._clock = clock
        self._segment = 0
        self._levels: LevelObserver | None = None
        self._upgrade_requested_at = -UPGRADE_KEYFRAME_EVERY_S
        self.closed = False

    @property
    def top_layer(self) -> int:
        """The index of the best layer (where a publisher without simulcast sends)."""
        return len(self.layers) - 1

    @property
    def sinks(self) -> tuple[PacketSink, ...]:
        """Every consumer taking packets of some layer of this stream now."""
        seen: dict[int, PacketSink] = {}
        for sinks in self._sinks:
            for sink in sinks:
                seen.setdefault(id(sink), sink)
        return tuple(seen.values())

    @property
    def consumers(self) -> tuple[PacketSink, ...]:
        """Everyone following this stream, taking packets now or paused."""
        return tuple(self._consumers)

    def follow(self, consumer: PacketSink) -> None:
        """Count ``consumer`` among the stream's followers (``LayerSwitch`` does)."""
        if consumer not in self._consumers:
            self._consumers.append(consumer)

    def unfollow(self, consumer: PacketSink) -> None:
        """``consumer`` stops following the stream."""
        if consumer in self._consumers:
            self._consumers.remove(consumer)
        self.remove_sink(consumer)

    def add_sink(self, sink: PacketSink, layer: int = 0) -> None:
        """Deliver ``layer``'s packets to ``sink`` (a video sink waits for a keyframe itself)."""
        sinks = self._sinks[layer]
        if sink not in sinks:
            sinks.append(sink)

    def remove_sink(self, sink: PacketSink, layer: int | None = None) -> None:
        """Stop delivering ``layer``'s packets (None: any layer's) to ``sink``."""
        for index, sinks in enumerate(self._sinks):
            if (layer is None or index == layer) and sink in sinks:
                sinks.remove(sink)

    def set_codec(self, mime_type: str, clock_rate: int) -> None:
        """Record the negotiated codec (known once the publisher's answer is applied)."""
        self.mime_type = mime_type
        self.clock_rate = clock_rate

    def set_level_meter(self, meter: LevelObserver | None) -> None:
        """Report every packet's audio level to ``meter`` (None: stop reporting)."""
        self._levels = meter

    def set_muted(self, muted: bool) -> None:
        """Stop or resume forwarding; sinks see a new segment when forwarding resumes."""
        if self.muted != muted:
            self.muted = muted
            self._segment += 1

    def set_round_trip(self, seconds: float) -> None:
        """The publisher's link round-trip time: NACKs to it are repeated no sooner."""
        for layer in self.layers:
            if layer.missing is not None:
                layer.missing.rtt = seconds

    def received_and_lost(self) -> tuple[int, int]:
        """Packets received by the server and lost on the way in (before any repair); the
        stream's ``packets_lost`` counter is brought up to date."""
        stats = [layer.statistics for layer in self.layers if layer.statistics is not None]
        lost = sum(s.packets_lost for s in stats)
        self.counters.packets_lost = lost
        return sum(s.received for s in stats), lost

    async def request_keyframe(self, layer: int, *, urgent: bool = True,
                               repair: bool = False) -> bool:
        """Send a PLI for one layer, at most one per ``KEYFRAME_REQUEST_INTERVAL``.

        An ``urgent`` request is for a consumer that has no picture until the keyframe (it
        starts, resumes, goes down a layer, or lost a frame). Others (a consumer moving up
        while its layer still plays) are served at most one keyframe per
        ``UPGRADE_KEYFRAME_EVERY_S`` of the layer: each costs a weak uplink several frames'
        worth, on every layer at once with libvpx simulcast. A ``repair`` (a consumer lost a
        frame) backs off while repairs keep coming (``StreamLayer.keyframe_request_due``).
        """
        if not self._is_video or self.closed:
            return False
        target = self.layers[layer]
        now = self._clock()
        if not urgent and now - max(self._upgrade_requested_at, target.last_keyframe) \
                < UPGRADE_KEYFRAME_EVERY_S:
            return False
        if not target.keyframe_request_due(now, repair=repair):
            return False
        if not urgent:
            self._upgrade_requested_at = now
        assert target.media_ssrc is not None
        self.counters.plis_sent += 1
        await self._upstream.send_pli(target.media_ssrc)
        return True

    async def receive(self, packet: RtpPacket, layer: int = 0, *,
                      repaired: bool = False) -> None:
        """Handle one RTP packet from the publisher on ``layer`` (RTX already unwrapped).

        ``repaired`` packets (retransmissions) are forwarded but not counted as received in
        the receiver reports: the publisher's estimator must see its real loss.
        """
        if self.closed:
            return
        into = self.layers[layer]
        ssrc = packet.ssrc
        if into.media_ssrc is None:
            into.media_ssrc = ssrc
            into.statistics = ReceptionStatistics(self.clock_rate)
        elif ssrc != into.media_ssrc:
            return  # one SSRC per layer: another is not ours to forward
        now = self._clock()
        level = None if self._is_video else audio_level_byte(packet)
        if not into.store(packet, level, now):
            return  # duplicate, e.g. a retransmission that arrived after all
        payload = packet.payload
        counters = self.counters
        counters.packets += 1
        counters.bytes += len(payload)
        statistics = into.statistics
        if statistics is not None and not repaired:
            statistics.add(packet)
        missing = into.missing
        if missing is not None:
            lost = missing.add(packet.sequence_number, now)
            if lost:
                counters.nacks_sent += 1
                await self._upstream.send_nack(ssrc, lost)
        keyframe = self._is_video and is_keyframe_start(self.mime_type, payload)
        if keyframe:
            into.keyframes += 1
            into.last_keyframe = now
            self._keyframe_arrived(into, keyframe_size(self.mime_type, payload))
        if into.blocked is not None:
            # Beyond the limits: consumers see a gap that ends at a keyframe within them.
            counters.packets_dropped += 1
            if into.blocked == "rate" and not into.over_ceiling:
                await self.request_keyframe(layer, urgent=False)
            return
        if self.muted:
            return
        if self._levels is not None:
            self._levels.add(level, len(payload))
        sinks = self._sinks[layer]
        if not sinks:
            return
        forwarded = ForwardedPacket(
            packet, self.mime_type, self.clock_rate, keyframe, self._segment, layer
        )
        for sink in tuple(sinks):
            await sink.deliver(forwarded)

    def _keyframe_arrived(self, into: StreamLayer, size: tuple[int, int] | None) -> None:
        # The size a decoder would allocate for is read here, before anyone decodes it.
        if size is not None and not picture_allowed(*size, self._limits.max_picture):
            into.blocked = "picture"
            return
        if size is not None:
            into.width, into.height = size
        if (into.blocked == "picture" and size is not None) or (
                into.blocked == "rate" and not into.over_ceiling):
            into.blocked = None

    async def receive_sender_report(self, layer: int, ntp_timestamp: int,
                                    rtp_timestamp: int) -> None:
        """Relay a layer's sender report to its sinks (for lip sync)."""
        statistics = self.layers[layer].statistics
        if statistics is not None:
            statistics.sender_report(ntp_timestamp, self._clock())
        for sink in tuple(self._sinks[layer]):
            await sink.deliver_sender_report(layer, ntp_timestamp, rtp_timestamp)

    def close(self) -> None:
        """Stop forwarding; sinks are dropped (their owners tear them down)."""
        self.closed = True
        self._consumers.clear()
        for sinks in self._sinks:
            sinks.clear()
        for layer in self.layers:
            layer.clear()

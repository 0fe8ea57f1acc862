"""The synthetic load's media: light publishers and counting subscribers on aiortc peers.

Publishers send pre-packetized VP8 and Opus (``fastpath.LightPublisher``) and note, per
publisher, each payload's send time by its hash. Subscribers count packets and bytes, look the
payload's hash up to measure ingress -> egress latency against the kernel's receive time, and
never feed a jitter buffer or decoder (``fastpath.LoadIngress``). Both SFUs forward payloads
unchanged, so the hash is SSRC-, sequence- and timestamp-independent.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtp import RtpPacket

from .fastpath import (
    ArrivalClock,
    Frame,
    LightPublisher,
    LoadIngress,
    StreamCounter,
    install_receive_hooks,
    packetize,
)
from .media_files import EncodedMedia


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
class ParticipantStats:
    """One participant's join milestones and received streams."""

    name: str
    signaling_start: float | None = None
    # Where a join's time goes: the first offer (after lobby and admission), our answer sent,
    # the peer connection connected (ICE + DTLS), then the first packet and keyframe.
    first_offer: float | None = None
    answered: float | None = None
    connected: float | None = None
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
    arrivals: ArrivalClock = field(default_factory=ArrivalClock)
    frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)
    # (publisher, kind) -> key of the media it sends, when not the kind's own (e.g. a silent
    # microphone: "audio-silent"); see ``use_media``.
    variants: dict[tuple[str, str], str] = field(default_factory=dict)
    # Every audio packet subscribers receive, as (subscriber, publisher, seq, kernel arrival
    # time, payload), when a
    # benchmark asks for them (audio continuity); None: not kept.
    audio_log: list[tuple[str, str, int, float, bytes]] | None = None

    def use_media(self, media: dict[str, EncodedMedia]) -> None:
        """Packetize the looped media once, for every publisher (keyed by kind or variant)."""
        for key, encoded in media.items():
            if key not in self.frames:
                self.frames[key] = packetize(encoded)
                self.intervals[key] = encoded.interval_s

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


def install_publisher(sender: RTCRtpSender, kind: str, stats: LoadStats, publisher: str) -> None:
    """Make ``sender`` send ``publisher``'s looped ``kind`` the light way (``LightPublisher``)."""
    key = stats.variants.get((publisher, kind), kind)
    LightPublisher(sender, stats.frames[key], kind, stats.ledger(publisher, kind),
                   stats.intervals[key])


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
    arrivals = stats.arrivals
    video = kind == "video"
    audio_log = stats.audio_log if kind == "audio" else None

    def count(payload: bytes, seq: int, arrival: float) -> None:
        if not payload:
            return  # padding-only probes carry no media
        counter.packets += 1
        counter.bytes += len(payload)
        counter.note_seq(seq)
        if audio_log is not None:
            audio_log.append((subscriber, publisher, seq, arrival, payload))
        if participant.first_keyframe is None:
            # Milestones on the kernel's clock too: when it arrived, not when we got to it.
            arrived = time.monotonic() - max(0.0, time.time() - arrival)
            if participant.first_packet is None:
                participant.first_packet = arrived
            if video and vp8_keyframe_start(payload):
                participant.first_keyframe = arrived
        if stats.recording:
            sent = ledger.get(hash(payload))
            if sent is None:
                stats.unmatched += 1
            else:
                stats.latencies_ms.append((arrival - sent) * 1000.0)

    def on_ssrc(transport: Any, ssrc: int) -> None:
        LoadIngress.of(transport, arrivals).add(ssrc, count)

    install_receive_hooks(receiver, on_ssrc)
    hooked: Any = receiver
    hooked._bench_on_ssrc = on_ssrc

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        # An SSRC the SDP did not announce, routed by aiortc: count it the fast way from now on.
        transport = hooked.transport
        if transport is not None:
            on_ssrc(transport, packet.ssrc)
        count(packet.payload, packet.sequence_number, arrivals.arrival or time.time())

    hooked._handle_rtp_packet = handle_rtp_packet

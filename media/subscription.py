"""A subscriber's copy of one published stream, sent over the subscriber's peer connection.

Each subscription owns one server ``RTCRtpSender`` (one m-line in the subscriber's SDP) and
rewrites the publisher's packets onto it: the sender's SSRC, a sequence number that stays
gap-free across intentional skips (mute, waiting for a keyframe) and a timestamp shifted by a
per-subscription offset. Sender reports are translated with the same offset, so the receiver
can keep audio and video of one participant in lip sync.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from typing import Any

from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    wrap_rtx,
)

from .aiortc_seam import SendParameters, Transport
from .metrics import StreamCounters
from .plane import LinkQuality
from .published_stream import ForwardedPacket, PublishedStream
from .rtp_packets import HeaderWriter, audio_level_byte
from .rtp_stats import seq_add, seq_diff

# How far the "before this subscriber's start" guard trails the newest packet: far older than
# any reordering or NACK answer, far from the half-circle where sequence order flips.
_START_WINDOW = 0x4000
_START_TRAIL = 0x2000


class Subscription:
    """Forwards one ``PublishedStream`` to one subscriber; a ``PacketSink``, and the
    ``SenderListener`` of the server sender it forwards on."""

    def __init__(
        self,
        stream: PublishedStream,
        subscriber_id: str,
        *,
        transport: Transport,
        ssrc: int,
        rtx_ssrc: int,
        counters: StreamCounters,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.subscriber_id = subscriber_id
        self.kind = stream.kind
        self.quality = LinkQuality()
        self._transport = transport
        self._ssrc = ssrc
        self._rtx_ssrc = rtx_ssrc
        self._counters = counters
        self._clock = clock
        self._mid: str | None = None
        self._payload_types: dict[str, tuple[int, int | None]] = {}
        # The last publisher codec seen and its payload types here: one lookup per codec change.
        self._mime_type = ""
        self._payload_type: int | None = None
        self._header: HeaderWriter | None = None
        self._started = False
        self._paused = False
        self._closed = False
        self._waiting_keyframe = stream.kind == "video"
        self._segment: int | None = None
        self._segment_start = 0
        # Below 32768 like aiortc, so the first packets never wrap (SRTP index estimation).
        self._next_seq = random.getrandbits(15)
        self._seq_offset = 0
        self._ts_offset = random.getrandbits(32)
        self._rtx_seq = random.getrandbits(15)
        self._sent_packets = 0
        self._sent_bytes = 0
        self._last_sr: tuple[int, float] | None = None

    @property
    def ssrc(self) -> int:
        """The SSRC the subscriber sees for this stream."""
        return self._ssrc

    @property
    def forwarding(self) -> bool:
        """Whether packets currently reach the subscriber (started, not waiting or paused)."""
        return (
            self._started
            and not self._paused
            and not self._closed
            and (self._segment is not None and not self._waiting_keyframe)
        )

    async def start(self, parameters: SendParameters) -> None:
        """The subscriber's connection is up and this sender negotiated: begin forwarding."""
        self._mid = parameters.mid
        for codec in parameters.codecs:
            self._payload_types.setdefault(
                codec.mime_type.lower(), (codec.payload_type, codec.rtx_payload_type)
            )
        ids = self._transport.extension_ids()
        # Each kind carries only the extensions its m-line negotiated.
        if self.kind == "video":
            ids = dataclasses.replace(ids, audio_level=0)
        else:
            ids = dataclasses.replace(ids, abs_send_time=0)
        self._header = HeaderWriter(ids, self._mid)
        self._started = True
        if self.kind == "video":
            # A newcomer must not wait for the publisher's next periodic keyframe.
            await self.stream.request_keyframe()

    def set_paused(self, paused: bool) -> None:
        """Stop or resume forwarding (video to an audio-only participant, or a silent
        publisher's audio to one); sequence numbers stay gap-free across the pause."""
        if paused == self._paused:
            return
        self._paused = paused
        if not paused:
            if self.kind == "video":
                self._waiting_keyframe = True
            else:
                # Resume as a new segment, like after a mute: the skipped packets were not
                # lost, so the receiver must not see a gap (and conceal or NACK it).
                self._segment = None

    def close(self) -> None:
        """Stop forwarding for good."""
        self._closed = True
        self.stream.remove_sink(self)

    async def deliver(self, packet: ForwardedPacket) -> None:
        """Rewrite and send one packet of the publisher's stream."""
        if self._closed or not self._started or self._paused:
            return
        rtp = packet.rtp
        if packet.segment != self._segment or self._waiting_keyframe:
            if self.kind == "video" and not packet.keyframe_start:
                self._waiting_keyframe = True
                await self.stream.request_keyframe()
                return
            self._waiting_keyframe = False
            self._segment = packet.segment
            self._segment_start = rtp.sequence_number
            self._seq_offset = seq_diff(self._next_seq, rtp.sequence_number)
        else:
            since_start = (rtp.sequence_number - self._segment_start) & 0xFFFF
            if since_start >= 0x8000:
                return  # from before this subscriber's starting point
            if since_start >= _START_WINDOW:
                # Keep the starting point trailing: on the 16-bit circle a fixed one would look
                # "ahead" again after 32768 packets and silence the stream for as long again.
                self._segment_start = (rtp.sequence_number - _START_TRAIL) & 0xFFFF
        out_seq = (rtp.sequence_number + self._seq_offset) & 0xFFFF
        if (out_seq - self._next_seq) & 0xFFFF < 0x8000:
            self._next_seq = (out_seq + 1) & 0xFFFF
        if packet.mime_type is not self._mime_type:
            self._mime_type = packet.mime_type
            self._payload_type = self._payload_types.get(packet.mime_type.lower(), (None,))[0]
        if self._payload_type is None or self._header is None:
            return
        payload = rtp.payload
        header = self._header.header(
            rtp.marker, self._payload_type, out_seq, (rtp.timestamp + self._ts_offset) & 0xFFFFFFFF,
            self._ssrc, audio_level_byte(rtp) if self.kind == "audio" else None,
        )
        if self._transport.send_rtp(header + payload):
            counters = self._counters
            counters.packets += 1
            counters.bytes += len(payload)
            self._sent_packets += 1
            self._sent_bytes += len(payload)

    async def deliver_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """Translate the publisher's sender report onto this subscription's SSRC and clock."""
        if not self.forwarding:
            return
        report = RtcpSrPacket(
            ssrc=self._ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp_timestamp,
                rtp_timestamp=(rtp_timestamp + self._ts_offset) & 0xFFFFFFFF,
                packet_count=self._sent_packets & 0xFFFFFFFF,
                octet_count=self._sent_bytes & 0xFFFFFFFF,
            ),
        )
        self._last_sr = ((ntp_timestamp >> 16) & 0xFFFFFFFF, self._clock())
        await self._transport.send(bytes(report))

    async def handle_rtcp(self, packet: Any) -> None:
        """Feedback from the subscriber about this stream (routed by aiortc on our SSRC)."""
        if self._closed:
            return
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self._counters.nacks_received += 1
            await self._answer_nack([int(seq) for seq in packet.lost])
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self._counters.plis_received += 1
            await self.stream.request_keyframe()
        elif isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == self._ssrc:
                    self._update_quality(report)

    async def _answer_nack(self, lost: list[int]) -> None:
        if not self.forwarding:
            return
        not_cached: list[int] = []
        for out_seq in lost:
            in_seq = seq_add(out_seq, -self._seq_offset)
            if seq_diff(in_seq, self._segment_start) < 0:
                continue
            cached = self.stream.cached(in_seq)
            if cached is None:
                not_cached.append(in_seq)
            else:
                self._counters.retransmissions += 1
                await self._retransmit(cached, out_seq)
        # The server never got these either: its own NACKs to the publisher may have been lost.
        await self.stream.request_retransmission(not_cached)

    async def _retransmit(self, rtp: RtpPacket, out_seq: int) -> None:
        # Rare (answers to NACKs): aiortc's serializer is fine here.
        payload_type, rtx_payload_type = self._payload_types.get(
            self.stream.mime_type.lower(), (None, None)
        )
        if payload_type is None:
            return
        out = RtpPacket(
            payload_type=payload_type,
            marker=rtp.marker,
            sequence_number=out_seq,
            timestamp=(rtp.timestamp + self._ts_offset) & 0xFFFFFFFF,
            ssrc=self._ssrc,
            payload=rtp.payload,
        )
        out.extensions.mid = self._mid
        if self.kind == "audio":
            out.extensions.audio_level = rtp.extensions.audio_level
        if rtx_payload_type is not None:
            out = wrap_rtx(
                out,
                payload_type=rtx_payload_type,
                sequence_number=self._rtx_seq,
                ssrc=self._rtx_ssrc,
            )
            self._rtx_seq = seq_add(self._rtx_seq, 1)
        if self._transport.send_rtp(self._transport.serialize(out)):
            self._counters.packets += 1
            self._counters.bytes += len(rtp.payload)

    def _update_quality(self, report: Any) -> None:
        self.quality.fraction_lost = int(report.fraction_lost) / 256
        lost = int(report.packets_lost)
        if lost > self.quality.packets_lost:
            self._counters.packets_lost += lost - self.quality.packets_lost
        self.quality.packets_lost = lost
        self.quality.jitter_seconds = int(report.jitter) / max(1, self.stream.clock_rate)
        if self._last_sr is not None and report.lsr == self._last_sr[0] and report.dlsr:
            rtt = self._clock() - self._last_sr[1] - int(report.dlsr) / 65536
            self.quality.round_trip_seconds = max(0.0, rtt)

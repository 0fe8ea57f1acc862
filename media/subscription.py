"""A subscriber's copy of one published stream, sent over the subscriber's peer connection.

Each subscription owns one server ``RTCRtpSender`` (one m-line in the subscriber's SDP) and
forwards one layer of the publisher's stream on it at a time (``LayerSwitch`` keeps what the
subscriber sees one continuous stream across switches and pauses), with the sender's SSRC.
Sender reports are translated with the same offsets, so the receiver keeps audio and video of
one participant in lip sync.

Retransmissions are answered from the layer's cache, but only where they help: a packet is
not resent twice within one round trip (the first answer is still on its way), a NACK for a
packet older than ``MAX_RESEND_AGE_S`` is ignored (the receiver gave up on it), and every
resend must fit the subscriber's downlink budget (``Downlink``): on a congested link,
answering every NACK multiplies the load and drowns the audio.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
    wrap_rtx,
)

from .aiortc_seam import SendParameters, Transport
from .layer_switch import LayerSwitch, Span, renumbered
from .metrics import StreamCounters
from .pacer import Pacer
from .plane import LinkQuality
from .published_stream import ForwardedPacket, PublishedStream
from .rtp_packets import HeaderWriter, audio_level_byte
from .rtp_stats import DEFAULT_RTT, seq_add

MAX_RESEND_AGE_S = 1.5
_RESENT_SLOTS = 1024
# The most padding one packet carries (its last byte counts it), as libwebrtc's probes do.
_PADDING = bytes(254) + b"\xff"


class Downlink(Protocol):
    """The subscriber's downlink, as one of its subscriptions sees it."""

    def subscription_started(self) -> None:
        """A subscription's m-line is up: give it its layer now."""

    def remb(self, bitrate: int) -> None:
        """The subscriber's receiver estimated its downlink (RTCP REMB)."""

    def allow_resend(self, size: int) -> bool:
        """Whether a retransmission of ``size`` bytes fits the budget now (and spend it)."""

    def probe_report(self, lost: int, expected: int) -> None:
        """What the receiver says of the probe's padding so far: lost of expected."""


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
        downlink: Downlink | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.subscriber_id = subscriber_id
        self.kind = stream.kind
        self.quality = LinkQuality()
        self.switch = LayerSwitch(stream, self, clock=clock)
        self._transport = transport
        self._ssrc = ssrc
        self._rtx_ssrc = rtx_ssrc
        self._counters = counters
        self._downlink = downlink
        # Video only: audio is never held behind video.
        self._pacer = pacer if stream.kind == "video" else None
        self._clock = clock
        self._mid: str | None = None
        self._payload_types: dict[str, tuple[int, int | None]] = {}
        # The last publisher codec seen and its payload types here: one lookup per codec change.
        self._mime_type = ""
        self._payload_type: int | None = None
        self._header: HeaderWriter | None = None
        self._started = False
        self._closed = False
        # Until started, the layer the subscriber is to get first (None: paused).
        self._wanted: int | None = 0 if stream.kind == "audio" else stream.top_layer
        self._rtx_seq = 0
        # While padding probes the link: the SSRC it goes on, its first sequence number, and
        # the packets the receiver had counted lost on that SSRC before it.
        self._probe_from: tuple[int, int, int] | None = None
        self._rtx_lost = 0  # what the receiver's last report on the RTX SSRC counted lost
        self._sent_packets = 0
        self._sent_bytes = 0
        self._last_sr: tuple[int, float] | None = None
        # out seq & mask -> (out seq, when it was last resent)
        self._resent: list[tuple[int, float] | None] = [None] * _RESENT_SLOTS

    @property
    def ssrc(self) -> int:
        """The SSRC the subscriber sees for this stream."""
        return self._ssrc

    @property
    def layer(self) -> int | None:
        """The layer the subscriber is to get (None: paused)."""
        return self.switch.target if self._started else self._wanted

    @property
    def forwarding(self) -> bool:
        """Whether packets currently reach the subscriber (started, not waiting or paused)."""
        return self._started and not self._closed and self.switch.forwarding

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
        self.switch.set_target(self._wanted)
        if self._downlink is not None:
            # What it gets depends on what the rest costs now, and a newcomer must not wait.
            self._downlink.subscription_started()
        target = self.switch.target
        if self.kind == "video" and target is not None:
            # A newcomer must not wait for the publisher's next periodic keyframe.
            await self.stream.request_keyframe(target)

    def set_layer(self, layer: int | None) -> None:
        """Forward ``layer`` from now on (None: nothing); video switches at a keyframe."""
        if not self._started:
            self._wanted = layer
            return
        self.switch.set_target(layer)

    def set_paused(self, paused: bool) -> None:
        """Stop or resume an audio subscription (a silent publisher for an audio-only
        participant); sequence numbers stay gap-free across the pause."""
        self.set_layer(None if paused else 0)

    def close(self) -> None:
        """Stop forwarding for good."""
        self._closed = True
        self.switch.close()
        self.stream.remove_sink(self)

    async def deliver(self, packet: ForwardedPacket) -> None:
        """Rewrite and send one packet of the publisher's stream."""
        if self._closed or not self._started:
            return
        out = self.switch.rewrite(packet)
        if out is None:
            await self.switch.missed(packet)
            return
        rtp = packet.rtp
        if packet.mime_type is not self._mime_type:
            self._mime_type = packet.mime_type
            self._payload_type = self._payload_types.get(packet.mime_type.lower(), (None,))[0]
        if self._payload_type is None or self._header is None:
            return
        sequence_number, timestamp, payload = out
        header = self._header.header(
            rtp.marker, self._payload_type, sequence_number, timestamp, self._ssrc,
            audio_level_byte(rtp) if self.kind == "audio" else None,
        )
        if self._pacer is not None:
            self._pacer.send(self._transport, header + payload, self._header.send_time_at)
        elif not self._transport.send_rtp(header + payload):
            return
        counters = self._counters
        counters.packets += 1
        counters.bytes += len(payload)
        self._sent_packets += 1
        self._sent_bytes += len(payload)

    def send_padding(self, size: int) -> int:
        """Send about ``size`` bytes of padding to the subscriber, paced: a probe of its link.
        A paused stream carries it on its own SSRC, numbered between its packets; a stream
        being sent a layer carries it on its retransmission SSRC. Its decoder never sees
        padding, but its receiver reports count what of it was lost, which is told to the
        downlink (``probe_report``). Returns the bytes sent (0: it cannot be padded)."""
        if (self._closed or not self._started or self._header is None or self._pacer is None
                or self._payload_type is None):
            return 0
        rtx_payload_type = self._payload_types.get(self._mime_type.lower(), (None, None))[1]
        sent = 0
        while sent < size:
            numbers = self.switch.take_padding()
            if numbers is not None:
                ssrc, payload_type, lost = self._ssrc, self._payload_type, \
                    self.quality.packets_lost
                sequence_number, timestamp = numbers
            elif rtx_payload_type is not None and self.switch.forwarding:
                ssrc, payload_type, lost = self._rtx_ssrc, rtx_payload_type, self._rtx_lost
                sequence_number, timestamp = self._rtx_seq, 0
                self._rtx_seq = seq_add(self._rtx_seq, 1)
            else:
                break
            if self._probe_from is None or self._probe_from[0] != ssrc:
                self._probe_from = (ssrc, sequence_number, lost)
            header = bytearray(self._header.header(0, payload_type, sequence_number,
                                                   timestamp, ssrc, None))
            header[0] |= 0x20  # padding: the last byte says how many bytes to drop
            self._pacer.send(self._transport, bytes(header) + _PADDING,
                             self._header.send_time_at)
            sent += len(header) + len(_PADDING)
        return sent

    def end_probe(self) -> None:
        """The probe is over: receiver reports no longer speak of it."""
        self._probe_from = None

    async def deliver_sender_report(self, layer: int, ntp_timestamp: int,
                                    rtp_timestamp: int) -> None:
        """Translate a sender report of the layer being forwarded onto this subscription."""
        self.switch.note_sender_report(layer, ntp_timestamp, rtp_timestamp)
        span = self.switch.span
        if not self.forwarding or span is None or span.layer != layer:
            return
        report = RtcpSrPacket(
            ssrc=self._ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp_timestamp,
                rtp_timestamp=(rtp_timestamp + span.ts_offset) & 0xFFFFFFFF,
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
            span = self.switch.span
            if span is not None:
                await self.stream.request_keyframe(span.layer, repair=True)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, _ = unpack_remb_fci(packet.fci)
            except ValueError:
                return  # another application-layer feedback: not ours to read
            if self._downlink is not None:
                self._downlink.remb(bitrate)
        elif isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == self._ssrc:
                    self._update_quality(report)
                elif report.ssrc == self._rtx_ssrc:
                    self._rtx_lost = int(report.packets_lost)
                    self._report_probe(report)

    async def _answer_nack(self, lost: list[int]) -> None:
        if not self.forwarding:
            return
        now = self._clock()
        rtt = self.quality.round_trip_seconds or DEFAULT_RTT
        for out_seq in lost:
            located = self.switch.locate(out_seq)
            if located is None:
                continue
            span, in_seq = located
            if ((in_seq - span.in_start) & 0xFFFF) >= 0x8000:
                continue  # from before that span: never sent to this subscriber
            cached = self.stream.layers[span.layer].cached(in_seq)
            if cached is None:
                continue  # never received (the server NACKs the publisher itself) or too old
            rtp, arrived = cached
            if now - arrived > MAX_RESEND_AGE_S:
                continue  # too old to help: the receiver gave up on it
            slot = out_seq % _RESENT_SLOTS
            previous = self._resent[slot]
            if previous is not None and previous[0] == out_seq and now - previous[1] < rtt:
                continue  # resent within one round trip: that answer is still on its way
            if self._downlink is not None and not self._downlink.allow_resend(
                len(rtp.payload) + 30
            ):
                continue
            self._resent[slot] = (out_seq, now)
            self._counters.retransmissions += 1
            await self._retransmit(rtp, span, out_seq)

    async def _retransmit(self, rtp: RtpPacket, span: Span, out_seq: int) -> None:
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
            timestamp=(rtp.timestamp + span.ts_offset) & 0xFFFFFFFF,
            ssrc=self._ssrc,
            payload=renumbered(span, rtp.payload),
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
        self.quality.reported_at = self._clock()
        self.quality.fraction_lost = int(report.fraction_lost) / 256
        lost = int(report.packets_lost)
        if lost > self.quality.packets_lost:
            self._counters.packets_lost += lost - self.quality.packets_lost
        self.quality.packets_lost = lost
        self.quality.jitter_seconds = int(report.jitter) / max(1, self.stream.clock_rate)
        if self._last_sr is not None and report.lsr == self._last_sr[0] and report.dlsr:
            rtt = self._clock() - self._last_sr[1] - int(report.dlsr) / 65536
            self.quality.round_trip_seconds = max(0.0, rtt)
        self._report_probe(report)

    def _report_probe(self, report: Any) -> None:
        # What a receiver report says of the probe's padding, if it speaks of its SSRC.
        if self._probe_from is None or self._downlink is None:
            return
        ssrc, first, lost_before = self._probe_from
        if int(report.ssrc) != ssrc:
            return
        expected = ((int(report.highest_sequence) - first) & 0xFFFF) + 1
        if expected < 0x8000:
            self._downlink.probe_report(int(report.packets_lost) - lost_before, expected)

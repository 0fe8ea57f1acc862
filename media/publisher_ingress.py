"""The server side of one publish m-line: a participant's raw RTP in, a ``PublishedStream``
out, and RTCP (keyframe requests, NACKs, receiver reports) back to the publisher."""

from __future__ import annotations

from typing import Any

from aiortc import RTCRtpTransceiver
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    unwrap_rtx,
)

from .aiortc_fast_ingress import ArrivalClock
from .aiortc_seam import CodecInfo, ReceiveParameters, Transport, sender_ssrc
from .codecs import REPAIRED_RID_EXTENSION_ID, RID_EXTENSION_ID, TRANSPORT_CC_EXTENSION_ID
from .metrics import StreamCounters
from .published_stream import NO_LIMITS, SIMULCAST_RIDS, PublishedStream
from .publisher_limits import PublisherLimits
from .rtp_packets import extension_value
from .transport_feedback import TransportFeedback


class PublisherIngress:
    """Server side of one publish m-line: raw RTP in, ``PublishedStream`` out, RTCP back.

    The receiver's ``ReceiverListener`` (``aiortc_seam.install_ingress``) and the stream's
    ``Upstream``. Each new SSRC is placed on a layer by the rid its first packet carries
    (RFC 8852; the repaired rid for RTX); an SSRC whose packets carry none is a publisher
    without simulcast, on the stream's top layer. The SSRCs an answer names are not trusted
    for the layer: Chromium names none of its simulcast layers, Firefox names all of them
    (``a=ssrc`` and FID groups), and aiortc takes the first it lists, whichever layer that
    is, for the stream's one SSRC.
    """

    def __init__(
        self, transceiver: RTCRtpTransceiver, participant_id: str, counters: StreamCounters,
        *, feedback: TransportFeedback, arrivals: ArrivalClock,
        limits: PublisherLimits = NO_LIMITS,
    ) -> None:
        self.transceiver = transceiver
        self._limits = limits
        self._feedback = feedback
        self._arrivals = arrivals
        kind = transceiver.kind
        self.stream = PublishedStream(
            participant_id, kind, counters=counters, upstream=self,
            rids=SIMULCAST_RIDS if kind == "video" else (None,), limits=limits,
        )
        self.transport = Transport(transceiver.sender)
        self.rtcp_ssrc = sender_ssrc(transceiver.sender)
        self._codecs: dict[int, CodecInfo] = {}
        self._rtx_apt: dict[int, int] = {}
        # SSRC -> layer index, for media and for RTX SSRCs, from their first packet on
        self._layers: dict[int, int] = {}
        self._rtx_layers: dict[int, int] = {}

    def set_parameters(self, parameters: ReceiveParameters) -> None:
        """The codecs the publisher's answer announced (its SSRCs are placed by their
        packets)."""
        self._codecs = dict(parameters.codecs)
        self._rtx_apt = {
            c.rtx_payload_type: c.payload_type
            for c in parameters.codecs.values()
            if c.rtx_payload_type is not None
        }
        main = next(
            (c for c in parameters.codecs.values() if not c.mime_type.lower().endswith("/rtx")),
            None,
        )
        if main is not None:
            self.stream.set_codec(main.mime_type, main.clock_rate)

    async def on_rtp(self, packet: RtpPacket) -> None:
        """Place the packet on its layer, unwrap RTX, drop what the answer did not negotiate."""
        # Every packet counts for the publisher's congestion control, probes and repairs too.
        transport_seq = extension_value(packet, TRANSPORT_CC_EXTENSION_ID)
        if transport_seq is not None and len(transport_seq) == 2:
            self._feedback.add(int.from_bytes(transport_seq, "big"), self._arrivals.now())
        payload_type = packet.payload_type
        if payload_type in self._rtx_apt:
            layer = self._rtx_layers.get(packet.ssrc)
            if layer is None:
                layer = self._rtx_layers[packet.ssrc] = self._layer_named(
                    packet, REPAIRED_RID_EXTENSION_ID
                )
            media_ssrc = self.stream.layers[layer].media_ssrc
            if media_ssrc is None or len(packet.payload) < 2:
                return
            packet = unwrap_rtx(packet, payload_type=self._rtx_apt[payload_type],
                                ssrc=media_ssrc)
            if packet.payload:
                await self.stream.receive(packet, layer, repaired=True)
            return
        if payload_type not in self._codecs or not packet.payload:
            return  # not negotiated, or a padding-only probe: nothing to forward
        layer = self._layers.get(packet.ssrc)
        if layer is None:
            layer = self._layers[packet.ssrc] = self._layer_named(packet, RID_EXTENSION_ID)
        await self.stream.receive(packet, layer)

    def _layer_named(self, packet: RtpPacket, element_id: int) -> int:
        # A new SSRC (its first packet): the layer its rid names, else the top one.
        rid = extension_value(packet, element_id)
        rids = [layer.rid for layer in self.stream.layers]
        name = None if rid is None else rid.decode("ascii", "replace")
        return rids.index(name) if name in rids else self.stream.top_layer

    async def on_rtcp(self, packet: Any) -> None:
        """The publisher's sender reports map each layer's RTP clock to wall clock."""
        if isinstance(packet, RtcpSrPacket):
            layer = self._layers.get(packet.ssrc)
            if layer is not None:
                info = packet.sender_info
                await self.stream.receive_sender_report(
                    layer, int(info.ntp_timestamp), int(info.rtp_timestamp)
                )
        elif isinstance(packet, RtcpByePacket):
            pass  # the publisher stops when its connection closes; nothing to tear down early

    async def send_pli(self, media_ssrc: int) -> None:
        """``Upstream``: ask the publisher for a keyframe."""
        packet = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self.rtcp_ssrc, media_ssrc=media_ssrc)
        await self.transport.send(bytes(packet))

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        """``Upstream``: ask the publisher to retransmit packets."""
        packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=self.rtcp_ssrc, media_ssrc=media_ssrc)
        packet.lost = lost
        await self.transport.send(bytes(packet))

    def receiver_reports(self, now: float) -> list[RtcpReceiverInfo]:
        """A report block for each layer received so far (loss before repair)."""
        reports = []
        for layer in self.stream.layers:
            stats = layer.statistics
            if stats is None or layer.media_ssrc is None or stats.received == 0:
                continue
            lsr, dlsr = stats.lsr_dlsr(now)
            reports.append(RtcpReceiverInfo(
                ssrc=layer.media_ssrc,
                fraction_lost=stats.take_fraction_lost(),
                packets_lost=stats.packets_lost,
                highest_sequence=stats.extended_highest & 0xFFFFFFFF,
                jitter=stats.jitter,
                lsr=lsr,
                dlsr=dlsr,
            ))
        self.stream.received_and_lost()  # keeps the stream's loss counter current
        return reports

    def rate_cap(self) -> bytes | None:
        """The REMB that tells the publisher the hearing's video cap, for every layer seen so
        far (None: audio, no cap, or nothing received yet). Sent with each receiver report."""
        if self.stream.kind != "video":
            return None
        ssrcs = [layer.media_ssrc for layer in self.stream.layers if layer.media_ssrc is not None]
        return self._limits.remb_packet(self.rtcp_ssrc, ssrcs)

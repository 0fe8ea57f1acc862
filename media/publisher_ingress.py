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

from .aiortc_seam import CodecInfo, ReceiveParameters, Transport, sender_ssrc
from .metrics import StreamCounters
from .published_stream import PublishedStream


class PublisherIngress:
    """Server side of one publish m-line: raw RTP in, ``PublishedStream`` out, RTCP back.

    The receiver's ``ReceiverListener`` (``aiortc_seam.install_ingress``) and the stream's
    ``Upstream``.
    """

    def __init__(
        self, transceiver: RTCRtpTransceiver, participant_id: str, counters: StreamCounters
    ) -> None:
        self.transceiver = transceiver
        self.stream = PublishedStream(
            participant_id, transceiver.kind, counters=counters, upstream=self
        )
        self.transport = Transport(transceiver.sender)
        self.rtcp_ssrc = sender_ssrc(transceiver.sender)
        self._codecs: dict[int, CodecInfo] = {}
        self._rtx_apt: dict[int, int] = {}
        self._rtx_ssrcs: dict[int, int] = {}

    def set_parameters(self, parameters: ReceiveParameters) -> None:
        """The codecs and SSRCs the publisher's answer announced."""
        self._codecs = dict(parameters.codecs)
        self._rtx_ssrcs = dict(parameters.rtx_ssrcs)
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
        """Unwrap RTX, drop what the answer did not negotiate, hand the rest to the stream."""
        if packet.payload_type in self._rtx_apt:
            media_ssrc = self._rtx_ssrcs.get(packet.ssrc, self.stream.media_ssrc)
            if media_ssrc is None or len(packet.payload) < 2:
                return
            packet = unwrap_rtx(
                packet, payload_type=self._rtx_apt[packet.payload_type], ssrc=media_ssrc
            )
        elif packet.payload_type not in self._codecs:
            return
        if not packet.payload:
            return  # padding-only probe: nothing to forward
        await self.stream.receive(packet)

    async def on_rtcp(self, packet: Any) -> None:
        """The publisher's sender reports map its RTP clock to wall clock (lip sync)."""
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self.stream.media_ssrc:
            info = packet.sender_info
            await self.stream.receive_sender_report(
                int(info.ntp_timestamp), int(info.rtp_timestamp)
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

    def receiver_report(self, now: float) -> RtcpReceiverInfo | None:
        """This stream's report block for the publisher (None before any packet)."""
        stats = self.stream.statistics
        if stats is None or self.stream.media_ssrc is None or stats.received == 0:
            return None
        lsr, dlsr = stats.lsr_dlsr(now)
        return RtcpReceiverInfo(
            ssrc=self.stream.media_ssrc,
            fraction_lost=stats.take_fraction_lost(),
            packets_lost=stats.packets_lost,
            highest_sequence=stats.extended_highest & 0xFFFFFFFF,
            jitter=stats.jitter,
            lsr=lsr,
            dlsr=dlsr,
        )

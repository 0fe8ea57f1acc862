"""The only module that touches aiortc's private hooks.

aiortc 1.16.0 (pinned) offers no public hook for encoded media, so the SFU overrides a few
methods on the *instances* it owns (never on classes or modules: test clients and any other
peer in the process must keep aiortc's normal behaviour). Every hook used here is checked by
``tests/media/test_aiortc_hooks.py`` so an aiortc upgrade that changes one fails loudly.

Hooks used:
- ``RTCRtpReceiver.receive`` / ``.stop`` / ``._handle_rtp_packet`` / ``._handle_rtcp_packet``:
  replaced so the server's receivers register with the transport's router but never start the
  decoder thread or the jitter buffer.
- ``RTCRtpSender.send`` (wrapped, original still runs), ``._handle_rtcp_packet`` (replaced:
  NACK/PLI/RR go to the subscription), ``._send_rtcp`` (wrapped: drops aiortc's own sender
  reports, whose counters are zero because it never sends media), ``._ssrc``,
  ``._rtx_ssrc``, ``._stream_id``.
- ``RTCDtlsTransport._send_rtp`` (writes a serialized RTP/RTCP packet through SRTP),
  ``._register_rtp_receiver`` / ``._unregister_rtp_receiver``,
  ``._rtp_header_extensions_map``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpPacket, RtcpSrPacket, RtpPacket

RtpHandler = Callable[[RtpPacket], Awaitable[None]]
RtcpHandler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class CodecInfo:
    """A negotiated RTP codec, as aiortc reports it (``RTCRtpCodecParameters``)."""

    payload_type: int
    mime_type: str
    clock_rate: int
    rtx_payload_type: int | None


@dataclass(frozen=True)
class ReceiveParameters:
    """What the server learned about a publisher's stream from the answer."""

    codecs: dict[int, CodecInfo]
    rtx_ssrcs: dict[int, int]  # rtx ssrc -> media ssrc
    media_ssrcs: tuple[int, ...]


@dataclass(frozen=True)
class SendParameters:
    """What the server negotiated for one stream it sends to a subscriber."""

    mid: str
    codecs: tuple[CodecInfo, ...]


def _codec_infos(codecs: list[Any]) -> list[CodecInfo]:
    rtx_by_apt: dict[int, int] = {}
    for codec in codecs:
        if str(codec.mimeType).lower().endswith("/rtx"):
            apt = codec.parameters.get("apt")
            if isinstance(apt, int):
                rtx_by_apt[apt] = int(codec.payloadType)
    return [
        CodecInfo(
            payload_type=int(codec.payloadType),
            mime_type=str(codec.mimeType),
            clock_rate=int(codec.clockRate),
            rtx_payload_type=rtx_by_apt.get(int(codec.payloadType)),
        )
        for codec in codecs
    ]


class Transport:
    """Typed view of a sender's ``RTCDtlsTransport``, to write already-encoded RTP and RTCP.

    The transport is looked up on every use because aiortc swaps it when BUNDLE is applied.
    """

    def __init__(self, sender: RTCRtpSender) -> None:
        self._sender = sender

    @property
    def _dtls(self) -> Any:
        return self._sender.transport

    @property
    def connected(self) -> bool:
        """Whether SRTP keys exist, i.e. packets can be written."""
        return bool(self._dtls.state == "connected")

    def serialize(self, packet: RtpPacket) -> bytes:
        """Serialize with this connection's negotiated header-extension ids."""
        data: bytes = packet.serialize(self._dtls._rtp_header_extensions_map)
        return data

    async def send(self, data: bytes) -> bool:
        """Protect and send one serialized packet; False when the connection is gone."""
        try:
            await self._dtls._send_rtp(data)
        except ConnectionError:
            return False
        return True


class _IdleTrack(MediaStreamTrack):
    """A track that never yields a frame.

    aiortc's sender loop awaits ``track.recv()`` before it creates an encoder, so a sender
    fed by this track never encodes; without a track it would poll every 20 ms instead.
    """

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        await self._ended
        raise MediaStreamError

    def stop(self) -> None:
        if not self._ended.done():
            self._ended.set_result(None)
        super().stop()


def receiver_decoder_started(receiver: RTCRtpReceiver) -> bool:
    """Whether aiortc started its decoder thread for this receiver (never, for ours)."""
    hooked: Any = receiver
    return hooked._RTCRtpReceiver__decoder_thread is not None


def install_ingress(
    receiver: RTCRtpReceiver,
    *,
    on_parameters: Callable[[ReceiveParameters], None],
    on_rtp: RtpHandler,
    on_rtcp: RtcpHandler,
) -> None:
    """Make a server receiver hand raw RTP/RTCP to us instead of aiortc's decoder path."""
    registered: list[Any] = []

    async def receive(parameters: Any) -> None:
        if registered:
            return  # aiortc calls receive() again after every renegotiation
        rtx_ssrcs: dict[int, int] = {}
        media_ssrcs: list[int] = []
        for encoding in parameters.encodings:
            media_ssrcs.append(int(encoding.ssrc))
            if encoding.rtx is not None:
                rtx_ssrcs[int(encoding.rtx.ssrc)] = int(encoding.ssrc)
        codecs = {c.payload_type: c for c in _codec_infos(list(parameters.codecs))}
        on_parameters(ReceiveParameters(codecs, rtx_ssrcs, tuple(media_ssrcs)))
        transport = receiver.transport
        transport._register_rtp_receiver(receiver, parameters)
        registered.append(transport)

    async def stop() -> None:
        while registered:
            registered.pop()._unregister_rtp_receiver(receiver)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        await on_rtp(packet)

    # Instance attributes shadow the class's methods for this one receiver only.
    hooked: Any = receiver
    hooked.receive = receive
    hooked.stop = stop
    hooked._handle_rtp_packet = handle_rtp_packet
    hooked._handle_rtcp_packet = on_rtcp


def install_inert_receiver(receiver: RTCRtpReceiver) -> None:
    """Make a receiver that must never receive (server-sendonly m-line) do nothing at all."""

    async def receive(parameters: Any) -> None:
        return None

    async def stop() -> None:
        return None

    hooked: Any = receiver
    hooked.receive = receive
    hooked.stop = stop


def install_egress(
    sender: RTCRtpSender,
    *,
    stream_id: str,
    on_started: Callable[[SendParameters], Awaitable[None]],
    on_rtcp: RtcpHandler,
) -> None:
    """Turn a server sender into a pipe for forwarded packets.

    The sender keeps its SSRC, its RTCP task (SDES, and BYE on stop) and its place in the
    transport's router, so subscribers' NACK/PLI/receiver reports reach ``on_rtcp``.
    """
    sender._stream_id = stream_id
    sender.replaceTrack(_IdleTrack(sender.kind, f"{stream_id}-{sender.kind}-{uuid.uuid4()}"))
    original_send = sender.send
    original_send_rtcp = sender._send_rtcp
    started: list[bool] = []

    async def send(parameters: Any) -> None:
        await original_send(parameters)
        if not started:
            started.append(True)
            await on_started(
                SendParameters(
                    mid=str(parameters.muxId), codecs=tuple(_codec_infos(list(parameters.codecs)))
                )
            )

    async def send_rtcp(packets: list[Any]) -> None:
        # aiortc's own sender reports carry zero counters: the subscription sends real ones.
        kept = [p for p in packets if not isinstance(p, RtcpSrPacket)]
        if kept:
            await original_send_rtcp(kept)

    hooked: Any = sender
    hooked.send = send
    hooked._send_rtcp = send_rtcp
    hooked._handle_rtcp_packet = on_rtcp


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC the server announced for this sender in its offer."""
    return int(sender._ssrc)


def sender_rtx_ssrc(sender: RTCRtpSender) -> int:
    """The RTX SSRC the server announced for this sender."""
    return int(sender._rtx_ssrc)


def transceiver_transport(transceiver: RTCRtpTransceiver) -> Transport:
    """The (bundled) transport a transceiver sends on."""
    return Transport(transceiver.sender)


def parse_rtcp(data: bytes) -> list[Any]:
    """Parse a compound RTCP packet (used by tests and tools)."""
    return list(RtcpPacket.parse(data))

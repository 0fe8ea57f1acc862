"""aiortc's private hooks for forwarding (``aiortc_admission.py`` has those for joining).

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
- The hooks that make admitting a participant cheap are in ``aiortc_admission.py``.
- ``RTCDtlsTransport._send_rtp`` (writes a serialized RTCP packet through SRTP),
  ``._register_rtp_receiver`` / ``._unregister_rtp_receiver``,
  ``._rtp_header_extensions_map`` (its public ``get``/``set`` only), ``._rtp_router``
  (``register_sender``: a sender is also routed the reports on its RTX SSRC).
- The forwarding fast path (``FastIngress`` in ``aiortc_fast_ingress.py``,
  ``Transport.send_rtp``): the server transport's ``RTCDtlsTransport._handle_rtp_data`` is
  replaced on that instance so packets of our own publishers skip aiortc's ``RtpPacket``
  parser and router; egress protects with the
  transport's ``_tx_srtp`` (``_state`` must be ``State.CONNECTED``) and writes straight to the
  nominated ICE pair's datagram transport (``RTCIceTransport._connection._nominated[1]``,
  ``CandidatePair.protocol.transport`` / ``.remote_addr``), instead of three coroutine layers.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import pylibsrtp
from aiortc import (
    MediaStreamTrack,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtp import RtcpPacket, RtcpSrPacket, RtpPacket

from .aiortc_fast_ingress import FastIngress
from .rtp_packets import ExtensionIds, extension_ids


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
        self._pair: Any = None
        self._address: tuple[str, int] = ("", 0)
        self._connected: Any = None

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

    def extension_ids(self) -> ExtensionIds:
        """The header-extension ids negotiated on this connection."""
        return extension_ids(self._dtls._rtp_header_extensions_map)

    def send_rtp(self, data: bytes) -> bool:
        """Protect and send one serialized RTP packet now; False when it cannot be sent.

        Synchronous on purpose: aiortc's path (``_send_rtp`` -> ICE ``send`` -> ``sendto`` ->
        ``send_data``) is three coroutines deep for what ends in one non-blocking ``sendto``.
        """
        dtls = self._connected
        if dtls is None or dtls._state is not State.CONNECTED:
            # BUNDLE may swap the sender's transport during negotiation: resolve it again
            # until it is connected; once connected it stays (m-lines are never removed).
            dtls = self._dtls
            if dtls._state is not State.CONNECTED:
                self._connected = None
                return False
            self._connected = dtls
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return False
        if pair is not self._pair:
            # remote_addr is a property building a tuple: resolve it once per nominated pair.
            self._pair = pair
            self._address = pair.remote_addr
        try:
            pair.protocol.transport.sendto(dtls._tx_srtp.protect(data), self._address)
        except (OSError, pylibsrtp.Error):
            return False  # the socket closed under us, or SRTP refused: the packet is lost
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


class ReceiverListener(Protocol):
    """What a server receiver hands over instead of decoding (one per publish m-line)."""

    def set_parameters(self, parameters: ReceiveParameters) -> None:
        """The codecs and SSRCs the publisher's answer announced (once, before any packet)."""

    async def on_rtp(self, packet: RtpPacket) -> None:
        """One RTP packet of the publisher's (SRTP already removed, RTX still wrapped)."""

    async def on_rtcp(self, packet: Any) -> None:
        """One RTCP packet about this stream (sender reports, BYE)."""


def install_ingress(receiver: RTCRtpReceiver, listener: ReceiverListener) -> None:
    """Make a server receiver hand raw RTP/RTCP to ``listener`` instead of aiortc's decoder."""
    registered: list[Any] = []
    on_rtp = listener.on_rtp

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
        listener.set_parameters(ReceiveParameters(codecs, rtx_ssrcs, tuple(media_ssrcs)))
        transport = receiver.transport
        transport._register_rtp_receiver(receiver, parameters)
        registered.append(transport)
        fast = FastIngress.of(transport)
        for ssrc in (*media_ssrcs, *rtx_ssrcs):
            if ssrc:
                fast.add(ssrc, receiver, on_rtp)

    async def stop() -> None:
        while registered:
            transport = registered.pop()
            transport._unregister_rtp_receiver(receiver)
            await FastIngress.of(transport).remove(receiver)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        # aiortc's router found this receiver by mid or payload type (an SSRC the answer did
        # not announce): route that SSRC the fast way from now on.
        for transport in registered:
            FastIngress.of(transport).add(packet.ssrc, receiver, on_rtp)
        await on_rtp(packet)

    # Instance attributes shadow the class's methods for this one receiver only.
    _drop_receive_machinery(receiver)
    hooked: Any = receiver
    hooked.receive = receive
    hooked.stop = stop
    hooked._handle_rtp_packet = handle_rtp_packet
    hooked._handle_rtcp_packet = listener.on_rtcp


def _drop_receive_machinery(receiver: RTCRtpReceiver) -> None:
    # aiortc builds a jitter buffer, a NACK generator and, for video, a remote bitrate
    # estimator (1000 rate buckets) per receiver; only its _handle_rtp_packet, which we
    # replace, uses them. Every subscribed m-line has a receiver: free them.
    hooked: Any = receiver
    hooked._RTCRtpReceiver__jitter_buffer = None
    hooked._RTCRtpReceiver__nack_generator = None
    hooked._RTCRtpReceiver__remote_bitrate_estimator = None


def install_inert_receiver(receiver: RTCRtpReceiver) -> None:
    """Make a receiver that must never receive (server-sendonly m-line) do nothing at all."""
    _drop_receive_machinery(receiver)

    async def receive(parameters: Any) -> None:
        return None

    async def stop() -> None:
        return None

    hooked: Any = receiver
    hooked.receive = receive
    hooked.stop = stop


class SenderListener(Protocol):
    """What a server sender turned into a pipe for forwarded packets reports (one per
    subscribed m-line)."""

    async def start(self, parameters: SendParameters) -> None:
        """The subscriber's connection is up and this m-line negotiated: packets may flow."""

    async def handle_rtcp(self, packet: Any) -> None:
        """Feedback from the subscriber about this stream (NACK, PLI/FIR, receiver reports)."""


def install_egress(sender: RTCRtpSender, *, stream_id: str, listener: SenderListener) -> None:
    """Turn a server sender into a pipe for forwarded packets.

    The sender keeps its SSRC, its RTCP task (SDES, and BYE on stop) and its place in the
    transport's router (also under its RTX SSRC), so subscribers' NACK/PLI/receiver reports
    reach ``listener``.
    """
    sender._stream_id = stream_id
    sender.replaceTrack(_IdleTrack(sender.kind, f"{stream_id}-{sender.kind}-{uuid.uuid4()}"))
    original_send = sender.send
    original_send_rtcp = sender._send_rtcp
    started: list[bool] = []

    async def send(parameters: Any) -> None:
        await original_send(parameters)
        # aiortc routes receiver reports by the media SSRC only; the reports on the
        # retransmission SSRC tell what of a probe's padding arrived.
        sender.transport._rtp_router.register_sender(sender, ssrc=sender._rtx_ssrc)
        if not started:
            started.append(True)
            await listener.start(
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
    hooked._handle_rtcp_packet = listener.handle_rtcp


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC the server announced for this sender in its offer."""
    return int(sender._ssrc)


def sender_rtx_ssrc(sender: RTCRtpSender) -> int:
    """The RTX SSRC the server announced for this sender."""
    return int(sender._rtx_ssrc)


def ice_connection(pc: Any) -> Any:
    """The aioice ``Connection`` under a (bundled) peer connection, or None before one."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        if dtls is not None:
            return dtls.transport._connection
    return None


def transceiver_transport(transceiver: RTCRtpTransceiver) -> Transport:
    """The (bundled) transport a transceiver sends on."""
    return Transport(transceiver.sender)


def parse_rtcp(data: bytes) -> list[Any]:
    """Parse a compound RTCP packet (used by tests and tools)."""
    return list(RtcpPacket.parse(data))

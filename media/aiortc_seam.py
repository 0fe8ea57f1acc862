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
  ``._rtp_header_extensions_map`` (its public ``get``/``set`` only).
- The forwarding fast path (``FastIngress``, ``Transport.send_rtp``): the server transport's
  ``RTCDtlsTransport._handle_rtp_data`` is replaced on that instance so packets of our own
  publishers skip aiortc's ``RtpPacket`` parser and router; egress protects with the
  transport's ``_tx_srtp`` (``_state`` must be ``State.CONNECTED``) and writes straight to the
  nominated ICE pair's datagram transport (``RTCIceTransport._connection._nominated[1]``,
  ``CandidatePair.protocol.transport`` / ``.remote_addr``), instead of three coroutine layers.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

import pylibsrtp
from aiortc import (
    MediaStreamTrack,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    clock,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtcpPacket, RtcpSrPacket, RtpPacket

from .rtp_packets import ExtensionIds, parse_received

logger = logging.getLogger(__name__)

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


def extension_ids(extensions_map: HeaderExtensionsMap) -> ExtensionIds:
    """Which one-byte ids a connection negotiated, read through the map's public ``set``."""

    def probe(**values: Any) -> int:
        profile, block = extensions_map.set(HeaderExtensions(**values))
        return block[0] >> 4 if profile == 0xBEDE and block else 0

    return ExtensionIds(
        mid=probe(mid="0"), audio_level=probe(audio_level=(False, 0)),
        abs_send_time=probe(abs_send_time=0),
    )


_SSRC = struct.Struct("!I")


class _Continue:
    """Awaitable that finishes a coroutine which was started by hand and then suspended."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], pending: Any) -> None:
        self._coroutine = coroutine
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, pending = self._coroutine, self._pending
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # cancellation too: passed on, not eaten
                try:
                    pending = coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    pending = coroutine.send(sent)
                except StopIteration:
                    return


async def _finish(continuation: _Continue) -> None:
    await continuation


class FastIngress:
    """Per server transport: hands our publishers' RTP straight to their streams.

    aiortc queues every datagram (``aioice.Connection.data_received`` -> ``asyncio.Queue``)
    for the DTLS transport's receive task, then parses it into an ``RtpPacket`` (building a
    ``HeaderExtensions`` per packet) and routes it. For SRTP on a connected transport this
    reads the datagram where it arrives instead: unprotect, ``parse_received``, look the SSRC
    up, and run the stream's handler right away. Everything else (DTLS, SRTCP, STUN, SSRCs we
    do not know) takes aiortc's own path unchanged.

    The handler is a coroutine function, run by hand: on our path it never suspends (sends
    are synchronous ``sendto``), so no task is created per packet. If one ever does suspend
    (a sink awaiting real I/O), a task owned by this object finishes it.
    """

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._original = transport._handle_rtp_data
        self._handlers: dict[int, RtpHandler] = {}
        self._owners: dict[int, object] = {}
        self._map: HeaderExtensionsMap = transport._rtp_header_extensions_map
        self._audio_level_id = 0
        self._unfinished: set[asyncio.Task[None]] = set()
        transport._handle_rtp_data = self._handle_rtp_data
        connection = transport.transport._connection
        self._queue_datagram = connection.data_received
        connection.data_received = self._datagram_received

    @staticmethod
    def of(transport: Any) -> FastIngress:
        """The fast ingress of ``transport``, installed on first use."""
        existing = getattr(transport, "_qashyq_fast_ingress", None)
        if isinstance(existing, FastIngress):
            return existing
        created = FastIngress(transport)
        transport._qashyq_fast_ingress = created
        return created

    def add(self, ssrc: int, owner: object, handler: RtpHandler) -> None:
        """Route ``ssrc`` to ``handler`` (owned by ``owner``, for ``remove``)."""
        self._handlers[ssrc] = handler
        self._owners[ssrc] = owner
        # Ids are fixed once negotiated (the server offers them): read them with the route.
        self._audio_level_id = extension_ids(self._map).audio_level

    async def remove(self, owner: object) -> None:
        """Forget every SSRC routed to ``owner``'s handler; the last one ends leftover tasks."""
        for ssrc in [s for s, o in self._owners.items() if o is owner]:
            del self._handlers[ssrc]
            del self._owners[ssrc]
        if not self._handlers and self._unfinished:
            leftovers = tuple(self._unfinished)
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

    def _datagram_received(self, data: bytes, component: int) -> None:
        transport = self._transport
        srtp = transport._rx_srtp
        # SRTP is 128..191 in the first byte; SRTCP has packet type 192..223 in the second.
        if (
            srtp is None
            or len(data) < 12
            or not 127 < data[0] < 192
            or 191 < data[1] < 224
            or transport._state is not State.CONNECTED
        ):
            self._queue_datagram(data, component)
            return
        try:
            plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            return  # replayed or forged: aiortc drops these too
        self._run(self._handle_rtp_data(plain, 0))

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        handler = self._handlers.get(_SSRC.unpack_from(data, 8)[0]) if len(data) >= 12 else None
        if handler is None:
            await self._original(data, arrival_time_ms or clock.current_ms())
            return
        packet = parse_received(data, self._audio_level_id, self._map)
        if packet is not None:
            await handler(packet)

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            pending = coroutine.send(None)
        except StopIteration:
            return
        except Exception:
            logger.exception("forwarding a packet failed")
            return
        task = asyncio.get_running_loop().create_task(_finish(_Continue(coroutine, pending)))
        self._unfinished.add(task)
        task.add_done_callback(self._unfinished.discard)


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
    hooked._handle_rtcp_packet = on_rtcp


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

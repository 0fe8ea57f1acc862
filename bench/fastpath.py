"""The load's per-packet paths, made light so the load is never the bottleneck it measures.

aiortc's own paths cost the load about as much CPU per packet as the server under test spends,
and its event-loop stalls used to show up as the server's latency. This process is the load and
runs alone, so it may patch what it must:

- ``LightPublisher`` replaces a sender's RTP loop: payloads are packetized once for every
  publisher (``packetize``), each packet costs one header ``pack``, SRTP ``protect`` and
  ``sendto``, and its send time is taken right before the ``sendto`` (wall clock).
- ``LoadIngress`` reads SRTP where aioice would queue it: unprotect, read the header, count and
  time the payload, without ``RtpPacket`` objects or a task switch per packet.
- ``install_kernel_timestamps`` makes every datagram socket of this process report the kernel's
  receive time (``SO_TIMESTAMPNS``) and its drops (``SO_RXQ_OVFL``), reading up to 32
  datagrams per wake-up. Latency is kernel arrival minus send time, so a stall of this process
  between arrival and handling does not count as the server's latency, and packets the kernel
  dropped because the load fell behind are counted apart from the server's loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from asyncio import selector_events
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pylibsrtp
from aiortc import RTCRtpReceiver, RTCRtpSender, clock
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcdtlstransport import State
from aiortc.rtp import HeaderExtensions

from media.rtp_packets import is_srtp

from .media_files import EncodedMedia

_CLOCK = {"audio": 48000, "video": 90000}
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
_TIMESPEC = struct.Struct("@qq")
_FIXED = struct.Struct("!BBHII")
_RECEIVE_BUFFER = 4 * 1024 * 1024
_BATCH = 32
_ONE_BYTE_PROFILE = 0xBEDE
_NTP_EPOCH_OFFSET = 2208988800
_MAX_LATE_S = 0.1


@dataclass(frozen=True)
class Frame:
    """One frame's RTP payloads, their hashes (the latency ledger's keys) and its RTP time."""

    payloads: tuple[bytes, ...]
    hashes: tuple[int, ...]
    ticks: int
    keyframe: bool
    level: int = 127  # audio: RFC 6464 level (-dBov) for the ssrc-audio-level extension


def packetize(media: EncodedMedia) -> tuple[Frame, ...]:
    """Every frame of ``media`` as RTP payloads (VP8 per RFC 7741, Opus as is), once."""
    frames: list[Frame] = []
    step = round(media.interval_s * _CLOCK[media.kind])
    for index, (data, keyframe) in enumerate(zip(media.frames, media.keyframes, strict=True)):
        if media.kind == "video":
            payloads = tuple(Vp8Encoder._packetize(data, index % (1 << 15)))
        else:
            payloads = (data,)
        level = media.levels[index] if media.levels else 127
        frames.append(Frame(payloads, tuple(hash(p) for p in payloads), index * step, keyframe,
                            level))
    return tuple(frames)


@dataclass
class ArrivalClock:
    """Kernel receive time of the datagram being handled, and the kernel's drop counts."""

    arrival: float = 0.0  # wall clock, seconds
    drops: dict[int, int] = field(default_factory=dict)  # socket fd -> cumulative drops

    @property
    def dropped(self) -> int:
        """Datagrams the kernel dropped on the load's sockets (receive buffer full)."""
        return sum(self.drops.values())


def install_kernel_timestamps(arrivals: ArrivalClock) -> None:
    """Make every datagram transport created from now on report kernel receive times.

    Patches asyncio's selector datagram transport for the whole process: the load runs alone.
    Must run before the peer connections open their sockets (the reader is bound then).
    """

    def read_ready(self: Any) -> None:
        if self._conn_lost:
            return
        sock = self._sock
        if not getattr(self, "_bench_timestamps", False):
            self._bench_timestamps = True
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.SOL_SOCKET, _SO_RXQ_OVFL, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        for _ in range(_BATCH):
            try:
                data, ancillary, _, address = sock.recvmsg(self.max_size, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal read error on datagram transport")
                return
            for level, kind, value in ancillary:
                if level != socket.SOL_SOCKET:
                    continue
                if kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(value[: _TIMESPEC.size])
                    arrivals.arrival = seconds + nanoseconds * 1e-9
                elif kind == _SO_RXQ_OVFL:
                    arrivals.drops[sock.fileno()] = int.from_bytes(value[:4], "little")
            self._protocol.datagram_received(data, address)
            if self._conn_lost:
                return

    transport_class: Any = getattr(selector_events, "_SelectorDatagramTransport")  # noqa: B009
    transport_class._read_ready = read_ready


def _extension_id(extensions_map: Any, **values: Any) -> int:
    # The map's public set() serializes what it negotiated: read the id back from it.
    profile, block = extensions_map.set(HeaderExtensions(**values))
    return int(block[0] >> 4) if profile == _ONE_BYTE_PROFILE and block else 0


class _Header:
    """RTP header with mid and abs-send-time (video) or audio level (audio), like a browser.

    The load keeps its own writer (not the server's) so the measuring tool shares no code
    with what it measures.
    """

    def __init__(self, extensions_map: Any, mid: str | None, kind: str) -> None:
        mid_id = _extension_id(extensions_map, mid="0")
        element = b""
        if mid_id and mid:
            encoded = mid.encode()[:16]
            element = bytes([(mid_id << 4) | (len(encoded) - 1)]) + encoded
        if kind == "video":
            extra_id = _extension_id(extensions_map, abs_send_time=0)
            extra_tag, extra_size, extra_fmt = (extra_id << 4 | 2) << 24, 4, "I"
        else:
            extra_id = _extension_id(extensions_map, audio_level=(False, 0))
            extra_tag, extra_size, extra_fmt = extra_id << 12, 2, "H"
        if not extra_id:
            extra_size, extra_fmt = 0, ""
        body = len(element) + extra_size
        words = (body + 3) // 4
        self._kind = kind
        self._extra = extra_tag if extra_id else None
        self._element = element
        self._words = words
        self._layout = struct.Struct(
            f"!BBHIIHH{len(element)}s{extra_fmt}" + "x" * (4 * words - body)
        ) if words else _FIXED

    def pack(self, marker: int, payload_type: int, seq: int, timestamp: int, ssrc: int,
             level: int = 127) -> bytes:
        """The header of one packet; ``level`` is its frame's audio level (audio only)."""
        second = (marker << 7) | payload_type
        if not self._words:
            return _FIXED.pack(0x80, second, seq, timestamp, ssrc)
        fields: list[Any] = [0x90, second, seq, timestamp, ssrc, _ONE_BYTE_PROFILE, self._words,
                             self._element]
        if self._extra is not None:
            if self._kind == "video":
                now = int((time.time() + _NTP_EPOCH_OFFSET) * (1 << 18)) & 0xFFFFFF
                fields.append(self._extra | now)
            else:
                # The frame's level, like a browser; the V (voice activity) bit is left clear.
                fields.append(self._extra | (level & 0x7F))
        return self._layout.pack(*fields)


def _send_rtp(dtls: Any, data: bytes) -> None:
    # What aiortc's _send_rtp does, without its three coroutine layers.
    pair = dtls.transport._connection._nominated.get(1)
    if pair is not None:
        with contextlib.suppress(OSError, pylibsrtp.Error):
            pair.protocol.transport.sendto(dtls._tx_srtp.protect(data), pair.remote_addr)


class LightPublisher:
    """Replaces one sender's RTP loop: pre-packetized frames, paced in real time."""

    def __init__(
        self, sender: RTCRtpSender, frames: tuple[Frame, ...], kind: str,
        ledger: dict[int, float], interval_s: float,
    ) -> None:
        self._sender = sender
        self._frames = frames
        self._kind = kind
        self._ledger = ledger
        self._interval = interval_s
        self._index = 0
        self.skipped_frames = 0
        hooked: Any = sender
        # aiortc's send() starts self._run_rtp(codec): an instance attribute takes its place.
        hooked._run_rtp = self.run
        hooked._send_keyframe = self.request_keyframe

    def request_keyframe(self) -> None:
        """The SFU asked (PLI/FIR): send the loop's first frame, a keyframe, next."""
        if self._kind == "video":
            self._index = 0

    async def run(self, codec: Any) -> None:
        """Send frames until cancelled (aiortc cancels it when the sender stops)."""
        sender: Any = self._sender
        # aiortc's stop() waits for these two events of its own RTP loop.
        sender._RTCRtpSender__rtp_started.set()
        try:
            await self._send_frames(sender, codec)
        finally:
            sender._RTCRtpSender__rtp_exited.set()

    async def _send_frames(self, sender: Any, codec: Any) -> None:
        loop = asyncio.get_running_loop()
        # Below 32768 like aiortc, so the first packets never wrap (SRTP index estimation).
        sequence = random.getrandbits(15)
        origin = random.getrandbits(32)
        writer: _Header | None = None
        payload_type, ssrc = int(codec.payloadType), int(sender._ssrc)
        start, count, frames, ledger = loop.time(), 0, self._frames, self._ledger
        try:
            while True:
                delay = start + count * self._interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -_MAX_LATE_S:
                    # This process stalled: drop the frames a camera would have dropped rather
                    # than burst them, which would measure our stall as the server's queueing.
                    late = int(-delay / self._interval)
                    count += late
                    self._index = (self._index + late) % len(frames)
                    self.skipped_frames += late
                count += 1
                frame = frames[self._index]
                self._index = (self._index + 1) % len(frames)
                dtls = sender.transport
                if dtls is None or dtls._state is not State.CONNECTED:
                    continue
                if writer is None:
                    writer = _Header(dtls._rtp_header_extensions_map, sender._RTCRtpSender__mid,
                                     self._kind)
                timestamp = (origin + count * round(self._interval * _CLOCK[self._kind])) \
                    & 0xFFFFFFFF
                last = len(frame.payloads) - 1
                for i, payload in enumerate(frame.payloads):
                    header = writer.pack(int(i == last), payload_type, sequence, timestamp, ssrc,
                                         frame.level)
                    ledger[frame.hashes[i]] = time.time()
                    _send_rtp(dtls, header + payload)
                    sequence = (sequence + 1) & 0xFFFF
        except (asyncio.CancelledError, ConnectionError):
            pass


@dataclass
class StreamCounter:
    """Packets one subscriber receives on one stream from one publisher."""

    publisher: str
    kind: str
    packets: int = 0
    bytes: int = 0
    first_seq: int | None = None
    highest_seq: int = 0  # extended (unwrapped) sequence number

    def note_seq(self, seq: int) -> None:
        """Track the extended sequence number range, for loss."""
        if self.first_seq is None:
            self.first_seq = self.highest_seq = seq
            return
        delta = (seq - self.highest_seq) & 0xFFFF
        if delta < 0x8000:
            self.highest_seq += delta

    @property
    def expected(self) -> int:
        """Packets the subscriber should have had since its first one."""
        return 0 if self.first_seq is None else self.highest_seq - self.first_seq + 1


# (payload) -> None: what a subscriber does with one packet of one stream.
PacketCounter = Callable[[bytes, int, float], None]


class LoadIngress:
    """Per load transport: counts and times arriving RTP without aiortc's receive path."""

    def __init__(self, transport: Any, arrivals: ArrivalClock) -> None:
        self._transport = transport
        self._arrivals = arrivals
        self._counters: dict[int, PacketCounter] = {}
        connection = transport.transport._connection
        self._queue_datagram = connection.data_received
        connection.data_received = self._datagram_received
        self._original = transport._handle_rtp_data

    @staticmethod
    def of(transport: Any, arrivals: ArrivalClock) -> LoadIngress:
        """The ingress of ``transport``, installed on first use."""
        existing = getattr(transport, "_bench_ingress", None)
        if isinstance(existing, LoadIngress):
            return existing
        created = LoadIngress(transport, arrivals)
        transport._bench_ingress = created
        return created

    def add(self, ssrc: int, counter: PacketCounter) -> None:
        """Count packets of ``ssrc`` with ``counter``."""
        self._counters[ssrc] = counter

    def _datagram_received(self, data: bytes, component: int) -> None:
        transport = self._transport
        srtp = transport._rx_srtp
        if srtp is None or not is_srtp(data) or transport._state is not State.CONNECTED:
            self._queue_datagram(data, component)
            return
        try:
            plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            return  # aiortc drops these too
        first, _, seq, _, ssrc = _FIXED.unpack_from(plain)
        counter = self._counters.get(ssrc)
        if counter is None:
            # Not announced in the SDP: aiortc's router finds the receiver (by mid), whose
            # slow-path handler then registers the SSRC here.
            _drive(self._original(plain, clock.current_ms()))
            return
        pos = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            pos += 4 + 4 * int.from_bytes(plain[pos + 2 : pos + 4], "big")
        end = len(plain) - plain[-1] if first & 0x20 else len(plain)
        counter(plain[pos:end], seq, self._arrivals.arrival)


def _drive(coroutine: Coroutine[Any, Any, None]) -> None:
    # aiortc's RTP handling never suspends once parsed; a packet it would suspend on is dropped.
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()


def install_receive_hooks(receiver: RTCRtpReceiver, on_ssrc: Callable[[Any, int], None]) -> None:
    """Register ``receiver`` with its transport's router only (no decoder thread, no jitter
    buffer); ``on_ssrc(transport, ssrc)`` for every SSRC the remote description announced."""
    hooked: Any = receiver
    if getattr(hooked, "_bench_registered", None) is not None:
        return
    registered: list[Any] = []

    async def receive(parameters: Any) -> None:
        transport = hooked.transport
        if not registered:
            transport._register_rtp_receiver(receiver, parameters)
            registered.append(transport)
        # The latest counter: a renegotiation may have moved the m-line to another publisher.
        callback = getattr(hooked, "_bench_on_ssrc", on_ssrc)
        for encoding in parameters.encodings:
            if encoding.ssrc:
                callback(transport, int(encoding.ssrc))

    async def stop() -> None:
        while registered:
            registered.pop()._unregister_rtp_receiver(receiver)

    async def ignore_rtcp(packet: Any) -> None:
        return None

    hooked.receive = receive
    hooked.stop = stop
    hooked._handle_rtcp_packet = ignore_rtcp
    hooked._bench_registered = registered

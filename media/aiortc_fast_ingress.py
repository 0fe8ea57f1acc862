"""The forwarding fast path's ingress: our publishers' RTP handed straight to their streams.

A sibling of ``aiortc_seam.py`` (whose rule it follows: instance hooks only, every hook
pinned by ``tests/media/test_aiortc_hooks.py``). It replaces the server transport's
``RTCDtlsTransport._handle_rtp_data`` and its ICE connection's ``data_received`` on that
instance, reads ``_rx_srtp`` and ``_state``, routes unknown SSRCs with ``_rtp_router``, and
hands everything it does not take back to aiortc unchanged.

``stamp_arrivals`` makes the UDP sockets of one server connection (aioice's
``Connection._protocols``, their asyncio ``_SelectorDatagramTransport``) read with
``recvmsg`` and the kernel's receive time (``SO_TIMESTAMPNS``): congestion control feedback
must say when a packet reached the machine, not when a busy event loop got to it (its delay
would read as the publisher's uplink queueing). It re-registers the socket's reader with the
loop's ``_add_reader``/``_remove_reader`` and reads up to ``_BATCH`` datagrams per wake-up.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from asyncio import selector_events
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

import pylibsrtp
from aiortc import clock
from aiortc.rtcdtlstransport import State
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from .rtp_packets import extension_ids, is_srtp, parse_received

logger = logging.getLogger(__name__)

RtpHandler = Callable[[RtpPacket], Awaitable[None]]

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
    up, and run the stream's handler right away; an SSRC not known yet is routed by aiortc's
    router to its receiver. Everything else (DTLS, SRTCP, STUN) takes aiortc's own path.

    The handler is a coroutine function, run by hand: on our path it never suspends (sends
    are synchronous ``sendto``), so no task is created per packet. If one ever does suspend
    (a sink awaiting real I/O), a task owned by this object finishes it.
    """

    def __init__(self, transport: Any) -> None:
        self._transport = transport
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
        if srtp is None or not is_srtp(data) or transport._state is not State.CONNECTED:
            self._queue_datagram(data, component)
            return
        try:
            plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            return  # replayed or forged: aiortc drops these too
        self._run(self._handle_rtp_data(plain, 0))

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        handler = self._handlers.get(_SSRC.unpack_from(data, 8)[0]) if len(data) >= 12 else None
        packet = parse_received(data, self._audio_level_id, self._map)
        if packet is None:
            return
        if handler is not None:
            await handler(packet)
            return
        # An SSRC the answer did not announce (simulcast layers, RTX): aiortc's router finds
        # the receiver by payload type. Routed here rather than through aiortc's parser so
        # the packet keeps its raw header extensions (the rid that names its layer).
        receiver = self._transport._rtp_router.route_rtp(packet)
        if receiver is not None:
            await receiver._handle_rtp_packet(packet, arrival_time_ms or clock.current_ms())

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


_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
# asyncio's UDP transport on selector loops (private, like everything this module touches).
_DATAGRAM_TRANSPORT: type = getattr(selector_events, "_SelectorDatagramTransport")  # noqa: B009
_TIMESPEC = struct.Struct("@qq")
_BATCH = 32


class ArrivalClock:
    """When the datagram being handled reached the machine (wall-clock seconds)."""

    def __init__(self) -> None:
        self.kernel: float | None = None

    def now(self) -> float:
        """The kernel's receive time of the datagram in hand, else the time now."""
        return self.kernel if self.kernel is not None else time.time()


def stamp_arrivals(ice_connection: Any, clock: ArrivalClock) -> None:
    """Make the UDP sockets of one server ICE connection tell ``clock`` when each datagram
    arrived; idempotent, and sockets that are not plain UDP ones keep aiortc's reader."""
    for protocol in list(getattr(ice_connection, "_protocols", ())):
        transport = getattr(protocol, "transport", None)
        if isinstance(transport, _DATAGRAM_TRANSPORT):
            _stamp(transport, clock)


def _stamp(transport: Any, clock: ArrivalClock) -> None:
    if getattr(transport, "_qashyq_stamped", False) or transport.is_closing():
        return
    sock = transport._sock
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return  # no kernel timestamps here: the loop's time will do
    transport._qashyq_stamped = True

    def read_ready() -> None:
        for _ in range(_BATCH):
            if transport._conn_lost:
                return
            try:
                data, ancillary, _, address = sock.recvmsg(transport.max_size, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                transport._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                transport._fatal_error(exc, "Fatal read error on datagram transport")
                return
            clock.kernel = None
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(value[:_TIMESPEC.size])
                    clock.kernel = seconds + nanoseconds * 1e-9
            try:
                transport._protocol.datagram_received(data, address)
            finally:
                clock.kernel = None

    # The loop calls the reader it was given; resume_reading() looks the attribute up again.
    transport._read_ready = read_ready
    if transport.is_reading():
        transport._loop._remove_reader(transport._sock_fd)
        transport._loop._add_reader(transport._sock_fd, read_ready)

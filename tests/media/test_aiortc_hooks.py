"""Fail loudly if a private aiortc hook the SFU relies on changes shape.

``media/aiortc_seam.py`` overrides methods on server-owned instances and calls a few private
transport methods. These checks pin the names, signatures and call sites of aiortc 1.16.0.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import aioice
import aiortc
import pytest
from aioice.ice import CandidatePair, Connection, StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, rtcpeerconnection
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter, State
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket, unwrap_rtx, wrap_rtx

from media.aiortc_fast_ingress import FastIngress
from media.aiortc_seam import (
    ice_connection,
    install_egress,
    install_ingress,
    receiver_decoder_started,
)
from media.rtp_packets import ExtensionIds, extension_ids

from .conftest import HearingFactory, all_frames, eventually


def params(func: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(func).parameters)


def source(func: Callable[..., Any]) -> str:
    return inspect.getsource(func)


def test_aiortc_is_the_pinned_version() -> None:
    assert aiortc.__version__ == "1.16.0"


def test_receiver_hooks() -> None:
    assert params(RTCRtpReceiver.receive) == ["self", "parameters"]
    assert params(RTCRtpReceiver.stop) == ["self"]
    assert params(RTCRtpReceiver._handle_rtp_packet) == ["self", "packet", "arrival_time_ms"]
    assert params(RTCRtpReceiver._handle_rtcp_packet) == ["self", "packet"]
    assert inspect.iscoroutinefunction(RTCRtpReceiver._handle_rtp_packet)
    # receive() is where aiortc starts the decoder thread we must never start.
    assert "self.__decoder_thread.start()" in source(RTCRtpReceiver.receive)
    assert "self.__decoder_thread: Optional[threading.Thread] = None" in source(
        RTCRtpReceiver.__init__
    )


def test_sender_hooks() -> None:
    assert params(RTCRtpSender.send) == ["self", "parameters"]
    assert params(RTCRtpSender._send_rtcp) == ["self", "packets"]
    assert params(RTCRtpSender._handle_rtcp_packet) == ["self", "packet"]
    init = source(RTCRtpSender.__init__)
    for attribute in ("self._ssrc", "self._rtx_ssrc", "self._stream_id", "self.__encoder"):
        assert attribute in init
    # The RTCP loop goes through the overridable _send_rtcp (we drop its empty SRs) ...
    assert "await self._send_rtcp(packets)" in source(RTCRtpSender._run_rtcp)
    # ... and the encoder is only created after the track yields a frame (idle track).
    next_frame = source(RTCRtpSender._next_encoded_frame)
    assert next_frame.index("await self.__track.recv()") < next_frame.index("get_encoder(")


def test_transport_hooks() -> None:
    assert params(RTCDtlsTransport._send_rtp) == ["self", "data"]
    assert params(RTCDtlsTransport._register_rtp_receiver) == ["self", "receiver", "parameters"]
    assert params(RTCDtlsTransport._unregister_rtp_receiver) == ["self", "receiver"]
    assert "self._rtp_header_extensions_map" in source(RTCDtlsTransport.__init__)
    # Senders are routed receiver reports by SSRC: ours also under its RTX SSRC.
    assert "self._rtp_router = RtpRouter()" in source(RTCDtlsTransport.__init__)
    assert params(RtpRouter.register_sender) == ["self", "sender", "ssrc"]
    assert "self.senders.get(report.ssrc)" in source(RtpRouter.route_rtcp)
    assert "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)" in (
        source(RTCDtlsTransport._handle_rtp_data)
    )
    assert "await recipient._handle_rtcp_packet(packet)" in source(
        RTCDtlsTransport._handle_rtcp_data
    )


def test_fast_path_hooks() -> None:
    """The forwarding fast path: ingress by ``_handle_rtp_data``, egress to the ICE socket."""
    # Ingress: SRTP is unprotected, then _handle_rtp_data (replaced per server transport) runs.
    assert params(RTCDtlsTransport._handle_rtp_data) == ["self", "data", "arrival_time_ms"]
    recv_next = source(RTCDtlsTransport._recv_next)
    assert "await self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)" in recv_next
    # Ingress reads SRTP where aioice would queue it for the DTLS transport's receive task.
    assert "self._queue.put_nowait((data, component))" in source(Connection.data_received)
    assert "self.receiver.data_received(data, self.local_candidate.component)" in source(
        StunProtocol.datagram_received
    )
    assert "self._rx_srtp: Session = None" in source(RTCDtlsTransport.__init__)
    assert "data = self._rx_srtp.unprotect(data)" in recv_next
    # The receive machinery we free is only used by the _handle_rtp_packet we replace.
    receiver_source = inspect.getsource(RTCRtpReceiver)
    used_where_replaced = source(RTCRtpReceiver.__init__) + source(
        RTCRtpReceiver._handle_rtp_packet
    )
    for attribute in ("self.__jitter_buffer", "self.__nack_generator",
                      "self.__remote_bitrate_estimator"):
        assert receiver_source.count(attribute) == used_where_replaced.count(attribute) > 0
    # Egress: what _send_rtp does, minus its three coroutine layers.
    send_rtp = source(RTCDtlsTransport._send_rtp)
    assert "if self._state != State.CONNECTED:" in send_rtp
    assert "data = self._tx_srtp.protect(data)" in send_rtp
    assert "await self.transport._send(data)" in send_rtp
    assert State.CONNECTED.name == "CONNECTED"
    ice_init = source(RTCIceTransport.__init__)
    assert "self._connection = gatherer._connection" in ice_init
    assert "self._send = self._connection.send" in ice_init
    assert "await self.sendto(data, 1)" in source(Connection.send)
    assert aioice.__version__ == "0.13.0"
    assert "self._nominated: dict[int, CandidatePair] = {}" in source(Connection.__init__)
    sendto = source(Connection.sendto)
    assert "active_pair = self._nominated.get(component)" in sendto
    assert "await active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in source(StunProtocol.send_data)
    assert "self.protocol = protocol" in source(CandidatePair.__init__)
    # The header-extension ids are read through the map's public set().
    assert params(HeaderExtensionsMap.set) == ["self", "values"]
    assert extension_ids(HeaderExtensionsMap()) == ExtensionIds()
    assert {"mid", "audio_level", "abs_send_time"} <= set(vars(HeaderExtensions()))


def test_peer_connection_call_sites() -> None:
    connect = source(RTCPeerConnection._RTCPeerConnection__connect)  # type: ignore[attr-defined]
    assert "await transceiver.sender.send(self.__localRtp(transceiver))" in connect
    assert "await transceiver.receiver.receive(" in connect
    describe = source(rtcpeerconnection.create_media_description_for_transceiver)
    assert 'f"{transceiver.sender._stream_id} {transceiver.sender._track_id}"' in describe


def test_rtp_helpers() -> None:
    assert params(RtpPacket.__init__) == [
        "self",
        "payload_type",
        "marker",
        "sequence_number",
        "timestamp",
        "ssrc",
        "payload",
    ]
    assert "extensions_map" in params(RtpPacket.serialize)
    assert params(wrap_rtx) == ["packet", "payload_type", "sequence_number", "ssrc"]
    assert params(unwrap_rtx) == ["rtx", "payload_type", "ssrc"]


@pytest.mark.parametrize("kind", ["audio", "video"])
async def test_hooks_are_scoped_to_one_instance(kind: str) -> None:
    pc, other_pc = RTCPeerConnection(), RTCPeerConnection()
    try:
        hooked, untouched = pc.addTransceiver(kind), pc.addTransceiver(kind)

        class Listener:
            def set_parameters(self, parameters: Any) -> None: ...

            async def on_rtp(self, packet: RtpPacket) -> None: ...

            async def on_rtcp(self, packet: Any) -> None: ...

            async def start(self, parameters: Any) -> None: ...

            async def handle_rtcp(self, packet: Any) -> None: ...

        install_ingress(hooked.receiver, Listener())
        install_egress(hooked.sender, stream_id="p1", listener=Listener())

        assert hooked.receiver._handle_rtp_packet is not untouched.receiver._handle_rtp_packet
        plain_receiver: Any = untouched.receiver
        plain_sender: Any = untouched.sender
        assert plain_receiver._handle_rtp_packet.__func__ is RTCRtpReceiver._handle_rtp_packet
        assert plain_sender.send.__func__ is RTCRtpSender.send
        assert "_handle_rtp_packet" not in vars(plain_receiver)
        assert hooked.sender._stream_id == "p1"
        assert not receiver_decoder_started(hooked.receiver)

        # The fast ingress replaces _handle_rtp_data on the one transport it is given.
        transport: Any = hooked.receiver.transport
        other: Any = other_pc.addTransceiver(kind).receiver.transport
        assert FastIngress.of(transport) is FastIngress.of(transport)
        assert "_handle_rtp_data" in vars(transport)
        assert "_handle_rtp_data" not in vars(other)
        assert other._handle_rtp_data.__func__ is RTCDtlsTransport._handle_rtp_data
    finally:
        await pc.close()
        await other_pc.close()


async def test_the_server_reads_its_sockets_with_kernel_arrival_times(
    make_hearing: HearingFactory,
) -> None:
    """Congestion feedback to a publisher says when its packets reached the machine."""
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    await eventually(all_frames(party, [judge], 10), what="media flows")
    connection = hearing.media.connection("judge")
    ice = ice_connection(connection.pc)
    transports = [p.transport for p in ice._protocols]
    assert transports and all(getattr(t, "_qashyq_stamped", False) for t in transports)
    # The private parts the stamped reader relies on are still there.
    for transport in transports:
        for name in ("_sock", "_sock_fd", "_conn_lost", "_protocol", "max_size", "_loop"):
            assert hasattr(transport, name), name
        assert callable(transport._fatal_error) and callable(transport.is_reading)
        assert callable(transport._loop._add_reader) and callable(transport._loop._remove_reader)
    # Every packet of the publisher is handled with the kernel's time at hand.
    seen: list[float | None] = []
    stream: Any = connection.published["audio"]
    receive = stream.receive

    async def spy(packet: RtpPacket, layer: int = 0, *, repaired: bool = False) -> None:
        seen.append(connection._arrivals.kernel)
        await receive(packet, layer, repaired=repaired)

    stream.receive = spy
    await eventually(lambda: len(seen) > 20, what="more of the judge's packets")
    assert all(stamp is not None and abs(stamp - time.time()) < 5 for stamp in seen)
    assert connection._arrivals.kernel is None  # only while a datagram is in hand

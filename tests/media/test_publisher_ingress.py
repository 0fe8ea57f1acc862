"""A publisher's simulcast layers are placed by the rid their packets carry, whatever SSRCs
its answer names (Chromium names none; Firefox names every layer's, and aiortc takes the
first one it lists for the stream's only SSRC)."""

from __future__ import annotations

import struct

from aiortc import RTCPeerConnection
from aiortc.rtp import HeaderExtensionsMap

from media.aiortc_fast_ingress import ArrivalClock
from media.aiortc_seam import CodecInfo, ReceiveParameters
from media.codecs import RID_EXTENSION_ID
from media.metrics import StreamCounters
from media.publisher_ingress import PublisherIngress
from media.rtp_packets import parse_received
from media.transport_feedback import TransportFeedback

VP8, RTX = 97, 98
# Firefox lists its layers' SSRCs in its answer in the order of its encodings (q, h, f).
SSRCS = {"q": 1111, "h": 2222, "f": 3333}


def _packet(ssrc: int, seq: int, rid: str | None) -> bytes:
    """A received VP8 packet (a keyframe's start), with the rid header extension if any."""
    header = struct.pack("!BBHII", 0x90 if rid else 0x80, VP8, seq, seq * 3000, ssrc)
    extension = b""
    if rid:
        element = bytes([(RID_EXTENSION_ID << 4) | (len(rid) - 1)]) + rid.encode()
        element += b"\x00" * (-len(element) % 4)
        extension = struct.pack("!HH", 0xBEDE, len(element) // 4) + element
    payload = bytes([0x90, 0x80, seq & 0x7F, 0x00]) + b"\x00" * 20
    return header + extension + payload


async def test_layers_are_placed_by_rid_not_by_the_answers_ssrcs() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        ingress = PublisherIngress(transceiver, "firefox", StreamCounters("firefox", "video",
                                                                           "in"),
                                   feedback=TransportFeedback(), arrivals=ArrivalClock())
        codecs = {VP8: CodecInfo(VP8, "video/VP8", 90000, RTX),
                  RTX: CodecInfo(RTX, "video/rtx", 90000, None)}
        # What aiortc makes of Firefox's answer: the first listed SSRC, no RTX pairing.
        ingress.set_parameters(ReceiveParameters(codecs, {}, (SSRCS["q"],)))
        extensions = HeaderExtensionsMap()
        for seq in range(1, 4):
            for rid, ssrc in SSRCS.items():
                packet = parse_received(_packet(ssrc, seq, rid if seq == 1 else None), 0,
                                        extensions)
                assert packet is not None
                await ingress.on_rtp(packet)
        layers = {layer.rid: layer for layer in ingress.stream.layers}
        assert {rid: layer.media_ssrc for rid, layer in layers.items()} == SSRCS
        assert all(layer.statistics is not None and layer.statistics.received == 3
                   for layer in layers.values())

        # A publisher without simulcast (no rid on its packets) sends on the top layer.
        plain = PublisherIngress(transceiver, "plain", StreamCounters("plain", "video", "in"),
                                 feedback=TransportFeedback(), arrivals=ArrivalClock())
        plain.set_parameters(ReceiveParameters(codecs, {}, (4444,)))
        packet = parse_received(_packet(4444, 1, None), 0, extensions)
        assert packet is not None
        await plain.on_rtp(packet)
        assert [layer.media_ssrc for layer in plain.stream.layers] == [None, None, 4444]
    finally:
        await pc.close()

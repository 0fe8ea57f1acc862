"""The forwarding path's own RTP reader and writer agree with aiortc's parser and serializer."""

from __future__ import annotations

import time

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.rtp_packets import (
    ExtensionIds,
    HeaderWriter,
    audio_level_byte,
    extension_ids,
    parse_received,
)


def negotiated_map() -> HeaderExtensionsMap:
    """The ids aiortc offers (the server is always the offerer): mid 1, level 2, send time 3."""
    extensions_map = HeaderExtensionsMap()
    extensions_map.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
        RTCRtpHeaderExtensionParameters(
            id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        RTCRtpHeaderExtensionParameters(
            id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
    ]))
    return extensions_map


def test_extension_ids_are_read_from_the_negotiated_map() -> None:
    assert extension_ids(negotiated_map()) == ExtensionIds(mid=1, audio_level=2, abs_send_time=3)


@pytest.mark.parametrize("padding", [0, 7])
def test_incoming_packets_read_like_aiortc_reads_them(padding: int) -> None:
    extensions_map = negotiated_map()
    packet = RtpPacket(payload_type=111, marker=1, sequence_number=65535, timestamp=2**32 - 1,
                       ssrc=0xDEADBEEF, payload=b"\x01\x02\x03opus")
    packet.extensions.mid = "0"
    packet.extensions.audio_level = (True, 42)
    packet.csrc = [7, 9]
    packet.padding_size = padding
    data = packet.serialize(extensions_map)

    ours = parse_received(data, 2, extensions_map)
    theirs = RtpPacket.parse(data, extensions_map)
    assert ours is not None
    for field in ("version", "marker", "payload_type", "sequence_number", "timestamp", "ssrc",
                  "payload", "csrc", "extensions"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert audio_level_byte(ours) == audio_level_byte(theirs) == 0x80 | 42


def test_malformed_packets_are_refused() -> None:
    extensions_map = negotiated_map()
    good = RtpPacket(payload_type=96, payload=b"x").serialize(extensions_map)
    assert parse_received(good[:11], 0, extensions_map) is None  # shorter than a header
    assert parse_received(b"\x40" + good[1:], 0, extensions_map) is None  # RTP version 1
    # Extension bit set, but the extension header is cut off.
    assert parse_received(bytes([good[0] | 0x10]) + good[1:12] + b"\xbe", 0, extensions_map) is None


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_outgoing_headers_parse_with_the_subscribers_ids(kind: str) -> None:
    extensions_map = negotiated_map()
    ids = (ExtensionIds(mid=1, audio_level=2) if kind == "audio"
           else ExtensionIds(mid=1, abs_send_time=3))
    writer = HeaderWriter(ids, "12")
    level = 0x80 | 30 if kind == "audio" else None
    data = writer.header(1, 100, 4242, 123456789, 0xCAFEBABE, level) + b"payload"

    parsed = RtpPacket.parse(data, extensions_map)
    assert (parsed.marker, parsed.payload_type, parsed.sequence_number) == (1, 100, 4242)
    assert (parsed.timestamp, parsed.ssrc, parsed.payload) == (123456789, 0xCAFEBABE, b"payload")
    assert parsed.extensions.mid == "12"
    if kind == "audio":
        assert parsed.extensions.audio_level == (True, 30)
        assert parsed.extensions.abs_send_time is None
    else:
        assert parsed.extensions.audio_level is None
        now = int((time.time() + 2208988800) * (1 << 18)) & 0xFFFFFF
        assert parsed.extensions.abs_send_time is not None
        assert (now - parsed.extensions.abs_send_time) & 0xFFFFFF < 1 << 18  # within 1 s

"""RTP headers read and written without aiortc's general-purpose parser and serializer.

The forwarding path touches every packet once on the way in and once per subscriber on the way
out, so it reads only the fixed header (and the audio-level byte) of an incoming packet and
writes outgoing headers from a precompiled ``struct`` per subscription. Everything else about a
packet (CSRCs, other header extensions) is parsed on demand, for the rare consumer that asks.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any

from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket

_FIXED = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
_ONE_BYTE_PROFILE = 0xBEDE
# abs-send-time is NTP time in 6.18 fixed point, 24 bits (seconds mod 64).
_NTP_EPOCH_OFFSET = 2208988800
_ABS_SEND_TIME_SCALE = 1 << 18


@dataclass(frozen=True)
class ExtensionIds:
    """The one-byte header-extension ids one connection negotiated (0: not negotiated)."""

    mid: int = 0
    audio_level: int = 0
    abs_send_time: int = 0


def is_srtp(datagram: bytes) -> bool:
    """Whether a datagram on a bundled media socket is SRTP, not SRTCP, DTLS or STUN.

    RFC 7983: RTP and RTCP start with 128..191; with RTCP multiplexed on the same port
    (RFC 5761) SRTCP is told apart by its packet type, 192..223, in the second byte.
    """
    return len(datagram) >= 12 and 127 < datagram[0] < 192 and not 191 < datagram[1] < 224


class ReceivedRtp(RtpPacket):
    """An incoming RTP packet read from its fixed header; extensions are parsed on first use.

    It is an ``RtpPacket`` so every consumer of the forwarding seam keeps working; only the
    header fields the SFU needs on every packet are read eagerly.
    """

    def __init__(
        self,
        data: bytes,
        marker: int,
        payload_type: int,
        sequence_number: int,
        timestamp: int,
        ssrc: int,
        payload: bytes,
        audio_level_byte: int | None,
        extension_block: tuple[int, bytes] | None,
        extensions_map: HeaderExtensionsMap,
    ) -> None:
        # RtpPacket.__init__ is not called: it would build a HeaderExtensions per packet.
        self.version = 2
        self.marker = marker
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.padding_size = 0
        self.audio_level_byte = audio_level_byte
        self._data = data
        self._extension_block = extension_block
        self._extensions_map = extensions_map
        self._extensions: HeaderExtensions | None = None
        self._csrc: list[int] | None = None

    @property
    def extensions(self) -> HeaderExtensions:
        """All header extensions, parsed with the connection's negotiated ids."""
        if self._extensions is None:
            if self._extension_block is None:
                self._extensions = HeaderExtensions()
            else:
                self._extensions = self._extensions_map.get(*self._extension_block)
        return self._extensions

    @extensions.setter
    def extensions(self, value: HeaderExtensions) -> None:
        self._extensions = value

    @property
    def csrc(self) -> list[int]:
        """Contributing sources (an SFU's publisher sends none; parsed on demand)."""
        if self._csrc is None:
            count = self._data[0] & 0x0F
            self._csrc = list(struct.unpack_from(f"!{count}I", self._data, 12))
        return self._csrc

    @csrc.setter
    def csrc(self, value: list[int]) -> None:
        self._csrc = value


def parse_received(
    data: bytes, audio_level_id: int, extensions_map: HeaderExtensionsMap
) -> ReceivedRtp | None:
    """Read a decrypted RTP packet's header; None when it is malformed (the packet is dropped)."""
    size = len(data)
    if size < 12:
        return None
    first, second, sequence_number, timestamp, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != 2:
        return None
    pos = 12 + 4 * (first & 0x0F)
    audio_level_byte: int | None = None
    block: tuple[int, bytes] | None = None
    if first & 0x10:
        if size < pos + 4:
            return None
        profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
        pos += 4
        end = pos + 4 * words
        if size < end:
            return None
        block = (profile, data[pos:end])
        if audio_level_id and profile == _ONE_BYTE_PROFILE:
            audio_level_byte = _find_one_byte_element(data, pos, end, audio_level_id)
        pos = end
    if first & 0x20:
        padding = data[-1]
        if not padding or padding > size - pos:
            return None
        payload = data[pos : size - padding]
    else:
        payload = data[pos:]
    return ReceivedRtp(
        data, second >> 7, second & 0x7F, sequence_number, timestamp, ssrc, payload,
        audio_level_byte, block, extensions_map,
    )


def _find_one_byte_element(data: bytes, pos: int, end: int, wanted: int) -> int | None:
    # RFC 8285 one-byte elements: id (4 bits), length - 1 (4 bits), value; 0 bytes are padding.
    while pos < end:
        head = data[pos]
        if head == 0:
            pos += 1
            continue
        element_id = head >> 4
        if element_id == 15:
            return None
        if element_id == wanted:
            return data[pos + 1] if pos + 1 < end else None
        pos += 2 + (head & 0x0F)
    return None


def extension_value(packet: RtpPacket, element_id: int) -> bytes | None:
    """The value of one header extension element of a received packet, by its negotiated id.

    For the extensions aiortc does not negotiate itself (the server adds them to its offers:
    RFC 8852 rtp-stream-id and repaired-rtp-stream-id), whose ids its parser does not know.
    """
    if not isinstance(packet, ReceivedRtp) or packet._extension_block is None:
        return None
    profile, block = packet._extension_block
    pos, end = 0, len(block)
    two_byte = profile & 0xFFF0 == 0x1000  # RFC 8285 two-byte header
    if profile != _ONE_BYTE_PROFILE and not two_byte:
        return None
    while pos < end:
        head = block[pos]
        if head == 0:
            pos += 1
            continue
        if two_byte:
            if pos + 1 >= end:
                return None
            found, length, pos = head, block[pos + 1], pos + 2
        else:
            if head >> 4 == 15:
                return None
            found, length, pos = head >> 4, (head & 0x0F) + 1, pos + 1
        if found == element_id:
            return block[pos:pos + length] if pos + length <= end else None
        pos += length
    return None


def audio_level_byte(packet: RtpPacket) -> int | None:
    """The ssrc-audio-level value byte (V bit + level) of any ``RtpPacket``, if it has one."""
    if isinstance(packet, ReceivedRtp):
        return packet.audio_level_byte
    level: Any = packet.extensions.audio_level
    if level is None:
        return None
    voice, value = level
    return (0x80 if voice else 0) | (int(value) & 0x7F)


class HeaderWriter:
    """Writes the RTP header of one outgoing stream: fixed header, mid, audio level, send time.

    The mid and the negotiated ids are fixed per subscription, so the extension block is a
    precompiled ``struct`` and each packet costs one ``pack``.
    """

    def __init__(self, ids: ExtensionIds, mid: str | None) -> None:
        mid_element = b""
        if ids.mid and mid:
            encoded = mid.encode("utf8")[:16]
            mid_element = bytes([(ids.mid << 4) | (len(encoded) - 1)]) + encoded
        self._mid_element = mid_element
        self._abs_tag = (ids.abs_send_time << 4 | 2) << 24 if ids.abs_send_time else 0
        # Where the send time's three bytes are in a header, for a pacer to set it again
        # when it sends the packet later.
        self.send_time_at: int | None = 17 + len(mid_element) if ids.abs_send_time else None
        self._level_tag = ids.audio_level << 12 if ids.audio_level else 0
        self._fixed = _FIXED
        self._mid_only = self._compile(0)
        self._with_send_time = self._compile(4) if self._abs_tag else None
        self._with_level = self._compile(2) if self._level_tag else None

    def _compile(self, extra: int) -> tuple[struct.Struct, int]:
        """A layout: fixed header, one-byte extension block with the mid and ``extra`` bytes."""
        body = len(self._mid_element) + extra
        words = (body + 3) // 4
        fmt = "!BBHIIHH" + f"{len(self._mid_element)}s" + {0: "", 2: "H", 4: "I"}[extra]
        return struct.Struct(fmt + "x" * (4 * words - body)), words

    def header(
        self, marker: int, payload_type: int, sequence_number: int, timestamp: int, ssrc: int,
        level: int | None,
    ) -> bytes:
        """The serialized header; ``level`` is the audio-level byte to carry, if any."""
        second = (marker << 7) | payload_type
        if self._with_send_time is not None:
            layout, words = self._with_send_time
            send_time = int((time.time() + _NTP_EPOCH_OFFSET) * _ABS_SEND_TIME_SCALE)
            return layout.pack(0x90, second, sequence_number, timestamp, ssrc, _ONE_BYTE_PROFILE,
                               words, self._mid_element, self._abs_tag | (send_time & 0xFFFFFF))
        if level is not None and self._with_level is not None:
            layout, words = self._with_level
            return layout.pack(0x90, second, sequence_number, timestamp, ssrc, _ONE_BYTE_PROFILE,
                               words, self._mid_element, self._level_tag | level)
        if self._mid_element:
            layout, words = self._mid_only
            return layout.pack(0x90, second, sequence_number, timestamp, ssrc, _ONE_BYTE_PROFILE,
                               words, self._mid_element)
        return self._fixed.pack(0x80, second, sequence_number, timestamp, ssrc)


def extension_ids(extensions_map: HeaderExtensionsMap) -> ExtensionIds:
    """Which one-byte ids a connection negotiated, read through the map's public ``set``."""

    def probe(**values: Any) -> int:
        profile, block = extensions_map.set(HeaderExtensions(**values))
        return block[0] >> 4 if profile == 0xBEDE and block else 0

    return ExtensionIds(
        mid=probe(mid="0"), audio_level=probe(audio_level=(False, 0)),
        abs_send_time=probe(abs_send_time=0),
    )


def restamp_send_time(data: bytes, at: int) -> bytes:
    """``data`` with its abs-send-time (three bytes at ``at``) set to now."""
    send_time = int((time.time() + _NTP_EPOCH_OFFSET) * _ABS_SEND_TIME_SCALE) & 0xFFFFFF
    return data[:at] + send_time.to_bytes(3, "big") + data[at + 3:]

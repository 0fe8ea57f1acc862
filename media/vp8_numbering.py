"""The picture numbering in a VP8 payload descriptor (RFC 7741 section 4.2).

Each simulcast layer numbers its pictures on its own (PictureID, TL0PICIDX). A subscriber
that is switched from one layer to another must still see one numbering that only moves
forward, or its decoder takes the new layer's pictures for old ones and drops them; so the
SFU shifts both numbers by a per-switch offset, as mediasoup and LiveKit do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Vp8Numbering:
    """Where a packet's picture numbers are, and their values (None: not present)."""

    picture_id: int | None
    picture_id_bits: int
    tl0_pic_idx: int | None


def read_numbering(payload: bytes) -> Vp8Numbering | None:
    """The numbering of a VP8 payload; None when the descriptor is malformed."""
    offset, picture_id, bits, tl0 = _locate(payload)
    if offset < 0:
        return None
    return Vp8Numbering(picture_id, bits, tl0)


def renumber(payload: bytes, picture_id_delta: int, tl0_delta: int) -> bytes:
    """The payload with PictureID and TL0PICIDX shifted (modulo their widths)."""
    offset, picture_id, bits, tl0 = _locate(payload)
    if offset < 0:
        return payload
    out = bytearray(payload)
    if picture_id is not None and picture_id_delta:
        value = (picture_id + picture_id_delta) & ((1 << bits) - 1)
        if bits == 15:
            out[offset] = 0x80 | (value >> 8)
            out[offset + 1] = value & 0xFF
        else:
            out[offset] = value
    if tl0 is not None and tl0_delta:
        at = offset + (0 if picture_id is None else _width(bits))
        out[at] = (tl0 + tl0_delta) & 0xFF
    return bytes(out)


def _locate(payload: bytes) -> tuple[int, int | None, int, int | None]:
    # (offset of the PictureID field, or of TL0PICIDX when there is no PictureID; the
    # PictureID, its width in bits, TL0PICIDX). Offset -1: malformed or nothing to find.
    if len(payload) < 1 or not payload[0] & 0x80:
        return -1, None, 0, None
    if len(payload) < 2:
        return -1, None, 0, None
    flags = payload[1]
    offset = 2
    picture_id: int | None = None
    bits = 0
    if flags & 0x80:  # I: PictureID present
        if len(payload) < offset + 1:
            return -1, None, 0, None
        if payload[offset] & 0x80:  # M: 15 bits
            if len(payload) < offset + 2:
                return -1, None, 0, None
            picture_id = ((payload[offset] & 0x7F) << 8) | payload[offset + 1]
            bits = 15
        else:
            picture_id = payload[offset] & 0x7F
            bits = 7
    tl0: int | None = None
    if flags & 0x40:  # L: TL0PICIDX present
        at = offset + (_width(bits) if picture_id is not None else 0)
        if len(payload) < at + 1:
            return -1, None, 0, None
        tl0 = payload[at]
    if picture_id is None and tl0 is None:
        return -1, None, 0, None
    return offset, picture_id, bits, tl0


def _width(bits: int) -> int:
    return 2 if bits == 15 else 1

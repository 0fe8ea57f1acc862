"""The picture size an H.264 stream announces in its sequence parameter set (SPS).

The allocation sends each tile the smallest simulcast layer at least as tall as the tile, so it
must know each layer's size. VP8 writes it in every keyframe's header; H.264 writes it, in
macroblocks and cropping, in the SPS that precedes each IDR (ITU-T H.264 section 7.3.2.1.1).
Only the fields before the size are read; nothing is decoded.
"""

from __future__ import annotations

# Profiles whose SPS carries chroma format, bit depths and scaling matrices first.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_SPS = 7
_STAP_A = 24


class _Bits:
    """An Exp-Golomb bit reader over an RBSP (emulation prevention bytes removed)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def bit(self) -> int:
        byte = self._pos >> 3
        if byte >= len(self._data):
            raise ValueError("SPS ends early")
        value = (self._data[byte] >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("SPS: Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def h264_keyframe_size(payload: bytes) -> tuple[int, int] | None:
    """Width and height from the SPS at the start of an RTP payload (RFC 6184: a single SPS
    NAL unit, or one inside a STAP-A), or None when there is none or it cannot be read."""
    sps = _find_sps(payload)
    if sps is None:
        return None
    try:
        return _picture_size(_Bits(_unescape(sps[1:])))
    except ValueError:
        return None


def _find_sps(payload: bytes) -> bytes | None:
    if not payload:
        return None
    nal_type = payload[0] & 0x1F
    if nal_type == _SPS:
        return payload
    if nal_type == _STAP_A:
        offset = 1
        while offset + 2 < len(payload):
            size = int.from_bytes(payload[offset:offset + 2], "big")
            unit = payload[offset + 2:offset + 2 + size]
            if unit and unit[0] & 0x1F == _SPS:
                return unit
            offset += 2 + size
    return None


def _unescape(data: bytes) -> bytes:
    # 00 00 03 in a NAL unit stands for 00 00 (the 03 keeps start codes out of the payload).
    return data.replace(b"\x00\x00\x03", b"\x00\x00")


def _picture_size(bits: _Bits) -> tuple[int, int]:
    profile_idc = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    separate_colour_planes = 0
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = bits.ue()
        if chroma_format_idc == 3:
            separate_colour_planes = bits.bit()
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.bit()  # qpprime_y_zero_transform_bypass_flag
        if bits.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if bits.bit():
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    pic_order_cnt_type = bits.ue()
    if pic_order_cnt_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif pic_order_cnt_type == 1:
        bits.bit()  # delta_pic_order_always_zero_flag
        bits.se()  # offset_for_non_ref_pic
        bits.se()  # offset_for_top_to_bottom_field
        for _ in range(bits.ue()):  # num_ref_frames_in_pic_order_cnt_cycle
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if bits.bit():  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        chroma = 0 if separate_colour_planes else chroma_format_idc
        # Crop offsets count chroma samples (table 6-1), luma ones for monochrome.
        unit_x = 1 if chroma in (0, 3) else 2
        unit_y = (1 if chroma in (0, 2, 3) else 2) * (2 - frame_mbs_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise ValueError("SPS: no picture")
    return width, height


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last, following = 8, 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last

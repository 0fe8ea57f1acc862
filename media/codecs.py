"""Codec policy of a hearing: which codecs the server offers, and keyframe detection.

A hearing pins one video codec (VP8 by default, H.264 constrained baseline as an option) and
Opus, so every participant sends exactly what every other participant can receive and the
server never has to transcode.
"""

from __future__ import annotations

from typing import Any

from aiortc import RTCRtpCodecCapability

from .h264_sps import h264_keyframe_size
from .plane import VideoCodec
from .transport_feedback import TRANSPORT_CC_URI

# aiortc only honours a preference whose parameters equal one of its own codec entries.
_H264_PARAMETERS = {
    "level-asymmetry-allowed": "1",
    "packetization-mode": "1",
    "profile-level-id": "42e01f",
}
# Opus in-band FEC lets a receiver rebuild a lost 20 ms frame from the next packet, which
# matters on 3G; browsers only send it when the remote description asks for it.
OPUS_FMTP: dict[str, int] = {"minptime": 10, "useinbandfec": 1, "usedtx": 1}


# Header extension ids the server adds to its offers itself (aiortc offers ids 1-3 and
# knows nothing of these): the rid of a simulcast layer and of its retransmissions.
RID_EXTENSION_ID = 10
REPAIRED_RID_EXTENSION_ID = 11
TRANSPORT_CC_EXTENSION_ID = 5
_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
_REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"


def codec_preferences(kind: str, video_codec: VideoCodec) -> list[Any]:
    """The codec list to pin on a transceiver of ``kind`` (with RTX for video)."""
    if kind == "audio":
        return [RTCRtpCodecCapability(mimeType="audio/opus", clockRate=48000, channels=2)]
    if video_codec is VideoCodec.H264:
        main = RTCRtpCodecCapability(
            mimeType="video/H264", clockRate=90000, parameters=dict(_H264_PARAMETERS)
        )
    else:
        main = RTCRtpCodecCapability(mimeType="video/VP8", clockRate=90000)
    return [main, RTCRtpCodecCapability(mimeType="video/rtx", clockRate=90000)]


def add_opus_parameters(sdp: str) -> str:
    """Add the Opus fmtp parameters to an offer aiortc generated.

    aiortc builds fmtp lines from module-level codec objects; changing those would change
    every peer connection in the process, so the server edits its own offer instead. The
    edit is textual: parsing and re-serializing the whole offer cost more than creating it,
    once for every renegotiation of every participant.
    """
    lines = sdp.splitlines()
    out: list[str] = []
    section: list[str] = []
    for line in lines:
        if line.startswith("m="):
            out += _with_opus_fmtp(section)
            section = []
        section.append(line)
    out += _with_opus_fmtp(section)
    return "\r\n".join(out) + "\r\n"


def _with_opus_fmtp(section: list[str]) -> list[str]:
    # Payload types are per m-section: find Opus's here, then merge into (or add) its fmtp.
    opus: set[str] = set()
    for line in section:
        if line.startswith("a=rtpmap:"):
            payload_type, _, encoding = line[9:].partition(" ")
            if encoding.lower().startswith("opus/"):
                opus.add(payload_type)
    if not opus:
        return section
    out: list[str] = []
    has_fmtp: set[str] = set()
    for line in section:
        payload_type, _, value = line[7:].partition(" ")
        if line.startswith("a=fmtp:") and payload_type in opus:
            has_fmtp.add(payload_type)
            line = f"a=fmtp:{payload_type} {_merge_fmtp(value)}"
        out.append(line)
    for payload_type in opus - has_fmtp:
        at = next(i for i, line in enumerate(out) if line.startswith(f"a=rtpmap:{payload_type} "))
        out.insert(at + 1, f"a=fmtp:{payload_type} {_merge_fmtp('')}")
    return out


def _merge_fmtp(value: str) -> str:
    parameters: dict[str, object] = {}
    for item in value.split(";"):
        if item:
            key, sep, setting = item.partition("=")
            parameters[key] = setting if sep else None
    parameters.update(OPUS_FMTP)
    return ";".join(k if v is None else f"{k}={v}" for k, v in parameters.items())


def is_keyframe_start(mime_type: str, payload: bytes) -> bool:
    """Whether an RTP payload begins a frame a decoder can start from.

    A new subscriber is only fed from such a packet on, so its first frame decodes instead
    of producing errors until the next keyframe.
    """
    codec = mime_type.lower()
    if codec == "video/vp8":
        return _vp8_keyframe_start(payload)
    if codec == "video/h264":
        return _h264_keyframe_start(payload)
    return True


def _vp8_keyframe_start(payload: bytes) -> bool:
    # RFC 7741 section 4.2: payload descriptor, then the VP8 payload header.
    offset = _vp8_frame_offset(payload)
    return offset is not None and payload[offset] & 0x01 == 0  # P bit clear: keyframe


def _vp8_frame_offset(payload: bytes) -> int | None:
    # Where the VP8 frame begins in the first packet of a frame (None: not a frame start).
    if len(payload) < 1:
        return None
    first = payload[0]
    extended, start, partition = first & 0x80, first & 0x10, first & 0x07
    if not start or partition != 0:
        return None
    offset = 1
    if extended:
        if len(payload) < 2:
            return None
        flags = payload[1]
        offset = 2
        if flags & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= offset:
                return None
            offset += 2 if payload[offset] & 0x80 else 1
        if flags & 0x40:  # L: TL0PICIDX
            offset += 1
        if flags & 0x30:  # T or K: TID/KEYIDX byte
            offset += 1
    return offset if len(payload) > offset else None


def keyframe_size(mime_type: str, payload: bytes) -> tuple[int, int] | None:
    """Width and height of the picture a keyframe's first packet starts: from the VP8 frame
    header (RFC 6386 section 9.1), or the H.264 sequence parameter set."""
    codec = mime_type.lower()
    if codec == "video/h264":
        return h264_keyframe_size(payload)
    if codec != "video/vp8":
        return None
    offset = _vp8_frame_offset(payload)
    if offset is None or len(payload) < offset + 10:
        return None
    header = payload[offset:offset + 10]
    if header[0] & 0x01 or header[3:6] != b"\x9d\x01\x2a":
        return None
    return (int.from_bytes(header[6:8], "little") & 0x3FFF,
            int.from_bytes(header[8:10], "little") & 0x3FFF)


def _h264_keyframe_start(payload: bytes) -> bool:
    # RFC 6184: decoding can only start at the parameter sets (SPS) that precede an IDR.
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == 7:
        return True
    if nal_type == 24:  # STAP-A: 16-bit size, then a NAL unit, repeated
        offset = 1
        while offset + 2 < len(payload):
            size = int.from_bytes(payload[offset : offset + 2], "big")
            if payload[offset + 2] & 0x1F == 7:
                return True
            offset += 2 + size
    return False


def offer_publishing(sdp: str, *, publish_mids: set[str], camera_mids: set[str],
                     rids: tuple[str, ...]) -> str:
    """The offer as the page receives it: what aiortc cannot say about publishing.

    On the m-lines the page publishes on (``publish_mids``), transport-wide congestion
    control (the extension and ``transport-cc`` feedback for every codec), so the page's
    congestion controller hears of its uplink's delay; on the camera's (``camera_mids``),
    simulcast layers ``rids`` (RFC 8853 ``a=simulcast:recv``, RFC 8851 ``a=rid``, RFC 8852
    rid header extensions). aiortc drops attributes it does not know from its own
    description, and needs none of them: the server reads the extensions from the packets.
    A browser that cannot do simulcast sends one stream.
    """
    if not publish_mids:
        return sdp
    out: list[str] = []
    section: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            out += _publishing_section(section, publish_mids, camera_mids, rids)
            section = []
        section.append(line)
    out += _publishing_section(section, publish_mids, camera_mids, rids)
    return "\r\n".join(out) + "\r\n"


def _publishing_section(section: list[str], publish_mids: set[str], camera_mids: set[str],
                        rids: tuple[str, ...]) -> list[str]:
    mid = next((line[6:] for line in section if line.startswith("a=mid:")), None)
    if mid not in publish_mids:
        return section
    payload_types = [line[9:].split(" ", 1)[0] for line in section
                     if line.startswith("a=rtpmap:")]
    added = [f"a=extmap:{TRANSPORT_CC_EXTENSION_ID} {TRANSPORT_CC_URI}"]
    added += [f"a=rtcp-fb:{pt} transport-cc" for pt in payload_types]
    if mid in camera_mids:
        added += [
            f"a=extmap:{RID_EXTENSION_ID} {_RID_URI}",
            f"a=extmap:{REPAIRED_RID_EXTENSION_ID} {_REPAIRED_RID_URI}",
            *(f"a=rid:{rid} recv" for rid in rids),
            f"a=simulcast:recv {';'.join(rids)}",
        ]
    return section + added

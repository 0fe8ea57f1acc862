"""The picture size of an H.264 layer, read from the SPS a real encoder wrote."""

from __future__ import annotations

import av
import pytest

from media.codecs import keyframe_size


def _parameter_sets(width: int, height: int, profile: str) -> list[bytes]:
    """The NAL units (without start codes) of libx264's first keyframe at this size."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.options = {"profile": profile, "tune": "zerolatency"}
    codec.open()
    frame = av.VideoFrame(width, height, "yuv420p")
    data = b"".join(bytes(p) for p in codec.encode(frame)) + \
        b"".join(bytes(p) for p in codec.encode(None))
    units = [u.lstrip(b"\x00") for u in data.split(b"\x00\x00\x01")]
    return [u for u in units if u]


@pytest.mark.parametrize("profile", ["baseline", "high"])
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (640, 360), (320, 180), (160, 90)])
def test_the_size_of_a_layer_is_read_from_its_sps(width: int, height: int,
                                                  profile: str) -> None:
    units = _parameter_sets(width, height, profile)
    sps = next(u for u in units if u[0] & 0x1F == 7)
    pps = next(u for u in units if u[0] & 0x1F == 8)
    # As an RTP payload on its own (RFC 6184 single NAL unit), and aggregated with the PPS
    # in a STAP-A, as browsers send it before an IDR.
    stap_a = bytes([0x78]) + b"".join(len(u).to_bytes(2, "big") + u for u in (sps, pps))
    assert keyframe_size("video/H264", sps) == (width, height)
    assert keyframe_size("video/H264", stap_a) == (width, height)
    # Not a keyframe start: no size, and a cut-off SPS is no size either.
    assert keyframe_size("video/H264", pps) is None
    assert keyframe_size("video/H264", sps[:4]) is None

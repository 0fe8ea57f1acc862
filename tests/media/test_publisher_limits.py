"""The hearing's limits hold whatever a publisher's page does: its video cap is told to the
publisher and enforced above a ceiling, and an over-large picture is never passed on."""

from __future__ import annotations

import fractions
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import VideoStreamTrack
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RTCP_PSFB_APP, RtcpPacket, RtcpPsfbPacket, RtpPacket, unpack_remb_fci
from av import VideoFrame

from media.codecs import keyframe_size
from media.metrics import StreamCounters
from media.published_stream import ForwardedPacket, PublishedStream
from media.publisher_limits import HARD_CEILING_FACTOR, REMB_AUDIO_BPS, REMB_OVER_CAP
from media.recording.composite import keyframe_fits

from .conftest import Client, FaultListener, HearingFactory, eventually, hearing_recorder

HUGE = 16383  # the largest size a VP8 header can announce


def _frame_offset(payload: bytes) -> int:
    # RFC 7741 payload descriptor (written independently of the server's reader).
    offset = 1
    if payload[0] & 0x80:
        flags, offset = payload[1], 2
        if flags & 0x80:
            offset += 2 if payload[2] & 0x80 else 1
        offset += bool(flags & 0x40) + bool(flags & 0x30)
    return offset


def claim_huge(payload: bytes) -> bytes:
    """A VP8 keyframe's first RTP payload with its header claiming 16383x16383 (other
    payloads unchanged)."""
    offset = _frame_offset(payload)
    if not payload[0] & 0x10 or payload[offset] & 0x01:
        return payload  # not the start of a keyframe
    size = HUGE.to_bytes(2, "little")
    return payload[:offset + 6] + size + size + payload[offset + 10:]


def _vp8_keyframe_payloads() -> list[bytes]:
    encoder = Vp8Encoder()
    frame = VideoFrame.from_ndarray(np.zeros((120, 160, 3), dtype=np.uint8), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    frame.pts, frame.time_base = 0, fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, force_keyframe=True)
    return payloads


class _Upstream:
    async def send_pli(self, media_ssrc: int) -> None:
        return None

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        return None


class _Sink:
    def __init__(self) -> None:
        self.packets: list[ForwardedPacket] = []

    async def deliver(self, packet: ForwardedPacket) -> None:
        self.packets.append(packet)

    async def deliver_sender_report(self, layer: int, ntp: int, rtp: int) -> None:
        return None


async def test_a_keyframe_claiming_16383x16383_is_not_forwarded_until_a_proper_one() -> None:
    payloads = _vp8_keyframe_payloads()
    crafted = [claim_huge(p) for p in payloads]
    assert keyframe_size("video/VP8", crafted[0]) == (HUGE, HUGE)
    # The composite reads the same header from a stored frame before it decodes one.
    stored = crafted[0][_frame_offset(crafted[0]):] + b"".join(
        p[_frame_offset(p):] for p in crafted[1:])
    assert not keyframe_fits("vp8", stored)
    assert keyframe_fits("vp8", payloads[0][_frame_offset(payloads[0]):])

    counters = StreamCounters("judge", "video", "in")
    stream = PublishedStream("judge", "video", counters=counters, upstream=_Upstream())
    stream.set_codec("video/VP8", 90000)
    sink = _Sink()
    stream.add_sink(sink)
    seq = 0
    for frame, timestamp in ((crafted, 0), (payloads, 3000)):
        for i, payload in enumerate(frame):
            await stream.receive(RtpPacket(96, i == len(frame) - 1, seq, timestamp, 1, payload))
            seq += 1
    assert [p.rtp.timestamp for p in sink.packets] == [3000] * len(payloads)
    assert counters.packets_dropped == len(crafted)
    assert (stream.layers[0].width, stream.layers[0].height) == (160, 120)


class NoiseVideoTrack(VideoStreamTrack):
    """A camera filming static: incompressible, so its page sends ~2 Mbit/s at 320x240
    whatever rate its encoder is told, while ``noisy``; a still grey picture otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.noisy = True

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.random.randint(0, 255, (240, 320, 3), dtype=np.uint8) if self.noisy \
            else np.full((240, 320, 3), 128, dtype=np.uint8)
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def _video_sender(client: Client) -> Any:
    return next(t.sender for t in client.pc.getTransceivers() if t.sender.track is client.video)


async def _publishing_video(client: Client) -> Any:
    await eventually(lambda: any(t.sender.track is client.video
                                 for t in client.pc.getTransceivers()),
                     what=f"{client.participant_id} publishes its camera")
    return _video_sender(client)


def _hear_rembs(sender: Any) -> list[int]:
    """The bitrates of the REMBs the publisher's sender receives (its RTCP, read as is)."""
    heard: list[int] = []
    handle = sender._handle_rtcp_packet

    async def observed(packet: RtcpPacket) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            heard.append(unpack_remb_fci(packet.fci)[0])
        await handle(packet)

    sender._handle_rtcp_packet = observed
    return heard


def _video_bytes(hearing: Any, participant_id: str, direction: str) -> int:
    return sum(s.bytes for s in hearing.media.metrics().streams
               if s.participant_id == participant_id and s.kind == "video"
               and s.direction == direction)


async def _rates_over(hearing: Any, seconds_at: Callable[[int], bool]) -> tuple[float, float]:
    """(bit/s the judge sent the server, bit/s the server sent the villager) over a window
    that ends once the judge's bytes satisfy ``seconds_at``."""
    sent, forwarded = _video_bytes(hearing, "judge", "in"), _video_bytes(hearing, "villager", "out")
    start = time.monotonic()
    await eventually(lambda: seconds_at(_video_bytes(hearing, "judge", "in") - sent),
                     what="the judge keeps sending")
    elapsed = time.monotonic() - start
    return ((_video_bytes(hearing, "judge", "in") - sent) * 8 / elapsed,
            (_video_bytes(hearing, "villager", "out") - forwarded) * 8 / elapsed)


async def test_a_publisher_above_the_cap_is_told_it_and_held_below_the_ceiling(
    make_hearing: HearingFactory,
) -> None:
    cap_kbps = 300
    ceiling = cap_kbps * 1000 * HARD_CEILING_FACTOR
    hearing = await make_hearing(max_video_kbps=cap_kbps)
    judge = await hearing.join("judge")
    villager = await hearing.join("villager", publish=False)
    sender = await _publishing_video(judge)
    rembs = _hear_rembs(sender)
    camera = NoiseVideoTrack()
    sender.replaceTrack(camera)
    judge.video = camera

    # The cap comes with every receiver report, once a second: after four the server has
    # seen more than its two-second rate window of the judge's static.
    await eventually(lambda: len(rembs) >= 4, what="the judge's page is told the cap")
    # The cap, with room for the page's audio and packet headers: far below the ceiling.
    assert max(rembs) <= cap_kbps * 1000 * REMB_OVER_CAP + REMB_AUDIO_BPS < ceiling
    # Four seconds' worth of the ceiling, sent (the page's encoder overshoots on static).
    sent, forwarded = await _rates_over(hearing, lambda b: b * 8 >= 4 * ceiling)
    assert sent > ceiling, "the judge's page did not go above the ceiling"
    assert forwarded <= ceiling

    # A calm picture again: the villager sees the judge again, from a keyframe.
    camera.noisy = False
    seen = villager.frames_from("judge", "video")
    await eventually(lambda: villager.frames_from("judge", "video") >= seen + 15,
                     what="the villager sees the judge again")


async def test_a_page_sending_16383x16383_keyframes_is_neither_forwarded_nor_recorded(
    make_hearing: HearingFactory, tmp_path: Path,
) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    villager = await hearing.join("villager", publish=False)
    sender = await _publishing_video(judge)
    encoded = sender._next_encoded_frame

    async def huge(codec: Any) -> Any:
        frame = await encoded(codec)
        if frame is not None:
            frame.payloads = [claim_huge(p) for p in frame.payloads]
        return frame

    sender._next_encoded_frame = huge
    recorder = hearing_recorder(hearing.media, tmp_path)
    folder = recorder.folder
    await recorder.start(FaultListener())
    try:
        # Two seconds of the judge's audio reach the villager and the record meanwhile.
        await eventually(lambda: villager.frames_from("judge", "audio") >= 100,
                         what="the villager hears the judge")
        await eventually(lambda: any(e["track"] == "judge-audio" for e in folder.chain()),
                         what="the judge's audio is recorded")
    finally:
        await recorder.finish(ended=True)
    assert villager.frames_from("judge", "video") == 0
    received = [t for t in villager.pc.getTransceivers() if t.kind == "video"]
    packets = 0
    for transceiver in received:
        for stats in (await transceiver.receiver.getStats()).values():
            if stats.type == "inbound-rtp":
                packets += stats.packetsReceived
    assert packets == 0
    assert not [e for e in folder.chain() if e["track"] == "judge-video"]
    assert not list(folder.tracks.glob("judge-video-*"))


def _h264_keyframe(width: int, height: int) -> list[bytes]:
    """The NAL units (no start codes) of libx264's first keyframe at this size."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.options = {"profile": "baseline", "tune": "zerolatency"}
    codec.open()
    frame = av.VideoFrame(width, height, "yuv420p")
    data = b"".join(bytes(p) for p in codec.encode(frame)) + \
        b"".join(bytes(p) for p in codec.encode(None))
    return [u for u in (u.lstrip(b"\x00") for u in data.split(b"\x00\x00\x01")) if u]


async def test_an_h264_layer_beyond_full_hd_is_held_back_and_portrait_full_hd_is_not() -> None:
    forwarded = []
    for width, height in ((2560, 1440), (1080, 1920)):
        units = _h264_keyframe(width, height)
        annex_b = b"".join(b"\x00\x00\x00\x01" + u for u in units)
        length_prefixed = b"".join(len(u).to_bytes(4, "big") + u for u in units)
        fits = width * height <= 1920 * 1080
        assert keyframe_fits("h264", annex_b) is fits
        assert keyframe_fits("h264", length_prefixed) is fits

        stream = PublishedStream("judge", "video", counters=StreamCounters("judge", "video", "in"),
                                 upstream=_Upstream())
        stream.set_codec("video/H264", 90000)
        sink = _Sink()
        stream.add_sink(sink)
        parameter_sets = [u for u in units if u[0] & 0x1F in (7, 8)]
        stap_a = bytes([0x78]) + b"".join(len(u).to_bytes(2, "big") + u for u in parameter_sets)
        await stream.receive(RtpPacket(102, False, 1, 0, 1, stap_a))
        forwarded.append(len(sink.packets))
    assert forwarded == [0, 1]

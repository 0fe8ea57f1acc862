"""``python -m bench.recording [--seconds N]``: what recording costs, printed as figures.

``--duration S [--streams 40]`` measures instead how long recording holds the event loop
(``bench/recording_stall.py``).

1. Recording: a synthetic 500 kbit/s A/V stream (VP8 640x480 ~450 kbit/s + Opus ~48 kbit/s,
   packetized by aiortc's own packetizers) is fed through ``TrackRecorder.deliver`` (the
   forwarding path's view) and written to segments; the figure is CPU seconds (this process,
   worker threads included) per second of media, i.e. the share of one core per stream.
2. Composite: four participants' recorded tracks are rendered into the composite MP4 pinned
   to one core; the figure is media seconds per wall second (x real time).
Targets (issue 4): recording at most 2% of a core per stream, composite at least 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtpPacket

from media.codecs import is_keyframe_start
from media.metrics import StreamCounters
from media.published_stream import ForwardedPacket, PublishedStream
from media.recording.composite import render_composite
from media.recording.folder import ClosedSegment, RecordingFolder
from media.recording.track_recorder import TrackRecorder

from . import recording_stall

FPS = 30


def _video_packets(seconds: float, bitrate: int,
                   keyframe_every_s: float = 0.0) -> list[ForwardedPacket]:
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    packets = []
    seq = 0
    for i in range(int(seconds * FPS)):
        image = np.zeros((480, 640, 3), dtype=np.uint8)
        image[:, (i * 7) % 600 : (i * 7) % 600 + 40] = 255
        image[:, :, 1] = (i * 3) % 256
        image[100:380, 200:440, 2] = np.random.randint(0, 255, (280, 240), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        keyframe = i == 0 or (bool(keyframe_every_s) and i % int(keyframe_every_s * FPS) == 0)
        payloads, timestamp = encoder.encode(frame, force_keyframe=keyframe)
        for j, payload in enumerate(payloads):
            rtp = RtpPacket(payload_type=97, sequence_number=seq & 0xFFFF, timestamp=timestamp,
                            ssrc=1, marker=j == len(payloads) - 1, payload=payload)
            seq += 1
            packets.append(ForwardedPacket(rtp, "video/VP8", 90000,
                                           is_keyframe_start("video/VP8", payload), 0, 0))
    return packets


def _audio_packets(seconds: float) -> list[ForwardedPacket]:
    encoder = OpusEncoder()
    packets = []
    t = np.arange(960) / 48000
    for i in range(int(seconds * 50)):
        tone = (0.3 * np.sin(2 * np.pi * 440 * (t + i * 0.02)) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), format="s16",
                                           layout="stereo")
        frame.sample_rate = 48000
        frame.pts = i * 960
        frame.time_base = fractions.Fraction(1, 48000)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            rtp = RtpPacket(payload_type=96, sequence_number=i & 0xFFFF, timestamp=timestamp,
                            ssrc=2, payload=payload)
            packets.append(ForwardedPacket(rtp, "audio/opus", 48000, True, 0, 0))
    return packets


class _NoUpstream:
    """The bench has no publisher to ask for keyframes or retransmissions."""

    async def send_pli(self, media_ssrc: int) -> None:
        return None

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        return None


def _stream(participant_id: str, kind: str) -> PublishedStream:
    return PublishedStream(participant_id, kind, upstream=_NoUpstream(),
                           counters=StreamCounters(participant_id, kind, "in"))


class _Events:
    def __init__(self) -> None:
        self.faults: list[str] = []

    def track_fault(self, recorder: Any, reason: str) -> None:
        self.faults.append(reason)

    def track_resumed(self, recorder: Any) -> None:
        pass

    def segment_closed(self, recorder: Any, segment: ClosedSegment) -> None:
        pass


async def _record(folder: RecordingFolder, participant_id: str, video: list[ForwardedPacket],
                  audio: list[ForwardedPacket], *, start: float, seconds: float) -> float:
    """Feed one participant's A/V through recorders; returns the CPU seconds it took."""
    events = _Events()
    origin = time.monotonic()
    recorders = [
        TrackRecorder(_stream(participant_id, kind), folder, events, origin=origin - start,
                      segment_s=10.0, clock=clock)
        for kind, clock in (("video", _Clock(origin, FPS)), ("audio", _Clock(origin, 50)))
    ]
    cpu = time.process_time()
    # Interleave as the network would: per 20 ms, the audio packet and the video due by then.
    vi = 0
    for i, packet in enumerate(audio):
        await recorders[1].deliver(packet)
        while vi < len(video) and video[vi].rtp.timestamp / 90000 <= (i + 1) * 0.02 + \
                video[0].rtp.timestamp / 90000:
            await recorders[0].deliver(video[vi])
            vi += 1
    for packet in video[vi:]:
        await recorders[0].deliver(packet)
    for recorder in recorders:
        await recorder.close()
    assert not events.faults, events.faults
    return time.process_time() - cpu


class _Clock:
    """Arrival times as if packets came in real time (the bench feeds them faster)."""

    def __init__(self, origin: float, rate: int) -> None:
        self._t = origin
        self._step = 1.0 / rate / 4

    def __call__(self) -> float:
        self._t += self._step
        return self._t


async def main_async(seconds: float) -> None:
    print(f"preparing {seconds:g} s of synthetic 640x480 VP8 + Opus ...", flush=True)
    video = _video_packets(seconds, 450_000)
    audio = _audio_packets(seconds)
    kbps = (sum(len(p.rtp.payload) for p in video + audio) * 8 / seconds) / 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = RecordingFolder(Path(tmp), "h_bench")
        folder.create()
        cpu = await _record(folder, "p_0", video, audio, start=0.0, seconds=seconds)
        share = cpu / seconds * 100
        print(f"recording: {kbps:.0f} kbit/s A/V stream, {cpu:.3f} CPU s for {seconds:g} s "
              f"of media = {share:.2f}% of a core per stream (target <= 2%)")
        for n in range(1, 4):
            await _record(folder, f"p_{n}", video, audio, start=0.3 * n, seconds=seconds)
        pinned = hasattr(os, "sched_setaffinity")
        if pinned:
            before = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {sorted(before)[-1]})
        try:
            wall = time.perf_counter()
            result = await asyncio.to_thread(
                render_composite, folder, {f"p_{n}": f"Қатысушы {n} · witness" for n in range(4)}
            )
            wall = time.perf_counter() - wall
        finally:
            if pinned:
                os.sched_setaffinity(0, before)
        assert result is not None
        print(f"composite: 4 parties, {result.duration_s:.1f} s rendered ({result.width}x"
              f"{result.height}) in {wall:.2f} s on one core = {result.duration_s / wall:.1f}x "
              "real time (target >= 2x)")


async def stall_async(duration: float, streams: int, segment_s: float,
                      recorded: bool = True) -> None:
    print(f"preparing {recording_stall.LOOP_S:g} s of synthetic 640x480 VP8 + Opus "
          f"(a keyframe every {segment_s:g} s) ...", flush=True)
    video = _video_packets(recording_stall.LOOP_S, 450_000, keyframe_every_s=segment_s)
    audio = _audio_packets(recording_stall.LOOP_S)
    await recording_stall.run(duration, streams, segment_s, video, audio, recorded=recorded)


def main() -> None:
    """Entry point: ``python -m bench.recording``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="media length (default 30)")
    parser.add_argument("--duration", type=float, default=None,
                        help="instead: record --streams streams in real time for this many "
                             "seconds and print the event loop's longest stall")
    parser.add_argument("--streams", type=int, default=40,
                        help="streams recorded with --duration (default 40)")
    parser.add_argument("--segment", type=float, default=2.0,
                        help="segment length with --duration, s (default 2)")
    parser.add_argument("--unrecorded", action="store_true",
                        help="with --duration: the same feed with no recorder (the forwarding "
                             "path's own stalls, to compare with)")
    args = parser.parse_args()
    if args.duration is not None:
        asyncio.run(stall_async(args.duration, args.streams, args.segment,
                                recorded=not args.unrecorded))
    else:
        asyncio.run(main_async(args.seconds))


if __name__ == "__main__":
    main()

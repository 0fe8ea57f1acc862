"""Pre-encoded VP8 video and Opus audio for the synthetic publishers.

Encoded once with PyAV into a small binary file per (kind, bitrate) in a cache directory, then
loaded and looped by every publisher, so the load never encodes while it measures.

Audio comes in variants, so a benchmark can make its publishers honest about what they say:
``speech`` (a sweeping tone plus noise, continuously, like someone always talking), ``silent``
(a quiet room at about -75 dBov, like an open microphone nobody speaks into) and ``speech-fec``
(``speech`` encoded with Opus in-band FEC on and 10 % expected loss, as a browser encodes
once the receiver reports loss). Every audio frame carries its level (RFC 6464: -dBov of the
frame's PCM, 0..127), which publishers put in the ssrc-audio-level header extension.

File format: repeated records ``u32 length | u8 keyframe | u8 level | payload`` (big endian).
"""

from __future__ import annotations

import fractions
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

VIDEO_FPS = 30
AUDIO_PTIME_S = 0.02
# Ten seconds of material: long against any latency we measure, so a payload repeating once
# per loop is never confused with its previous send.
LOOP_SECONDS = 10
_RECORD = struct.Struct(">IBB")
_FORMAT = "v2"  # in the cache file's name: older caches lack the level byte
AUDIO_VARIANTS = ("speech", "silent", "speech-fec")
_SILENT_DBOV = -75.0
_WIDTH, _HEIGHT = 640, 360


@dataclass(frozen=True)
class EncodedMedia:
    """One looped stream: encoded frames (video) or packets (audio) and their spacing."""

    kind: str
    frames: tuple[bytes, ...]
    keyframes: tuple[bool, ...]
    interval_s: float
    # RFC 6464 level per frame (audio; 127 = silence), for the ssrc-audio-level extension.
    levels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("audio", "video"):
            raise ValueError(f"kind: {self.kind!r} is not audio or video")
        if not self.frames or len(self.frames) != len(self.keyframes):
            raise ValueError("frames: empty, or not one keyframe flag per frame")
        if self.kind == "video" and not self.keyframes[0]:
            raise ValueError("frames: a video loop must start with a keyframe")
        if self.levels and len(self.levels) != len(self.frames):
            raise ValueError("levels: not one level per frame")


def audio_level(signal: np.ndarray) -> int:
    """RFC 6464 level of PCM in [-1, 1]: -dBov of its RMS, clamped to 0..127 (127 = silence)."""
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    if rms <= 0:
        return 127
    return max(0, min(127, round(-20 * math.log10(rms))))


def _encode_video(bitrate: int) -> list[tuple[bytes, bool, int]]:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = _WIDTH, _HEIGHT
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, VIDEO_FPS)
    codec.framerate = fractions.Fraction(VIDEO_FPS, 1)
    codec.bit_rate = bitrate
    # A keyframe every 2 s like a browser's periodic ones; on PLI we restart the loop.
    codec.gop_size = 2 * VIDEO_FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[bytes, bool, int]] = []
    ys, xs = np.mgrid[0:_HEIGHT, 0:_WIDTH]
    for index in range(LOOP_SECONDS * VIDEO_FPS):
        # A moving gradient with noise: real delta frames of a realistic size.
        image = np.empty((_HEIGHT, _WIDTH, 3), dtype=np.uint8)
        image[..., 0] = (xs + index * 4) % 256
        image[..., 1] = (ys + index * 2) % 256
        image[..., 2] = np.random.default_rng(index).integers(0, 64, (_HEIGHT, _WIDTH))
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in codec.encode(frame):
            out.append((bytes(packet), bool(packet.is_keyframe), 127))
    for packet in codec.encode(None):
        out.append((bytes(packet), bool(packet.is_keyframe), 127))
    return out


def _encode_audio(bitrate: int, variant: str) -> list[tuple[bytes, bool, int]]:
    rate = 48000
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = rate
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = bitrate
    if variant == "speech-fec":
        # libopus adds LBRR (the previous frame, coarser) to each packet only when told
        # to expect loss; browsers set this from the receiver's loss reports.
        codec.options = {"fec": "1", "packet_loss": "10"}
    samples = int(rate * AUDIO_PTIME_S)
    rng = np.random.default_rng(7)
    out: list[tuple[bytes, bool, int]] = []
    levels: list[int] = []
    total = int(LOOP_SECONDS / AUDIO_PTIME_S)
    for index in range(total):
        t = (np.arange(samples) + index * samples) / rate
        if variant == "silent":
            signal = 10 ** (_SILENT_DBOV / 20) * rng.standard_normal(samples)
        else:
            # A sweeping tone plus noise: every packet differs, so payload hashes stay unique.
            tone = np.sin(2 * math.pi * (300 + 20 * index % 600) * t)
            signal = 0.3 * tone + 0.05 * rng.standard_normal(samples)
        levels.append(audio_level(signal))
        pcm = (signal * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = index * samples
        for packet in codec.encode(frame):
            out.append((bytes(packet), True, levels[len(out)]))
    return out[:total]


def _write(path: Path, frames: list[tuple[bytes, bool, int]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        for data, key, level in frames:
            handle.write(_RECORD.pack(len(data), int(key), level))
            handle.write(data)
    tmp.replace(path)


def _read(path: Path) -> list[tuple[bytes, bool, int]]:
    raw = path.read_bytes()
    frames: list[tuple[bytes, bool, int]] = []
    pos = 0
    while pos < len(raw):
        length, key, level = _RECORD.unpack_from(raw, pos)
        pos += _RECORD.size
        frames.append((raw[pos : pos + length], bool(key), level))
        pos += length
    return frames


def load_media(cache_dir: Path, kind: str, bitrate: int, variant: str = "speech") -> EncodedMedia:
    """The looped ``kind`` stream at ``bitrate`` bit/s, encoding it into ``cache_dir`` once.

    ``variant`` picks the audio's content (``AUDIO_VARIANTS``); video has one.
    """
    if kind == "audio" and variant not in AUDIO_VARIANTS:
        raise ValueError(f"variant: {variant!r} is not one of {', '.join(AUDIO_VARIANTS)}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{bitrate}" if kind == "video" else f"{kind}-{bitrate}-{variant}"
    path = cache_dir / f"{name}.{_FORMAT}.bin"
    if not path.exists():
        frames = _encode_video(bitrate) if kind == "video" else _encode_audio(bitrate, variant)
        _write(path, frames)
    frames = _read(path)
    interval = 1 / VIDEO_FPS if kind == "video" else AUDIO_PTIME_S
    return EncodedMedia(
        kind, tuple(f for f, _, _ in frames), tuple(k for _, k, _ in frames), interval,
        tuple(level for _, _, level in frames) if kind == "audio" else (),
    )

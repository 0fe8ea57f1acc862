"""The composite of a hearing: one MP4 (H.264 + AAC) with every participant in a grid.

Tracks are placed on the recording's arrival clock: a segment starts at the offset its
first frame arrived, so people who join late or leave early appear and disappear where
they did in the hearing. Each tile is captioned with the participant's name and role
(DejaVu Sans covers Kazakh and Russian); all audio is mixed. CPU-bound: run it in a
worker thread, never on the event loop.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .folder import COMPOSITE, RecordingFolder
from .private_files import create_private_file

WIDTH, HEIGHT = 1280, 720
FPS = 15
SAMPLE_RATE = 48000
AUDIO_CHUNK = 1024  # AAC frame size
CAPTION_HEIGHT = 30
# A tile keeps its last frame this long after its segment ends, then goes black.
HOLD_S = 0.5
FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)


class RenderCancelled(Exception):
    """The server is stopping; the composite will be rendered again on the next start."""


@dataclass(frozen=True)
class CompositeResult:
    """What was rendered."""

    width: int
    height: int
    duration_s: float
    start_offset_s: float
    tiles: int


@dataclass
class _Segment:
    file: Path
    start: float
    duration: float


@dataclass
class _Participant:
    participant_id: str
    video: list[_Segment] = field(default_factory=list)
    audio: list[_Segment] = field(default_factory=list)


def render_composite(
    folder: RecordingFolder,
    captions: dict[str, str],
    *,
    progress: Callable[[float], None] = lambda fraction: None,
    stop: threading.Event | None = None,
) -> CompositeResult | None:
    """Render ``composite.mp4`` from the closed segments; None if nothing was recorded."""
    people: dict[str, _Participant] = {}
    for entry in folder.chain():
        person = people.setdefault(entry["participant_id"], _Participant(entry["participant_id"]))
        segment = _Segment(folder.path / entry["file"], float(entry["start_offset_s"]),
                           float(entry["duration_s"]))
        (person.video if entry["kind"] == "video" else person.audio).append(segment)
    if not people:
        return None
    for person in people.values():
        person.video.sort(key=lambda s: s.start)
        person.audio.sort(key=lambda s: s.start)
    segments = [s for p in people.values() for s in (*p.video, *p.audio)]
    t0 = min(s.start for s in segments)
    end = max(s.start + s.duration for s in segments)
    duration = max(end - t0, 1.0 / FPS)
    order = sorted(people.values(), key=lambda p: min(s.start for s in (*p.video, *p.audio)))
    tmp = folder.path / ".recorder" / "composite.tmp.mp4"
    _Renderer(order, captions, t0, duration).run(tmp, progress, stop or threading.Event())
    tmp.replace(folder.path / COMPOSITE)
    return CompositeResult(WIDTH, HEIGHT, round(duration, 3), round(t0, 3), len(order))


class _Tile:
    """One participant's place in the grid and the video frames that fill it."""

    def __init__(self, person: _Participant, caption: str, box: tuple[int, int, int, int],
                 t0: float) -> None:
        self.box = box
        _, _, w, h = box
        self.caption = _caption_bar(caption, w)
        self.video_h = h - CAPTION_HEIGHT
        self._frames = _video_frames(person.video, t0)
        self._ends = [s.start - t0 + s.duration for s in person.video]
        self._next: tuple[float, Any, int] | None = next(self._frames, None)
        self.current: tuple[Any, int] | None = None

    def advance(self, t: float) -> bool:
        """Move to the frame shown at ``t``; whether the tile changed."""
        before = self.current
        while self._next is not None and self._next[0] <= t:
            _, frame, index = self._next
            self.current = (frame, index)
            self._next = next(self._frames, None)
        if self.current is not None and t > self._ends[self.current[1]] + HOLD_S:
            self.current = None
        return self.current is not before

    def draw(self, canvas: np.ndarray[Any, Any]) -> None:
        x, y, w, _ = self.box
        region = canvas[y : y + self.video_h, x : x + w]
        region[:] = 0
        if self.current is not None:
            frame = self.current[0]
            scale = min(w / frame.width, self.video_h / frame.height)
            fw = max(2, int(frame.width * scale) // 2 * 2)
            fh = max(2, int(frame.height * scale) // 2 * 2)
            image = frame.to_ndarray(width=fw, height=fh, format="rgb24")
            ox, oy = (w - fw) // 2, (self.video_h - fh) // 2
            region[oy : oy + fh, ox : ox + fw] = image
        canvas[y + self.video_h : y + self.video_h + CAPTION_HEIGHT, x : x + w] = self.caption


class _AudioTrack:
    """One participant's audio as mono float samples on the composite's sample clock."""

    def __init__(self, segments: list[_Segment], t0: float) -> None:
        self._pieces = _audio_pieces(segments, t0)
        self._buffer: list[tuple[int, np.ndarray[Any, Any]]] = []
        self._done = False

    def mix_into(self, out: np.ndarray[Any, Any], start: int) -> None:
        end = start + len(out)
        while not self._done and (not self._buffer or self._buffer[-1][0] < end):
            piece = next(self._pieces, None)
            if piece is None:
                self._done = True
            else:
                self._buffer.append(piece)
        kept = []
        for s, samples in self._buffer:
            e = s + len(samples)
            if e <= start:
                continue
            a, b = max(s, start), min(e, end)
            if a < b:
                out[a - start : b - start] += samples[a - s : b - s]
            kept.append((s, samples))
        self._buffer = kept


class _Renderer:
    def __init__(self, people: list[_Participant], captions: dict[str, str], t0: float,
                 duration: float) -> None:
        self.t0 = t0
        self.duration = duration
        cols = math.ceil(math.sqrt(len(people)))
        rows = math.ceil(len(people) / cols)
        cell_w, cell_h = WIDTH // cols // 2 * 2, HEIGHT // rows // 2 * 2
        self.tiles = [
            _Tile(p, captions.get(p.participant_id, p.participant_id),
                  ((i % cols) * cell_w, (i // cols) * cell_h, cell_w, cell_h), t0)
            for i, p in enumerate(people)
        ]
        self.audio = [_AudioTrack(p.audio, t0) for p in people if p.audio]

    def run(self, path: Path, progress: Callable[[float], None], stop: threading.Event) -> None:
        container: Any = av.open(str(create_private_file(path)), "w", format="mp4")
        try:
            video: Any = container.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            video.options = {"preset": "ultrafast", "crf": "26"}
            # One thread: the job runs beside live hearings and must not take every core.
            video.codec_context.thread_count = 1
            audio: Any = container.add_stream("aac", rate=SAMPLE_RATE)
            audio.codec_context.layout = "mono"
            audio.bit_rate = 64000
            self._encode(container, video, audio, progress, stop)
        finally:
            container.close()

    def _encode(self, container: Any, video: Any, audio: Any,
                progress: Callable[[float], None], stop: threading.Event) -> None:
        canvas = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        for tile in self.tiles:
            tile.draw(canvas)
        frames = max(1, round(self.duration * FPS))
        samples_done = 0
        for i in range(frames):
            if stop.is_set():
                raise RenderCancelled("the server is stopping")
            t = i / FPS
            for tile in self.tiles:
                if tile.advance(t):
                    tile.draw(canvas)
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
            while samples_done < (i + 1) * SAMPLE_RATE // FPS:
                container.mux(audio.encode(self._audio_chunk(samples_done)))
                samples_done += AUDIO_CHUNK
            if i % (FPS * 10) == 0:
                progress(i / frames)
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
        progress(1.0)

    def _audio_chunk(self, start: int) -> Any:
        mix = np.zeros(AUDIO_CHUNK, dtype=np.float32)
        for track in self.audio:
            track.mix_into(mix, start)
        np.clip(mix, -1.0, 1.0, out=mix)
        frame = av.AudioFrame.from_ndarray(mix.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE)
        return frame


def _video_frames(segments: list[_Segment], t0: float) -> Iterator[tuple[float, Any, int]]:
    for index, segment in enumerate(segments):
        try:
            with av.open(str(segment.file)) as container:
                stream = container.streams.video[0]
                stream.codec_context.thread_count = 1
                for frame in container.decode(stream):
                    if frame.time is not None:
                        yield segment.start - t0 + frame.time, frame, index
        except (av.FFmpegError, OSError):
            continue  # a damaged segment shows as black; the others still play


def _audio_pieces(
    segments: list[_Segment], t0: float
) -> Iterator[tuple[int, np.ndarray[Any, Any]]]:
    for segment in segments:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        try:
            with av.open(str(segment.file)) as container:
                stream = container.streams.audio[0]
                for decoded in container.decode(stream):
                    if decoded.time is None:
                        continue
                    at = round((segment.start - t0 + decoded.time) * SAMPLE_RATE)
                    for frame in resampler.resample(decoded):
                        samples = frame.to_ndarray().reshape(-1).astype(np.float32)
                        yield at, samples
                        at += len(samples)
        except (av.FFmpegError, OSError):
            continue


def _caption_bar(text: str, width: int) -> np.ndarray[Any, Any]:
    image = Image.new("RGB", (width, CAPTION_HEIGHT), (24, 32, 48))
    draw = ImageDraw.Draw(image)
    font = _font(18)
    draw.text((8, 4), text, fill=(255, 255, 255), font=font)
    return np.asarray(image, dtype=np.uint8)


def _font(size: int) -> Any:
    for candidate in FONT_PATHS:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default()

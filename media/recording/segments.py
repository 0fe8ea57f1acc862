"""Encoded frames of one track into segment files with PyAV, without decoding them.

Runs in the track recorder's worker thread. A segment starts at a keyframe (any Opus packet
is one), is cut at the first keyframe after ``segment_s`` seconds, and is closed, fsynced,
hashed and moved into ``tracks/`` before it enters the chain: a crash loses only the open
segment, and every closed one plays on its own.
"""

from __future__ import annotations

import contextlib
import io
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .folder import ClosedSegment, RecordingFolder, fsync_path, sha256_file
from .frames import EncodedFrame, ts_diff, vp8_dimensions
from .private_files import create_private_file

# (container format, file suffix, PyAV codec name used as the stream template)
_FORMATS = {
    "video/vp8": ("webm", "webm", "libvpx"),
    "video/h264": ("matroska", "mkv", "libx264"),
    "audio/opus": ("webm", "webm", "libopus"),
}
# OpusHead (RFC 7845): version 1, 2 channels as negotiated, no pre-skip (RTP has none).
_OPUS_HEAD = b"OpusHead\x01\x02\x00\x00\x80\xbb\x00\x00\x00\x00\x00"


class UnsupportedCodec(ValueError):
    """The stream's codec cannot be recorded."""


class _Segment:
    def __init__(
        self, path: Path, mime_type: str, clock_rate: int, first: EncodedFrame, origin: float
    ) -> None:
        fmt, _, template_codec = _FORMATS[mime_type]
        self.path = path
        self.first_ts = first.timestamp
        self.last_ts = first.timestamp
        self.elapsed = 0
        self.frames = 0
        self.start_offset = max(0.0, first.arrival - origin)
        self.time_base = Fraction(1, clock_rate)
        self.dimensions: tuple[int, int] | None = None
        # A template stream keeps PyAV from opening an encoder (which would replace the
        # codec parameters, e.g. H.264's SPS, with its own).
        template_container: Any = av.open(io.BytesIO(), "w", format=fmt)
        try:
            template = template_container.add_stream(template_codec)
            # Short clusters: the muxer holds a whole cluster in memory, and a full disk
            # must show up within a second, not at the next keyframe.
            self.container: Any = av.open(
                str(create_private_file(path)), "w", format=fmt,
                container_options={"cluster_time_limit": "1000"},
            )
            try:
                self.stream: Any = self.container.add_stream_from_template(template)
                ctx = self.stream.codec_context
                if mime_type == "audio/opus":
                    ctx.sample_rate = 48000
                    ctx.layout = "stereo"
                    ctx.extradata = _OPUS_HEAD
                else:
                    self.dimensions = frame_dimensions(mime_type, first.data)
                    ctx.width, ctx.height = self.dimensions
                    if mime_type == "video/h264":
                        ctx.extradata = _h264_parameter_sets(first.data)
                self.stream.time_base = Fraction(1, 1000)
            except BaseException:
                self.container.close()
                raise
        finally:
            template_container.close()

    def add(self, frame: EncodedFrame) -> None:
        self.elapsed += ts_diff(frame.timestamp, self.last_ts)
        self.last_ts = frame.timestamp
        packet = av.Packet(frame.data)
        packet.stream = self.stream
        packet.time_base = self.time_base
        packet.pts = packet.dts = self.elapsed
        packet.is_keyframe = frame.keyframe
        self.container.mux(packet)
        self.frames += 1

    def seconds(self) -> float:
        return float(self.elapsed * self.time_base)

    def close(self) -> None:
        self.container.close()


class SegmentWriter:
    """Writes one track's frames into consecutive segments of its recording folder."""

    def __init__(
        self,
        folder: RecordingFolder,
        participant_id: str,
        kind: str,
        *,
        segment_s: float,
        origin: float,
    ) -> None:
        self.folder = folder
        self.participant_id = participant_id
        self.kind = kind
        self.track = f"{participant_id}-{kind}"
        self.segment_s = segment_s
        self.origin = origin
        self.want_keyframe = kind == "video"
        self._segment: _Segment | None = None
        self._mime_type = ""
        self._clock_rate = 90000
        self._index = 0
        self._skipping = False

    def set_codec(self, mime_type: str, clock_rate: int) -> None:
        """The stream's codec (from the first forwarded packet)."""
        mime_type = mime_type.lower()
        if mime_type not in _FORMATS:
            raise UnsupportedCodec(f"cannot record {mime_type or 'an unknown codec'}")
        self._mime_type = mime_type
        self._clock_rate = clock_rate

    def write(self, frame: EncodedFrame) -> ClosedSegment | None:
        """Add a frame; returns the segment this frame closed, if it closed one."""
        segment = self._segment
        if self._skipping and not frame.keyframe:
            self.want_keyframe = True
            return None
        self._skipping = False
        if segment is None:
            if not frame.keyframe:
                self.want_keyframe = True
                return None
            self._open(frame)
            return None
        due = segment.seconds() + ts_diff(frame.timestamp, segment.last_ts) / self._clock_rate \
            >= self.segment_s
        resized = (
            frame.keyframe
            and self.kind == "video"
            and frame_dimensions(self._mime_type, frame.data) != segment.dimensions
        )
        if (due or resized) and frame.keyframe:
            closed = self.close()
            self._open(frame)
            return closed
        if due:
            self.want_keyframe = True
        segment.add(frame)
        return None

    def frame_lost(self) -> None:
        """A frame could not be assembled: skip to the next keyframe."""
        if self.kind == "video" and self._segment is not None:
            self._skipping = True
            self.want_keyframe = True

    def _open(self, frame: EncodedFrame) -> None:
        _, suffix, _ = _FORMATS[self._mime_type]
        index = self.folder.next_index(self.track)
        path = self.folder.open_dir / f"{self.track}-{index:05d}.{suffix}"
        self._segment = _Segment(path, self._mime_type, self._clock_rate, frame, self.origin)
        self._index = index
        self.want_keyframe = False
        self._segment.add(frame)

    def close(self) -> ClosedSegment | None:
        """Close the open segment: trailer, fsync, hash, into ``tracks/``, into the chain."""
        segment, self._segment = self._segment, None
        if segment is None:
            return None
        segment.close()
        fsync_path(segment.path)
        final = self.folder.tracks / segment.path.name
        os.replace(segment.path, final)
        fsync_path(self.folder.tracks)
        closed = ClosedSegment(
            track=self.track,
            participant_id=self.participant_id,
            kind=self.kind,
            index=self._index,
            file=f"tracks/{final.name}",
            codec=self._mime_type.split("/")[1].lower(),
            start_offset_s=round(segment.start_offset, 3),
            duration_s=round(segment.seconds(), 3),
            frames=segment.frames,
            size=final.stat().st_size,
            sha256=sha256_file(final),
        )
        self.folder.add_segment(closed)
        return closed

    def abandon(self) -> None:
        """Drop the open segment after a write error (frees its space on a full disk)."""
        segment, self._segment = self._segment, None
        if segment is None:
            return
        with contextlib.suppress(Exception):  # the file is being discarded anyway
            segment.close()
        segment.path.unlink(missing_ok=True)
        self.want_keyframe = self.kind == "video"


def frame_dimensions(mime_type: str, data: bytes) -> tuple[int, int]:
    """Width and height of a keyframe, read from its headers (never decoded)."""
    if mime_type == "video/vp8":
        dims = vp8_dimensions(data)
        if dims is None:
            raise ValueError("not a VP8 keyframe")
        return dims
    parser: Any = av.CodecContext.create("h264", "r")
    parser.parse(data)
    # The parser holds a frame back until it sees the next one; flushing releases it and
    # with it the sequence parameter set's width and height.
    parser.parse(None)
    if not parser.width or not parser.height:
        raise ValueError("no H.264 sequence parameter set in the keyframe")
    return int(parser.width), int(parser.height)


def _h264_parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units (Annex B) at the start of an H.264 keyframe."""
    out = bytearray()
    for nal in data.split(b"\x00\x00\x00\x01"):
        if nal and nal[0] & 0x1F in (7, 8):
            out += b"\x00\x00\x00\x01" + nal
    return bytes(out)

"""One consumer's continuous view of a published stream, across its layers and pauses.

A subscriber (or the recorder) takes one layer of a stream at a time; the allocation moves
it up or down, pauses it and resumes it. Whatever happens upstream, what the consumer gets
must look like one RTP stream: sequence numbers without gaps that were not losses,
timestamps that move with the wall clock, and (VP8) picture numbers that only go forward.
``LayerSwitch`` decides, packet by packet, what is forwarded and how it is renumbered:

- a video consumer starts, resumes and changes layer only at a keyframe of the layer it
  wants, and keeps the old layer until then (so a switch never freezes the picture);
- each run of packets from one layer is a *span* with fixed offsets; the last few spans are
  kept, so a NACK for a packet sent before a switch is still answered from the right layer;
- across a switch, timestamps are aligned exactly from both layers' sender reports when
  there are some, else by the wall-clock time since the last packet sent.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .published_stream import ForwardedPacket, PacketSink, PublishedStream
from .rtp_stats import seq_diff
from .vp8_numbering import read_numbering, renumber

# How far the "before this span's start" guard trails the newest packet: far older than any
# reordering or NACK answer, far from the half-circle where sequence order flips.
_START_WINDOW = 0x4000
_START_TRAIL = 0x2000
_KEPT_SPANS = 8
_NTP_UNITS = 1 << 32
# The "layer" of a span of padding packets (a probe while paused): there is nothing to resend.
PADDING_LAYER = -1


@dataclass(slots=True)
class Span:
    """A run of forwarded packets taken from one layer with fixed offsets."""

    layer: int
    segment: int
    out_start: int  # first outgoing sequence number
    in_start: int  # its incoming sequence number (on the span's layer)
    seq_offset: int
    ts_offset: int
    picture_id_delta: int = 0
    tl0_delta: int = 0


# What to send for one packet: outgoing sequence number, timestamp, (renumbered) payload. A
# tuple, not an object: it is made for every packet and every subscriber.
Rewritten = tuple[int, int, bytes]


class LayerSwitch:
    """Follows ``stream`` for one consumer (``sink``), one layer at a time."""

    def __init__(
        self,
        stream: PublishedStream,
        sink: PacketSink,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self._sink = sink
        self._clock = clock
        self._video = stream.kind == "video"
        self._vp8 = False
        self.current: int | None = None
        self.target: int | None = None
        self._span: Span | None = None
        self._spans: deque[Span] = deque(maxlen=_KEPT_SPANS)
        # Below 32768 like aiortc, so the first packets never wrap (SRTP index estimation).
        self._next_seq = random.getrandbits(15)
        self._first_ts_offset = random.getrandbits(32)
        self._last_out_ts: int | None = None
        self._last_out_at = 0.0
        # The last payload forwarded and its span: its picture numbers are read only when a
        # switch needs them, not for every packet.
        self._last_payload = b""
        # layer -> its latest sender report (NTP, RTP), for exact alignment across a switch
        self._reports: dict[int, tuple[int, int]] = {}
        stream.follow(sink)

    @property
    def forwarding(self) -> bool:
        """Whether packets currently reach the consumer (not paused, not waiting)."""
        return self.target is not None and self.current == self.target and self._span is not None

    @property
    def span(self) -> Span | None:
        """The span packets are forwarded in now."""
        return self._span

    def set_target(self, layer: int | None) -> None:
        """Take ``layer`` from now on (None: pause); a video switch waits for a keyframe."""
        if layer == self.target:
            return
        stream = self.stream
        if self.target is not None and self.target != self.current:
            stream.remove_sink(self._sink, self.target)
        self.target = layer
        if layer is None:
            if self.current is not None:
                stream.remove_sink(self._sink, self.current)
            self.current = None
            self._span = None
            return
        stream.add_sink(self._sink, layer)
        if not self._video and self.current is not None and self.current != layer:
            stream.remove_sink(self._sink, self.current)
            self.current = None

    def close(self) -> None:
        """Stop following the stream."""
        self.set_target(None)
        self.stream.unfollow(self._sink)

    async def missed(self, packet: ForwardedPacket) -> None:
        """``packet`` was not forwarded: if the consumer waits for a keyframe of its layer,
        ask the publisher (at once if the consumer has no picture meanwhile)."""
        if self.waiting_for_keyframe() == packet.layer:
            await self.stream.request_keyframe(packet.layer, urgent=self._urgent())

    def _urgent(self) -> bool:
        # Only a move up while the current layer still plays can wait: the consumer keeps a
        # picture, and a move down is for a link that cannot carry the layer it has.
        current, target = self.current, self.target
        if current is None or target is None or self._span is None or target < current:
            return True
        return not self.stream.layers[current].active(self._clock())

    def waiting_for_keyframe(self) -> int | None:
        """The layer a keyframe is wanted on (to start, resume or switch), if any."""
        if self.target is None or (self.current == self.target and self._span is not None):
            return None
        return self.target

    def note_sender_report(self, layer: int, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """Remember a layer's clock mapping (exact timestamps across a switch)."""
        self._reports[layer] = (ntp_timestamp, rtp_timestamp)

    def rewrite(self, packet: ForwardedPacket) -> Rewritten | None:
        """The packet as the consumer gets it, or None when it is not forwarded."""
        target = self.target
        if target is None:
            return None
        layer = packet.layer
        span = self._span
        rtp = packet.rtp
        if span is None or layer != span.layer or packet.segment != span.segment:
            if layer != target:
                return None  # the old layer after the switch, or a stray one
            if self._video and not packet.keyframe_start:
                return None  # a decoder can only start (again) from a keyframe
            span = self._start_span(packet)
        else:
            since_start = (rtp.sequence_number - span.in_start) & 0xFFFF
            if since_start >= 0x8000:
                return None  # from before this span's start
            if since_start >= _START_WINDOW:
                # Keep the start trailing: on the 16-bit circle a fixed one would look "ahead"
                # again after 32768 packets and silence the stream for as long again.
                span.in_start = (rtp.sequence_number - _START_TRAIL) & 0xFFFF
                span.out_start = (span.in_start + span.seq_offset) & 0xFFFF
        out_seq = (rtp.sequence_number + span.seq_offset) & 0xFFFF
        if (out_seq - self._next_seq) & 0xFFFF < 0x8000:
            self._next_seq = (out_seq + 1) & 0xFFFF
        out_ts = (rtp.timestamp + span.ts_offset) & 0xFFFFFFFF
        self._last_out_ts = out_ts
        self._last_out_at = self._clock()
        payload = rtp.payload
        self._last_payload = payload
        if span.picture_id_delta or span.tl0_delta:
            payload = renumber(payload, span.picture_id_delta, span.tl0_delta)
        return out_seq, out_ts, payload

    def locate(self, out_seq: int) -> tuple[Span, int] | None:
        """The span an outgoing sequence number was sent in, and its incoming number (None:
        unknown, or padding: nothing to resend)."""
        for span in reversed(self._spans):
            if seq_diff(out_seq, span.out_start) >= 0:
                if span.layer == PADDING_LAYER:
                    return None
                in_seq = (out_seq - span.seq_offset) & 0xFFFF
                return span, in_seq
        return None

    def take_padding(self) -> tuple[int, int] | None:
        """The sequence number and timestamp for one padding packet, sent while the consumer
        is paused (a probe of its link); None while it is sent a layer. The numbers go on
        without a gap when the layer resumes, and a NACK for padding is never answered."""
        if self._span is not None or self.target is not None:
            return None
        if not self._spans or self._spans[-1].layer != PADDING_LAYER:
            self._spans.append(Span(PADDING_LAYER, -1, self._next_seq, 0, 0, 0))
        seq = self._next_seq
        self._next_seq = (seq + 1) & 0xFFFF
        return seq, self._last_out_ts if self._last_out_ts is not None else self._first_ts_offset

    def _start_span(self, packet: ForwardedPacket) -> Span:
        rtp = packet.rtp
        # After a pause the last span still tells which clock and numbering were sent last.
        previous = next((s for s in reversed(self._spans) if s.layer != PADDING_LAYER), None)
        same_layer = previous is not None and previous.layer == packet.layer
        old_layer = self.current
        self.current = packet.layer
        if old_layer is not None and old_layer != packet.layer:
            self.stream.remove_sink(self._sink, old_layer)
        self._vp8 = packet.mime_type.lower() == "video/vp8"
        if previous is None:
            ts_offset = self._first_ts_offset
        elif same_layer:
            ts_offset = previous.ts_offset  # the same clock: nothing to realign
        else:
            ts_offset = self._aligned_offset(packet, previous)
        span = Span(
            layer=packet.layer,
            segment=packet.segment,
            out_start=self._next_seq,
            in_start=rtp.sequence_number,
            seq_offset=(self._next_seq - rtp.sequence_number) & 0xFFFF,
            ts_offset=ts_offset,
        )
        if same_layer and previous is not None:
            span.picture_id_delta = previous.picture_id_delta
            span.tl0_delta = previous.tl0_delta
        elif self._vp8 and previous is not None:
            self._continue_numbering(span, previous, rtp.payload)
        self._span = span
        self._spans.append(span)
        return span

    def _continue_numbering(self, span: Span, previous: Span, first_payload: bytes) -> None:
        # The new layer's first picture follows the last one sent, whatever its own numbers.
        last = read_numbering(renumbered(previous, self._last_payload))
        first = read_numbering(first_payload)
        if last is None or first is None:
            return
        if last.picture_id is not None and first.picture_id is not None:
            span.picture_id_delta = last.picture_id + 1 - first.picture_id
        if last.tl0_pic_idx is not None and first.tl0_pic_idx is not None:
            span.tl0_delta = last.tl0_pic_idx + 1 - first.tl0_pic_idx

    def _aligned_offset(self, packet: ForwardedPacket, previous: Span) -> int:
        rtp = packet.rtp
        clock_rate = packet.clock_rate
        new_report = self._reports.get(packet.layer)
        old_report = self._reports.get(previous.layer)
        if new_report is not None and old_report is not None:
            # Both layers' clocks are known: map the new one onto the old one exactly.
            seconds = (new_report[0] - old_report[0]) / _NTP_UNITS
            old_at_new_report = old_report[1] + round(seconds * clock_rate)
            return (previous.ts_offset + old_at_new_report - new_report[1]) & 0xFFFFFFFF
        last = self._last_out_ts if self._last_out_ts is not None else self._first_ts_offset
        elapsed = max(1, round((self._clock() - self._last_out_at) * clock_rate))
        return (last + elapsed - rtp.timestamp) & 0xFFFFFFFF


def renumbered(span: Span, payload: bytes) -> bytes:
    """A payload of ``span`` in the consumer's picture numbering (VP8; others unchanged)."""
    if span.picture_id_delta or span.tl0_delta:
        return renumber(payload, span.picture_id_delta, span.tl0_delta)
    return payload

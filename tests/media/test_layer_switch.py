"""A subscriber moved between simulcast layers still sees one continuous stream."""

from __future__ import annotations

import itertools
from typing import Any

from aiortc.rtp import RtpPacket

from media.layer_switch import LayerSwitch
from media.metrics import StreamCounters
from media.published_stream import SIMULCAST_RIDS, ForwardedPacket, PublishedStream
from media.vp8_numbering import read_numbering


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Upstream:
    async def send_pli(self, media_ssrc: int) -> None: ...

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None: ...


class _Sink:
    async def deliver(self, packet: ForwardedPacket) -> None: ...

    async def deliver_sender_report(self, layer: int, ntp: int, rtp: int) -> None: ...


def vp8(picture_id: int, tl0: int, keyframe: bool) -> bytes:
    """A VP8 payload: descriptor (X, S; I with a 15-bit PictureID, L) and a frame header."""
    descriptor = bytes([0x90, 0xC0, 0x80 | (picture_id >> 8), picture_id & 0xFF, tl0])
    return descriptor + bytes([0x00 if keyframe else 0x01]) + b"\x00" * 20


class _Layer:
    """A publisher's layer: its own SSRC, sequence numbers, timestamps and picture numbers."""

    def __init__(self, index: int, seq: int, ts: int, picture_id: int) -> None:
        self.index, self.seq, self.ts, self.picture_id = index, seq, ts, picture_id

    def frame(self, *, keyframe: bool = False, packets: int = 2) -> list[ForwardedPacket]:
        out = []
        for i in range(packets):
            rtp = RtpPacket(payload_type=96, marker=int(i == packets - 1),
                            sequence_number=self.seq & 0xFFFF, timestamp=self.ts & 0xFFFFFFFF,
                            ssrc=1000 + self.index,
                            payload=vp8(self.picture_id, self.picture_id & 0xFF, keyframe))
            out.append(ForwardedPacket(rtp, "video/VP8", 90000, keyframe and i == 0, 0,
                                       self.index))
            self.seq += 1
        self.ts += 3000  # 30 fps
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        return out


def forward(switch: LayerSwitch, packets: list[ForwardedPacket]) -> list[Any]:
    return [out for out in (switch.rewrite(p) for p in packets) if out is not None]


def test_switching_layers_keeps_one_continuous_stream() -> None:
    clock = _Clock()
    stream = PublishedStream("judge", "video", counters=StreamCounters("judge", "video", "in"),
                             upstream=_Upstream(), rids=SIMULCAST_RIDS, clock=clock)
    sink = _Sink()
    switch = LayerSwitch(stream, sink, clock=clock)
    low = _Layer(0, seq=1000, ts=5_000_000, picture_id=300)
    high = _Layer(2, seq=40_000, ts=900_000_000, picture_id=32_700)

    switch.set_target(0)
    assert stream.sinks == (sink,)
    assert forward(switch, low.frame()) == []  # no keyframe yet: nothing to start from
    sent = forward(switch, low.frame(keyframe=True)) + forward(switch, low.frame())
    assert len(sent) == 4

    # Asked for the top layer: its delta frames are not forwarded, the low layer goes on.
    switch.set_target(2)
    assert switch.waiting_for_keyframe() == 2
    clock.now += 1 / 30
    assert forward(switch, high.frame()) == []
    sent += forward(switch, low.frame())
    assert len(sent) == 6
    clock.now += 1 / 30
    sent += forward(switch, high.frame(keyframe=True))
    assert switch.current == 2 and switch.waiting_for_keyframe() is None
    assert stream.sinks == (sink,) and sink in stream._sinks[2]  # the low layer is dropped
    assert forward(switch, low.frame()) == []
    clock.now += 1 / 30
    sent += forward(switch, high.frame())
    assert len(sent) == 10

    seqs = [seq for seq, _, _ in sent]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(10)]  # no gap, no jump
    # Timestamps: one frame (3000 ticks) apart across the switch, as the wall clock moved.
    frame_ts = list(dict.fromkeys(ts for _, ts, _ in sent))
    steps = [(b - a) & 0xFFFFFFFF for a, b in itertools.pairwise(frame_ts)]
    assert steps == [3000, 3000, 3000, 3000]
    # Picture numbers only move forward by one, whatever the new layer's own numbering.
    pictures = []
    for _, _, payload in sent:
        numbering = read_numbering(payload)
        assert numbering is not None and numbering.picture_id is not None
        if not pictures or pictures[-1] != numbering.picture_id:
            pictures.append(numbering.picture_id)
    assert pictures == [(pictures[0] + i) & 0x7FFF for i in range(5)]

    # A NACK for a packet sent before the switch is answered from the low layer's numbers.
    located = switch.locate(sent[3][0])
    assert located is not None and located[0].layer == 0 and located[1] == 1005
    located = switch.locate(sent[-1][0])
    assert located is not None and located[0].layer == 2 and located[1] == 40_005


def test_pausing_and_resuming_the_same_layer_keeps_its_clock() -> None:
    clock = _Clock()
    stream = PublishedStream("judge", "video", counters=StreamCounters("judge", "video", "in"),
                             upstream=_Upstream(), rids=SIMULCAST_RIDS, clock=clock)
    switch = LayerSwitch(stream, _Sink(), clock=clock)
    layer = _Layer(1, seq=100, ts=0, picture_id=10)
    switch.set_target(1)
    first = forward(switch, layer.frame(keyframe=True))
    switch.set_target(None)
    assert stream.sinks == ()
    for _ in range(30):
        layer.frame()  # a second the subscriber did not get
    switch.set_target(1)
    clock.now += 5.0  # the wall clock says nothing: the same layer's own timestamps count
    resumed = forward(switch, layer.frame(keyframe=True))
    assert resumed[0][0] == (first[-1][0] + 1) & 0xFFFF
    assert (resumed[0][1] - first[0][1]) & 0xFFFFFFFF == 31 * 3000

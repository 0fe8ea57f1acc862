"""A subscriber moved between simulcast layers still sees one continuous stream."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from media.layer_switch import LayerSwitch
from media.metrics import StreamCounters
from media.published_stream import SIMULCAST_RIDS, ForwardedPacket, PublishedStream
from media.stream_layer import FLAP_S, REPAIR_CALM_S, STEADY_S
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


def judge_camera(clock: _Clock) -> PublishedStream:
    """The judge's simulcast camera as the server receives it."""
    return PublishedStream("judge", "video", counters=StreamCounters("judge", "video", "in"),
                           upstream=_Upstream(), rids=SIMULCAST_RIDS, clock=clock)


def forward(switch: LayerSwitch, packets: list[ForwardedPacket]) -> list[Any]:
    return [out for out in (switch.rewrite(p) for p in packets) if out is not None]


def test_switching_layers_keeps_one_continuous_stream() -> None:
    clock = _Clock()
    stream = judge_camera(clock)
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
    stream = judge_camera(clock)
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


def test_padding_while_paused_takes_numbers_between_the_pauses_packets() -> None:
    clock = _Clock()
    stream = judge_camera(clock)
    switch = LayerSwitch(stream, _Sink(), clock=clock)
    layer = _Layer(0, seq=100, ts=0, picture_id=10)
    switch.set_target(0)
    first = forward(switch, layer.frame(keyframe=True)) + forward(switch, layer.frame())
    assert switch.take_padding() is None  # video flows: no padding in between
    switch.set_target(None)  # the page went to audio only; the server probes its link
    padding = [switch.take_padding() for _ in range(5)]
    assert [p[0] for p in padding if p] == [(first[-1][0] + i) & 0xFFFF for i in range(1, 6)]
    assert {p[1] for p in padding if p} == {first[-1][1]}  # the last picture's time
    # A NACK for lost padding has nothing to resend, not some packet of the layer.
    assert padding[2] is not None and switch.locate(padding[2][0]) is None
    switch.set_target(0)
    resumed = forward(switch, layer.frame(keyframe=True))
    assert padding[-1] is not None and resumed[0][0] == (padding[-1][0] + 1) & 0xFFFF
    # The picture numbers go on from the last picture sent, not from the padding.
    before, after = read_numbering(first[-1][2]), read_numbering(resumed[0][2])
    assert before is not None and after is not None and before.picture_id is not None
    assert after.picture_id == before.picture_id + 1
    located = switch.locate(resumed[0][0])
    assert located is not None and located[0].layer == 0


class _Publisher:
    """Counts the keyframe requests (PLIs) the server sends, per SSRC."""

    def __init__(self) -> None:
        self.plis: list[int] = []

    async def send_pli(self, media_ssrc: int) -> None:
        self.plis.append(media_ssrc)

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None: ...


class _Consumer:
    """A subscriber as ``Subscription`` is one: forwards what its switch lets through."""

    def __init__(self, stream: PublishedStream, clock: _Clock) -> None:
        self.switch = LayerSwitch(stream, self, clock=clock)
        self.layers: list[int] = []

    async def deliver(self, packet: ForwardedPacket) -> None:
        if self.switch.rewrite(packet) is None:
            await self.switch.missed(packet)
        else:
            self.layers.append(packet.layer)

    async def deliver_sender_report(self, layer: int, ntp: int, rtp: int) -> None: ...


def _phone_camera(publisher: _Publisher, clock: _Clock) -> PublishedStream:
    """A phone's VP8 camera in two simulcast layers."""
    stream = PublishedStream("phone", "video", counters=StreamCounters("phone", "video", "in"),
                             upstream=publisher, rids=SIMULCAST_RIDS[:2], clock=clock)
    stream.set_codec("video/VP8", 90000)
    return stream


async def test_consumers_moving_up_share_a_keyframe_and_a_newcomer_asks_at_once() -> None:
    clock = _Clock()
    publisher = _Publisher()
    stream = _phone_camera(publisher, clock)
    low, high = _Layer(0, seq=1, ts=0, picture_id=1), _Layer(1, seq=5000, ts=0, picture_id=1)

    async def second(keyframe: bool = False) -> None:
        # Fifteen frames of each layer over a second; libvpx keyframes every layer at once.
        for i in range(15):
            for layer in (low, high):
                for packet in layer.frame(keyframe=keyframe and i == 0, packets=1):
                    await stream.receive(packet.rtp, layer.index)
            clock.now += 1 / 15

    consumers = [_Consumer(stream, clock) for _ in range(3)]
    for consumer in consumers:
        consumer.switch.set_target(0)
    await second()
    assert publisher.plis == [1000]  # the newcomers' one request, shared
    await second(keyframe=True)
    assert all(c.layers and set(c.layers) == {0} for c in consumers)
    publisher.plis.clear()

    # The three move up to the top layer one after another while the low one plays on:
    # they share one keyframe request, and see the low layer until its keyframe comes.
    for consumer in consumers:
        consumer.switch.set_target(1)
        await second()
    assert publisher.plis == []  # the top layer's last keyframe was just 3 s ago
    await second()
    await second()
    assert publisher.plis == [1001]
    assert all(c.layers[-1] == 0 for c in consumers)
    await second(keyframe=True)
    assert all(c.switch.current == 1 and c.layers[-1] == 1 for c in consumers)

    # A newcomer has no picture at all: it asks at once (the keyframe just passed it by).
    newcomer = _Consumer(stream, clock)
    newcomer.switch.set_target(1)
    await second()
    assert publisher.plis == [1001, 1001]
    await second(keyframe=True)
    assert newcomer.layers and set(newcomer.layers) == {1}

    # Going down (a link that cannot carry the top layer) does not wait either.
    consumers[0].switch.set_target(0)
    await second()
    assert publisher.plis == [1001, 1001, 1000]


def test_a_layer_that_keeps_going_off_must_stay_on_longer_before_anyone_moves_up() -> None:
    clock = _Clock()
    stream = PublishedStream("phone", "video", counters=StreamCounters("phone", "video", "in"),
                             upstream=_Upstream(), rids=SIMULCAST_RIDS[:2], clock=clock)
    top = stream.layers[1]
    layer = _Layer(1, seq=1, ts=0, picture_id=1)

    def on_for(seconds: float) -> float:
        # Sends for ``seconds``; the first moment the layer counted as steady (or 0).
        steady_at = 0.0
        start = clock.now
        while clock.now - start < seconds:
            for packet in layer.frame(packets=1):
                top.store(packet.rtp, None, clock.now)
            if not steady_at and top.steady(clock.now):
                steady_at = clock.now - start
            clock.now += 0.1
        return steady_at

    assert on_for(10) == pytest.approx(STEADY_S, abs=0.15)
    clock.now += 3  # the phone's encoder turned it off
    assert on_for(15) == pytest.approx(2 * STEADY_S, abs=0.15)
    clock.now += 3
    assert on_for(25) == pytest.approx(4 * STEADY_S, abs=0.15)
    clock.now += 3
    assert 8 * STEADY_S > FLAP_S + 5
    assert on_for(FLAP_S + 5) == 0  # not steady yet when it went off again
    clock.now += 3
    # It stayed on long enough: the next time it counts as steady as soon as at first.
    assert on_for(10) == pytest.approx(STEADY_S, abs=0.15)


async def test_repairs_that_keep_coming_back_off_and_a_newcomer_is_not_held() -> None:
    # A phone's uplink loses the keyframes it sends: its subscribers' decoders keep asking.
    clock = _Clock()
    publisher = _Publisher()
    stream = _phone_camera(publisher, clock)
    low = _Layer(0, seq=1, ts=0, picture_id=1)
    asked_at = []
    for _ in range(300):  # 30 s, a keyframe arriving 0.2 s after each request
        answer = bool(asked_at) and round(clock.now - asked_at[-1], 1) == 0.2
        for packet in low.frame(keyframe=answer, packets=1):
            await stream.receive(packet.rtp, 0)
        if await stream.request_keyframe(0, repair=True):
            asked_at.append(clock.now)
        clock.now = round(clock.now + 0.1, 1)
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(asked_at)]
    assert gaps[:4] == [1.0, 2.0, 4.0, 8.0] and set(gaps[4:]) == {8.0}, gaps
    # A newcomer (nothing to show yet) is not made to wait for the repairs' spacing...
    clock.now = asked_at[-1] + 1.0
    assert await stream.request_keyframe(0)
    # ...and after REPAIR_CALM_S without a repair, repairs are answered at once again.
    clock.now += REPAIR_CALM_S
    assert await stream.request_keyframe(0, repair=True)

"""A subscriber's downlink: the estimate, and the layers it buys in order of importance."""

from __future__ import annotations

from typing import Any

from media.downlink import (
    AUDIO_ONLY_AFTER_S,
    AUDIO_ONLY_FOR_S,
    HOLD_S,
    PROBE_EVERY_S,
    PROBE_MARGIN,
    PROBE_S,
    Downlink,
)
from media.metrics import StreamCounters
from media.plane import TileView
from media.published_stream import SIMULCAST_RIDS, PublishedStream


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Upstream:
    async def send_pli(self, media_ssrc: int) -> None: ...

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None: ...


class _Subscription:
    """What the allocation reads and sets on a subscription."""

    def __init__(self, stream: PublishedStream) -> None:
        self.stream = stream
        self.kind = stream.kind
        self.layer: int | None = None  # a new subscription: nothing sent yet

    def set_layer(self, layer: int | None) -> None:
        self.layer = layer


def publisher(name: str, clock: _Clock, rates: tuple[int, ...] = (150_000, 500_000, 1_200_000),
              heights: tuple[int, ...] = (180, 360, 720)) -> _Subscription:
    """A camera sending each simulcast layer at these rates (0: the layer is off)."""
    stream = PublishedStream(name, "video", counters=StreamCounters(name, "video", "in"),
                             upstream=_Upstream(), rids=SIMULCAST_RIDS, clock=clock)
    for layer, rate, height in zip(stream.layers, rates, heights, strict=True):
        if rate:
            layer.last_arrival = clock.now
            layer._bucket_start = clock.now
            layer._rates = [rate // 8 // 2] * 4  # four half-second buckets
            layer.height = height
    return _Subscription(stream)


def microphone(name: str, clock: _Clock, rate: int = 50_000) -> _Subscription:
    stream = PublishedStream(name, "audio", counters=StreamCounters(name, "audio", "in"),
                             upstream=_Upstream(), clock=clock)
    stream.layers[0].last_arrival = clock.now
    stream.layers[0]._bucket_start = clock.now
    stream.layers[0]._rates = [rate // 8 // 2] * 4
    sub = _Subscription(stream)
    sub.layer = 0
    return sub


def refresh(clock: _Clock, *subscriptions: list[_Subscription]) -> None:
    """The publishers go on sending as the clock moves."""
    for group in subscriptions:
        for subscription in group:
            for layer in subscription.stream.layers:
                if layer.last_arrival is not None:
                    layer.last_arrival = clock.now
                    layer._bucket_start = clock.now


class _Page:
    """The downlink of one subscriber, with what it told the page."""

    def __init__(self, estimate: int) -> None:
        self.clock = _Clock()
        self.video_states: list[bool] = []
        self.reallocations = 0
        self.downlink = Downlink("phone", on_video=self.video_states.append,
                                 reallocate=self._reallocate, clock=self.clock)
        self.downlink.estimate = estimate

    def _reallocate(self) -> None:
        self.reallocations += 1

    def allocate(self, audio: list[Any], video: list[Any], speaker: str | None) -> list[Any]:
        self.downlink.allocate(audio, video, speaker)
        return [v.layer for v in video]


def test_a_wide_link_gets_every_top_layer() -> None:
    page = _Page(5_000_000)
    c = page.clock
    video = [publisher("judge", c), publisher("prosecutor", c), publisher("lawyer", c)]
    assert page.allocate([microphone("judge", c)], video, "judge") == [2, 2, 2]
    assert page.video_states == []


def test_the_speaker_comes_first_then_the_others_one_layer_at_a_time() -> None:
    page = _Page(1_300_000)
    c = page.clock
    audio = [microphone(n, c) for n in ("judge", "prosecutor", "lawyer")]
    video = [publisher("prosecutor", c), publisher("judge", c), publisher("lawyer", c)]
    # 1.3 Mbit/s - 150k audio: the judge (speaking) 1.2M would not leave the others their
    # lowest layers (2 x 150k), so the judge gets the middle one and the others the lowest.
    assert page.allocate(audio, video, "judge") == [0, 1, 0]
    # Far less: the speaker's lowest layer, then whoever fits; the rest waits paused.
    page.downlink.estimate = 400_000
    assert page.allocate(audio, video, "judge") == [None, 0, None]
    assert page.video_states == []


def test_when_not_even_the_speakers_lowest_layer_fits_the_page_gets_audio_only() -> None:
    page = _Page(180_000)
    c = page.clock
    audio = [microphone("judge", c)]
    video = [publisher("judge", c), publisher("lawyer", c)]
    # A dip is not yet audio only: the speaker keeps its lowest layer for a while...
    assert page.allocate(audio, video, "judge") == [0, None]
    assert page.video_states == [] and not page.downlink.audio_only
    # ...and if nothing fits for AUDIO_ONLY_AFTER_S, the page gets audio only.
    c.now += AUDIO_ONLY_AFTER_S
    refresh(c, audio, video)
    assert page.allocate(audio, video, "judge") == [None, None]
    assert page.video_states == [False] and page.downlink.audio_only
    # Back by itself once the estimate allows the speaker's lowest layer with a margin, and
    # not sooner than AUDIO_ONLY_FOR_S after it went (no video on and off every second).
    page.downlink.estimate = 50_000 + 200_000
    assert page.allocate(audio, video, "judge") == [None, None]
    c.now += AUDIO_ONLY_FOR_S
    refresh(c, audio, video)
    page.downlink.estimate = 50_000 + 150_000  # fits exactly: not yet (no flapping)
    assert page.allocate(audio, video, "judge") == [None, None]
    page.downlink.estimate = 50_000 + 200_000
    assert page.allocate(audio, video, "judge") == [0, None]
    assert page.video_states == [False, True] and not page.downlink.audio_only


def test_tiles_get_no_more_than_they_show_and_hidden_pages_nothing() -> None:
    page = _Page(10_000_000)
    c = page.clock
    judge, lawyer, witness = publisher("judge", c), publisher("lawyer", c), publisher("witness", c)
    page.downlink.set_view({
        "judge": TileView(True, 640, 360),  # the middle layer fills it
        "lawyer": TileView(True, 160, 90),
        "witness": TileView(False, 0, 0),  # scrolled away
    }, hidden=False)
    assert page.allocate([], [judge, lawyer, witness], "judge") == [1, 0, None]
    page.downlink.set_view({}, hidden=True)  # the phone's screen is off
    assert page.allocate([], [judge, lawyer, witness], "judge") == [None, None, None]
    assert page.video_states == []  # not for lack of downlink: no audio-only notice


def test_a_publisher_without_the_top_layer_is_sent_what_it_has() -> None:
    page = _Page(3_000_000)
    phone = publisher("phone", page.clock, rates=(120_000, 300_000, 0))
    assert page.allocate([], [phone], "phone") == [1]


def test_a_falling_remb_below_the_video_sent_is_congestion_a_trailing_one_is_not() -> None:
    page = _Page(2_000_000)
    link = page.downlink
    c = page.clock
    link.update(0, 0, None)
    c.now += 1
    link.update(1_000_000 // 8, 800_000 // 8, None)  # 1 Mbit/s sent, 800k of it video
    link.estimate = 2_000_000
    link.remb(600_000)  # trails the rate just raised: the receiver's estimate only climbs
    link.remb(700_000)
    assert link.estimate == 2_000_000 and page.reallocations == 0
    link.remb(500_000)  # fell, below the video sent: the receiver's queue grows
    # Down to the REMB and the audio (700k), but at most halved at once.
    assert link.estimate == 1_000_000 and page.reallocations == 1
    link.remb(400_000)  # the next fall within a second: that back-off has not shown yet
    assert link.estimate == 1_000_000
    c.now += 1.1
    link.remb(350_000)
    assert link.estimate == 350_000 + 200_000 and page.reallocations == 2
    # While the receiver's estimate stays low, the rate does not climb past it...
    c.now += 1
    link.update(2 * 1_000_000 // 8, 2 * 800_000 // 8, 0.0)
    assert link.estimate == 550_000
    # ...once it recovers, it comes back carefully: additively during the hold, faster after.
    link.remb(900_000)
    c.now += 1
    link.update(3 * 1_000_000 // 8, 3 * 800_000 // 8, 0.0)
    assert 550_000 < link.estimate <= 550_000 + 80_000
    c.now += HOLD_S
    before = link.estimate
    link.remb(1_200_000)
    link.update(4 * 1_000_000 // 8, 4 * 800_000 // 8, 0.0)
    assert link.estimate > 1.2 * before


def test_downlink_loss_lowers_the_estimate_and_some_loss_holds_it() -> None:
    page = _Page(1_000_000)
    link = page.downlink
    c = page.clock
    link.update(0, 0, None)
    c.now += 1
    link.update(900_000 // 8, 700_000 // 8, 0.40, delivered=0.75)
    assert link.estimate == 675_000  # a quarter of 900 kbit/s lost: what arrived is left
    c.now += 1
    link.update(2 * 900_000 // 8, 2 * 700_000 // 8, 0.07)
    assert link.estimate == 675_000  # some loss: no growth
    c.now += 1
    link.update(3 * 900_000 // 8, 3 * 700_000 // 8, 0.20, delivered=0.9)
    assert link.estimate == 607_500  # 20 % loss: 10 % of the estimate goes (GCC's rule)


def test_retransmissions_spend_from_the_headroom_only() -> None:
    page = _Page(1_000_000)
    link = page.downlink
    c = page.clock
    link.update(0, 0, None)
    c.now += 1
    link.update(1_000_000 // 8, 800_000 // 8, None)  # the link is full
    link.estimate = 1_000_000
    c.now += 1
    # 10 % of the estimate is kept for repairs: 100 kbit/s, a burst of half a second.
    allowed = sum(link.allow_resend(1200) for _ in range(100))
    assert 4 <= allowed <= 6
    assert not link.allow_resend(1200)


def test_a_page_on_audio_only_probes_its_link_before_video_comes_back() -> None:
    page = _Page(180_000)
    link, c = page.downlink, page.clock
    audio = [microphone("judge", c)]
    video = [publisher("judge", c)]
    link.update(0, 0, None)
    page.allocate(audio, video, "judge")
    c.now += AUDIO_ONLY_AFTER_S
    refresh(c, audio, video)
    page.allocate(audio, video, "judge")
    assert link.audio_only and link.probe_bps == 0

    sent = [0]  # the judge's audio goes on: 50 kbit/s

    def second(report: tuple[int, int] | None = None) -> None:
        c.now += 1
        refresh(c, audio, video)
        if report is not None:
            link.probe_report(*report)
        sent[0] += 50_000 // 8
        link.update(sent[0], 0, None)
        page.allocate(audio, video, "judge")

    # After the hold, padding at a margin over what the speaker's lowest layer costs.
    while link.probe_bps == 0:
        assert c.now < 1030, "no probe"
        second()
    # (What the smoothed audio rate has not caught up with yet counts as audio held back.)
    assert PROBE_MARGIN * 150_000 <= link.probe_bps < PROBE_MARGIN * 150_000 + 10_000
    hold = link._hold_s
    # The receiver lost a fifth of the padding: the link cannot carry video. The page stays
    # on audio only, and the next probe waits twice as long.
    second((10, 50))
    assert link.probe_bps == 0 and link.probes_failed == 1
    assert link.audio_only and page.video_states == [False] and link.estimate == 180_000
    assert link._hold_s == 2 * hold
    probed_at = c.now
    while link.probe_bps == 0:
        second()
    assert c.now - probed_at >= 2 * hold
    # This time the padding arrives but for 6 % (random loss on a radio link, not a link too
    # narrow): the estimate makes room for the speaker's lowest layer, and video is back.
    for _ in range(int(PROBE_S)):
        second((3, 50))
    assert not link.audio_only and page.video_states == [False, True]
    assert link.estimate >= 50_000 + PROBE_MARGIN * 150_000
    assert [v.layer for v in video] == [0]


def test_a_page_that_wants_a_layer_the_estimate_cannot_buy_probes_for_it() -> None:
    page = _Page(900_000)
    link, c = page.downlink, page.clock
    audio = [microphone("judge", c)]
    video = [publisher("judge", c)]
    # The judge's tile is big: the top layer (1.2 Mbit/s) is wanted, the middle one given.
    page.allocate(audio, video, "judge")
    assert [v.layer for v in video] == [1] and link.probe_bps == 0
    sent = [0]

    def second(report: tuple[int, int] | None = None) -> None:
        c.now += 1
        refresh(c, audio, video)
        if report is not None:
            link.probe_report(*report)
        sent[0] += 550_000 // 8  # the middle layer and the audio
        # (The receiver's estimate trails at 1.5 times what arrives: no growth past it.)
        link.remb(600_000)
        link.update(sent[0], 500_000 // 8, 0.0)
        page.allocate(audio, video, "judge")

    second()
    # Padding for what the top layer costs more, with the margin.
    assert link.probe_bps == int(PROBE_MARGIN * (1_200_000 - 500_000))
    # The receiver lost a fifth of it: no top layer, and the next probe waits longer.
    second((10, 50))
    assert link.probe_bps == 0 and [v.layer for v in video] == [1]
    failed_at, waits = c.now, []
    for _ in range(2):
        while link.probe_bps == 0:
            second()
        waits.append(c.now - failed_at)
        second((10, 50))
        failed_at = c.now
    assert waits[1] > waits[0] >= PROBE_EVERY_S
    # The link got better: the padding arrives, the estimate buys the top layer.
    while link.probe_bps == 0:
        second()
    for _ in range(int(PROBE_S)):
        second((0, 50))
    assert [v.layer for v in video] == [2] and link.probe_bps == 0


def test_a_flooded_link_comes_down_to_what_arrives_in_two_steps() -> None:
    # A phone on a 300 kbit/s link sent 1.5 Mbit/s at the start: four fifths are lost.
    page = _Page(1_500_000)
    link = page.downlink
    c = page.clock
    link.update(0, 0, None)
    c.now += 1
    link.update(1_500_000 // 8, 1_300_000 // 8, 0.85, delivered=0.2)
    assert link.estimate == 375_000  # a quarter at once at most
    c.now += 0.5
    link.update(1_500_000 // 8 + 200_000 // 8, 1_300_000 // 8, 0.5, delivered=0.5)
    assert link.estimate == 375_000  # one back-off a second
    c.now += 0.5
    link.update(1_500_000 // 8 + 400_000 // 8, 1_300_000 // 8, 0.3, delivered=0.75)
    assert link.estimate < 375_000  # a second later: down again, still losing


def test_on_audio_only_the_estimate_is_not_lowered_by_the_video_queued_before() -> None:
    page = _Page(150_000)
    link, c = page.downlink, page.clock
    audio = [microphone(name, c) for name in ("judge", "lawyer")]
    video = [publisher(name, c) for name in ("judge", "lawyer")]
    for _ in range(3):
        refresh(c, audio, video)
        page.allocate(audio, video, "judge")
        c.now += 1
    assert link.audio_only
    link.update(0, 0, None)
    before = link.estimate
    c.now += 1
    link.update(200_000 // 8, 100_000 // 8, 0.5, delivered=0.5)  # the queue drains
    assert link.estimate == before

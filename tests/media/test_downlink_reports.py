"""Which of a page's receiver reports say something about its own downlink, and how often."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc.rtp import RtpPacket

from media.downlink_reports import downlink_losses, reported_within
from media.metrics import StreamCounters
from media.plane import LinkQuality
from media.published_stream import PublishedStream
from media.rtp_stats import ReceptionStatistics


class _Upstream:
    async def send_pli(self, media_ssrc: int) -> None: ...

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None: ...


@dataclass
class _Switch:
    current: int | None = 0


@dataclass
class _Subscription:
    """What ``downlink_losses`` reads of a subscription."""

    stream: PublishedStream
    quality: LinkQuality = field(default_factory=LinkQuality)
    switch: _Switch = field(default_factory=_Switch)
    forwarding: bool = True


def microphone(name: str, uplink_losses: list[bool], now: float) -> _Subscription:
    """An audio stream as the server received it, one second per entry of
    ``uplink_losses`` (True: that second lost a packet on the publisher's uplink), ending
    at ``now``."""
    stream = PublishedStream(name, "audio", counters=StreamCounters(name, "audio", "in"),
                             upstream=_Upstream())
    statistics = ReceptionStatistics(48000)
    stream.layers[0].statistics = statistics
    seq = 0
    t = now - len(uplink_losses)
    statistics.recent_fraction_lost(t)
    for lost in uplink_losses:
        for i in range(50):  # 50 packets a second; a lost one is never repaired (audio)
            if not (lost and i == 10):
                statistics.add(RtpPacket(payload_type=111, sequence_number=seq,
                                         timestamp=seq * 960, ssrc=1))
            seq += 1
        t += 1
        statistics.recent_fraction_lost(t)
    return _Subscription(stream)


def test_each_report_counts_once_for_the_estimate_and_stays_for_the_badge() -> None:
    now = 1000.0
    judge = microphone("judge", [False] * 8, now)
    # Chromium reports on audio every ~5 s: 20 % lost, half a second ago.
    judge.quality = LinkQuality(fraction_lost=0.2, reported_at=now - 0.5)
    fresh = reported_within(downlink_losses([judge], now), 1.0)  # type: ignore[list-item]
    assert [stream.loss for stream in fresh] == [0.2]
    # A second later the estimate hears nothing new (the same loss again would cut it
    # twice); the host's badge still shows the last report.
    assert reported_within(downlink_losses([judge], now + 1.0), 1.0) == []  # type: ignore[list-item]
    badge = downlink_losses([judge], now + 1.0)  # type: ignore[list-item]
    assert [stream.loss for stream in badge] == [0.2]


def test_a_phones_uplink_loss_is_not_the_loss_of_the_pages_that_hear_it() -> None:
    now = 1000.0
    # The phone's audio lost packets on its uplink four seconds ago (audio is not repaired);
    # the judge's report, covering five seconds, tells that loss back to the server.
    phone = microphone("phone", [False, False, False, True, False, False, False, False], now)
    phone.quality = LinkQuality(fraction_lost=0.02, reported_at=now)
    assert downlink_losses([phone], now) == []  # type: ignore[list-item]
    # A stream that reached the server whole does speak for the judge's downlink.
    judge = microphone("judge", [False] * 8, now)
    judge.quality = LinkQuality(fraction_lost=0.02, reported_at=now)
    assert len(downlink_losses([judge, phone], now)) == 1  # type: ignore[list-item]


def test_a_stream_younger_than_a_second_is_whole_only_if_nothing_was_lost() -> None:
    now = 1000.0
    # The phone's first second: its encoder starts high, its 100 kbit/s uplink drops some.
    phone = microphone("phone", [], now)
    statistics = phone.stream.layers[0].statistics
    assert statistics is not None
    for seq in range(20):
        if seq % 5:
            statistics.add(RtpPacket(payload_type=111, sequence_number=seq,
                                     timestamp=seq * 960, ssrc=1))
    phone.quality = LinkQuality(fraction_lost=0.2, reported_at=now)
    assert downlink_losses([phone], now + 0.5) == []  # type: ignore[list-item]

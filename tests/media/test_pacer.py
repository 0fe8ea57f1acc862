"""A subscriber's video leaves at the pace its link takes; audio never waits for it."""

from __future__ import annotations

import asyncio

from media.pacer import MAX_DELAY_S, PACING_FACTOR, Pacer
from media.rtp_packets import restamp_send_time
from tests.fixtures.polling import eventually


class _Link:
    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    def send_rtp(self, data: bytes) -> bool:
        self.sent.append((asyncio.get_running_loop().time(), data))
        return True


async def test_a_keyframe_burst_is_spread_at_the_pace_and_kept_in_order() -> None:
    pacer = Pacer(400_000)  # 400 kbit/s: 75 kB/s at the pacing factor
    link = _Link()
    try:
        burst = [bytes([i]) * 1200 for i in range(30)]  # a 36 kB keyframe
        for packet in burst:
            pacer.send(link, packet, None)
        assert 0 < len(link.sent) < 5  # what the budget held went at once
        await eventually(lambda: len(link.sent) == 30, what="the whole keyframe sent")
        assert [data for _, data in link.sent] == burst
        took = link.sent[-1][0] - link.sent[0][0]
        expected = (36_000 - 2400) / (400_000 * PACING_FACTOR / 8)
        assert took >= 0.8 * expected  # spread, not one burst
    finally:
        pacer.close()


async def test_video_that_waited_too_long_is_dropped_and_late_packets_are_restamped() -> None:
    pacer = Pacer(50_000)  # far too slow for what is sent
    link = _Link()
    try:
        header = bytearray(1000)
        for _ in range(40):
            pacer.send(link, bytes(header), 20)
        await eventually(lambda: pacer.queued == 0, timeout=MAX_DELAY_S * 4,
                         what="the queue to empty")
        assert pacer.dropped > 0 and len(link.sent) + pacer.dropped == 40
        # The late ones carry the time they were really sent, not a stale one.
        assert any(data[20:23] != b"\x00\x00\x00" for _, data in link.sent[1:])
    finally:
        pacer.close()


def test_restamping_changes_only_the_send_time() -> None:
    data = bytes(range(30))
    stamped = restamp_send_time(data, 10)
    assert stamped[:10] == data[:10] and stamped[13:] == data[13:] and len(stamped) == 30

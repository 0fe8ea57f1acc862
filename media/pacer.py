"""Pacing one subscriber's video, so a keyframe is not one burst into a phone's small queue.

A phone's link queues a few hundred milliseconds at most (a 600 kbit/s link: about 15 kB);
a keyframe of even the smallest layer is bigger, and sent in one go it overflows the queue
and is lost, which freezes the picture until the next keyframe, which overflows it again.
The pacer lets video out at ``PACING_FACTOR`` times the subscriber's estimate: what fits the
current budget goes at once (a subscriber with room never waits, and pays one token check
per packet), the rest waits its turn in order. Audio never waits here: it is sent directly.
Video that waited more than ``MAX_DELAY_S`` is dropped (the allocation is lowering the rate
by then); a packet sent late gets its abs-send-time set again, so the receiver's estimator
sees the link's queue, not ours.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .rtp_packets import restamp_send_time

PACING_FACTOR = 1.5
MAX_DELAY_S = 0.5
# The budget holds this long a burst (and at least two full packets).
BURST_S = 0.02
_MIN_BURST = 2400
_MIN_WAIT_S = 0.002


class RtpOut(Protocol):
    """Where a paced packet finally goes (``aiortc_seam.Transport``)."""

    def send_rtp(self, data: bytes) -> bool:
        """Protect and send one serialized RTP packet now."""


class Pacer:
    """The video pacer of one subscriber's connection; owned by it (``close``)."""

    def __init__(self, bitrate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rate = 0.0  # bytes per second
        self._burst = float(_MIN_BURST)
        self._tokens = float(_MIN_BURST)
        self._last = clock()
        self._queue: deque[tuple[RtpOut, bytes, int | None, float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.dropped = 0
        self.set_bitrate(bitrate)

    def set_bitrate(self, bitrate: int) -> None:
        """The subscriber's estimate (bit/s): video goes out at ``PACING_FACTOR`` times it."""
        self._rate = bitrate * PACING_FACTOR / 8
        self._burst = max(float(_MIN_BURST), self._rate * BURST_S)

    @property
    def queued(self) -> int:
        """Packets waiting."""
        return len(self._queue)

    def send(self, out: RtpOut, data: bytes, send_time_at: int | None) -> None:
        """Send ``data`` now if the budget has room and nothing waits, else in its turn."""
        now = self._clock()
        self._refill(now)
        size = len(data)
        if not self._queue and self._tokens >= size:
            self._tokens -= size
            out.send_rtp(data)
            return
        self._queue.append((out, data, send_time_at, now))
        self._schedule(size)

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + self._rate * (now - self._last))
        self._last = now

    def _schedule(self, size: int) -> None:
        if self._timer is not None or not self._queue:
            return
        wait = max(_MIN_WAIT_S, (size - self._tokens) / self._rate if self._rate else 0.05)
        self._timer = asyncio.get_running_loop().call_later(wait, self._drain)

    def _drain(self) -> None:
        self._timer = None
        now = self._clock()
        self._refill(now)
        queue = self._queue
        while queue:
            out, data, send_time_at, queued_at = queue[0]
            if now - queued_at > MAX_DELAY_S:
                queue.popleft()
                self.dropped += 1
                continue
            if self._tokens < len(data):
                break
            queue.popleft()
            self._tokens -= len(data)
            out.send_rtp(data if send_time_at is None else restamp_send_time(data, send_time_at))
        if queue:
            self._schedule(len(queue[0][1]))

    def close(self) -> None:
        """Drop what waits and stop; idempotent."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()

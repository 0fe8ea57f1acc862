"""What a subscriber's receiver reports say about its own downlink.

A subscriber's RTCP receiver reports count loss per stream, but a stream that was already
damaged on the way in (a phone's lossy uplink) shows the same holes to every subscriber:
only streams that reached the server whole say anything about this subscriber's link.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from .published_stream import PublishedStream
from .rtp_stats import KEPT_LOSS_WINDOWS
from .subscription import Subscription

# A stream the server itself received with less loss than this counts as whole.
WHOLE_BELOW = 0.01
# How long a receiver's report still speaks for its link: Chromium reports on audio about
# every 5 s.
REPORT_COVERS_S = 5.0


class StreamLoss(NamedTuple):
    """What a subscriber's last report on one stream it gets says."""

    loss: float  # the share it reported lost
    rate: float  # bit/s forwarded on that stream now
    age: float  # seconds since the report came (infinite: none yet)


def downlink_losses(subscriptions: Iterable[Subscription], now: float) -> list[StreamLoss]:
    """The last report on each stream the subscriber gets that reached the server whole."""
    return [
        StreamLoss(s.quality.fraction_lost, float(s.stream.layers[s.switch.current].bitrate(now)),
                   math.inf if s.quality.reported_at is None else now - s.quality.reported_at)
        for s in subscriptions
        if s.forwarding and s.switch.current is not None and arrives_whole(s.stream, now)
    ]


def reported_within(losses: list[StreamLoss], seconds: float) -> list[StreamLoss]:
    """Those of ``losses`` reported in the last ``seconds``.

    The estimate takes each report once (``seconds`` its own period): a report covers its
    own interval (about 5 s for Chromium's audio), and read again every second the same
    loss would cut the estimate again and again.
    """
    return [stream for stream in losses if stream.age <= seconds]


def worst_loss(losses: list[StreamLoss]) -> float | None:
    """The worst stream's loss (None: nothing to judge by)."""
    return max((stream.loss for stream in losses), default=None)


def delivered_share(losses: list[StreamLoss]) -> float | None:
    """The share of what is forwarded that arrives, each stream's loss weighted by its rate:
    the worst stream's loss would say a queue that drops some packets of every stream lost
    as much of all of them."""
    total = sum(stream.rate for stream in losses)
    if not total:
        return None
    return 1 - sum(stream.loss * stream.rate for stream in losses) / total


def arrives_whole(stream: PublishedStream, now: float) -> bool:
    """Whether the server received every layer of ``stream`` (nearly) whole over the span a
    subscriber's report may cover: Chromium reports on audio every ~5 s, and a phone's
    audio lost on its uplink (audio is not repaired) must not read as the loss of every
    healthy page that hears it."""
    return all(
        layer.statistics is None
        or layer.statistics.recent_fraction_lost(now, windows=KEPT_LOSS_WINDOWS) < WHOLE_BELOW
        for layer in stream.layers
    )

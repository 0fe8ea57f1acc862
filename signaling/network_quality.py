"""Network quality of each participant's link, for the judge's indicator and the record.

Two sources meet here: the page's own ``getStats`` figures (sent as ``quality`` messages)
and the server's RTCP view of the same connection (``media.ParticipantQuality``).
The worse of the two counts. A level (good / fair / poor) is shown next to each name; the
numbers go to hosts only. The timeline gets a sample when the level changes and at most
every ``AUDIT_EVERY_S`` seconds otherwise, never every message, so a court can later show
who could hear and see without the record drowning in samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from media import ParticipantQuality

# A page reports every few seconds; closer reports are ignored (rate limit).
MIN_REPORT_INTERVAL_S = 2.0
AUDIT_EVERY_S = 30.0
# Thresholds for speech and video in a hearing: above ~3% loss or ~300 ms RTT people
# notice; above ~10% loss or ~600 ms RTT they talk over each other or miss words.
FAIR_LOSS_PCT, POOR_LOSS_PCT = 3.0, 10.0
FAIR_RTT_MS, POOR_RTT_MS = 300.0, 600.0


class QualityLevel(StrEnum):
    """What the judge sees next to a name."""

    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


@dataclass(frozen=True)
class LinkSample:
    """One measurement of a participant's link (page and server figures combined)."""

    loss_pct: float
    rtt_ms: float
    down_kbps: float
    up_kbps: float
    server_loss_pct: float | None = None
    server_rtt_ms: float | None = None

    @property
    def level(self) -> QualityLevel:
        """The level, from the worse of the page's and the server's loss and RTT."""
        loss = max(self.loss_pct, self.server_loss_pct or 0.0)
        rtt = max(self.rtt_ms, self.server_rtt_ms or 0.0)
        if loss >= POOR_LOSS_PCT or rtt >= POOR_RTT_MS:
            return QualityLevel.POOR
        if loss >= FAIR_LOSS_PCT or rtt >= FAIR_RTT_MS:
            return QualityLevel.FAIR
        return QualityLevel.GOOD

    def to_json(self) -> dict[str, Any]:
        """The numbers as hosts see them (and the timeline keeps them)."""
        data: dict[str, Any] = {
            "loss_pct": round(self.loss_pct, 1),
            "rtt_ms": round(self.rtt_ms),
            "down_kbps": round(self.down_kbps),
            "up_kbps": round(self.up_kbps),
        }
        if self.server_loss_pct is not None:
            data["server_loss_pct"] = round(self.server_loss_pct, 1)
        if self.server_rtt_ms is not None:
            data["server_rtt_ms"] = round(self.server_rtt_ms)
        return data


@dataclass(frozen=True)
class QualityUpdate:
    """What an accepted report changes: the level others see, and whether to record it."""

    sample: LinkSample
    level_changed: bool
    record: bool


@dataclass
class _Link:
    sample: LinkSample
    reported_at: float
    recorded_at: float
    recorded_level: QualityLevel


class NetworkQuality:
    """The latest link sample of each participant of one hearing."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._links: dict[str, _Link] = {}

    def report(self, participant_id: str, sample: LinkSample) -> QualityUpdate | None:
        """Take a sample; None when it came too soon after the last one (ignored)."""
        now = self._monotonic()
        link = self._links.get(participant_id)
        if link is None:
            self._links[participant_id] = _Link(sample, now, now, sample.level)
            return QualityUpdate(sample, level_changed=True, record=True)
        if now - link.reported_at < MIN_REPORT_INTERVAL_S:
            return None
        changed = sample.level is not link.sample.level
        record = sample.level is not link.recorded_level or now - link.recorded_at >= AUDIT_EVERY_S
        link.sample = sample
        link.reported_at = now
        if record:
            link.recorded_at = now
            link.recorded_level = sample.level
        return QualityUpdate(sample, level_changed=changed, record=record)

    def level(self, participant_id: str) -> QualityLevel | None:
        """The participant's last level, or None before any report."""
        link = self._links.get(participant_id)
        return None if link is None else link.sample.level

    def sample(self, participant_id: str) -> LinkSample | None:
        """The participant's last sample."""
        link = self._links.get(participant_id)
        return None if link is None else link.sample

    def forget(self, participant_id: str) -> None:
        """The participant's connection is gone: its figures no longer describe anything."""
        self._links.pop(participant_id, None)


def link_sample(figures: dict[str, float], quality: ParticipantQuality | None) -> LinkSample:
    """The page's own figures with the server's view of its downlink (None: no media yet)."""
    server_loss, server_rtt = (None, None) if quality is None else _server_view(quality)
    return LinkSample(
        figures["loss_pct"], figures["rtt_ms"], figures["down_kbps"], figures["up_kbps"],
        server_loss, server_rtt,
    )


def _server_view(quality: ParticipantQuality) -> tuple[float | None, float | None]:
    # (loss %, RTT ms) of the downlink from the server's RTCP receiver reports; the worst
    # stream counts.
    losses = [q.fraction_lost * 100 for q in quality.receiving.values()]
    rtts = [
        q.round_trip_seconds * 1000
        for q in quality.receiving.values()
        if q.round_trip_seconds is not None
    ]
    return (max(losses) if losses else None, max(rtts) if rtts else None)

"""Network quality of each participant's link, for the judge's indicator and the record.

Two sources meet here: the page's own ``getStats`` figures (sent as ``quality`` messages)
and the server's view of the same connection (``media.ParticipantQuality``), which tells the
two directions apart: the downlink by the loss the page's receiver reports on streams that
reached the server whole (a damaged publisher uplink shows the same holes to every page and
must not make healthy links look poor) and by whether it can carry video at all; the uplink
by what the server lost of the participant's own streams before any repair. Each direction
gets a level (good / fair / poor); the worse is shown next to each name, with the direction
that is poor; the numbers go to hosts only. The timeline gets a sample when the level changes
and at most every ``AUDIT_EVERY_S`` seconds otherwise, never every message, so a court can
later show who could hear and see without the record drowning in samples.
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


def _level(loss_pct: float, rtt_ms: float) -> QualityLevel:
    if loss_pct >= POOR_LOSS_PCT or rtt_ms >= POOR_RTT_MS:
        return QualityLevel.POOR
    if loss_pct >= FAIR_LOSS_PCT or rtt_ms >= FAIR_RTT_MS:
        return QualityLevel.FAIR
    return QualityLevel.GOOD


_ORDER = (QualityLevel.GOOD, QualityLevel.FAIR, QualityLevel.POOR)


@dataclass(frozen=True)
class LinkSample:
    """One measurement of a participant's link (page and server figures combined)."""

    loss_pct: float
    rtt_ms: float
    down_kbps: float
    up_kbps: float
    # The server's view of the downlink (loss on streams that reached it whole) and RTT.
    server_loss_pct: float | None = None
    server_rtt_ms: float | None = None
    up_loss_pct: float | None = None
    down_estimate_kbps: float | None = None
    downlink_audio_only: bool = False

    @property
    def down_level(self) -> QualityLevel:
        """The downlink: the server's figure where it has one (the page's own loss counts
        every publisher's uplink damage too), and the RTT; audio only means poor."""
        if self.downlink_audio_only:
            return QualityLevel.POOR
        loss = self.loss_pct if self.server_loss_pct is None else self.server_loss_pct
        return _level(loss, max(self.rtt_ms, self.server_rtt_ms or 0.0))

    @property
    def up_level(self) -> QualityLevel:
        """The uplink: what the server lost of the participant's streams, and the RTT."""
        return _level(self.up_loss_pct or 0.0, max(self.rtt_ms, self.server_rtt_ms or 0.0))

    @property
    def level(self) -> QualityLevel:
        """The worse of the two directions."""
        return max(self.down_level, self.up_level, key=_ORDER.index)

    @property
    def direction(self) -> str | None:
        """Which direction is not good: ``down``, ``up``, ``both`` or None."""
        down = self.down_level is not QualityLevel.GOOD
        up = self.up_level is not QualityLevel.GOOD
        if down and up:
            return "both"
        return "down" if down else "up" if up else None

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
        if self.up_loss_pct is not None:
            data["up_loss_pct"] = round(self.up_loss_pct, 1)
        if self.down_estimate_kbps is not None:
            data["down_estimate_kbps"] = round(self.down_estimate_kbps)
        if self.direction is not None:
            data["direction"] = self.direction
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
    """The page's own figures with the server's view of its link (None: no media yet)."""
    page = (figures["loss_pct"], figures["rtt_ms"], figures["down_kbps"], figures["up_kbps"])
    if quality is None:
        return LinkSample(*page)
    rtts = [q.round_trip_seconds * 1000 for q in quality.receiving.values()
            if q.round_trip_seconds is not None]
    return LinkSample(
        *page,
        server_loss_pct=None if quality.downlink_loss is None else quality.downlink_loss * 100,
        server_rtt_ms=max(rtts) if rtts else None,
        up_loss_pct=None if quality.uplink_loss is None else quality.uplink_loss * 100,
        down_estimate_kbps=None if quality.downlink_estimate_bps is None
        else quality.downlink_estimate_bps / 1000,
        downlink_audio_only=quality.downlink_audio_only,
    )

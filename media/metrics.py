"""Per-stream media counters and their Prometheus text rendering.

Counters are grouped by (participant, kind, direction): ``in`` is what a participant
publishes to the server, ``out`` is what the server forwards to that participant (summed
over every stream it receives, so the series stays monotonic when others leave).
Labels carry only hearing and participant ids, never tokens or names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["in", "out"]


@dataclass
class StreamCounters:
    """Monotonic counters of one participant's media in one direction."""

    participant_id: str
    kind: str
    direction: Direction
    packets: int = 0
    bytes: int = 0
    nacks_received: int = 0
    nacks_sent: int = 0
    plis_received: int = 0
    plis_sent: int = 0
    packets_lost: int = 0
    retransmissions: int = 0
    packets_dropped: int = 0
    padding_bytes: int = 0


@dataclass(frozen=True)
class HearingMetrics:
    """A snapshot of a hearing's media counters, as returned by ``HearingMedia.metrics()``."""

    hearing_id: str
    streams: tuple[StreamCounters, ...] = field(default_factory=tuple)


_COUNTERS: tuple[tuple[str, str], ...] = (
    ("packets", "RTP packets forwarded through the SFU"),
    ("bytes", "RTP payload bytes forwarded through the SFU"),
    ("nacks_received", "RTCP NACK feedback messages received"),
    ("nacks_sent", "RTCP NACK feedback messages sent"),
    ("plis_received", "RTCP PLI/FIR keyframe requests received"),
    ("plis_sent", "RTCP PLI keyframe requests sent"),
    ("packets_lost", "RTP packets lost, as counted by the receiving side"),
    ("retransmissions", "RTP packets retransmitted from the packet cache"),
    ("packets_dropped", "RTP packets received beyond the hearing's limits (video bitrate "
     "ceiling, picture size) and not forwarded"),
    ("padding_bytes", "Padding bytes sent to probe a subscriber's downlink (before its video "
     "comes back, or before it is sent a higher layer)"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_prometheus(hearings: Iterable[HearingMetrics], *, prefix: str = "qashyq_media") -> str:
    """Render media counters in the Prometheus text exposition format (version 0.0.4)."""
    snapshots = list(hearings)
    lines: list[str] = []
    for name, help_text in _COUNTERS:
        metric = f"{prefix}_{name}_total"
        lines.append(f"# HELP {metric} {help_text}.")
        lines.append(f"# TYPE {metric} counter")
        for hearing in snapshots:
            for stream in hearing.streams:
                labels = (
                    f'hearing="{_label(hearing.hearing_id)}",'
                    f'participant="{_label(stream.participant_id)}",'
                    f'kind="{_label(stream.kind)}",direction="{stream.direction}"'
                )
                lines.append(f"{metric}{{{labels}}} {getattr(stream, name)}")
    return "\n".join(lines) + "\n"

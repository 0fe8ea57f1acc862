"""One system under a stepped load: join hearings in batches, measure a window at each step."""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from dataclasses import dataclass
from typing import Any, Protocol

from .load import LoadStats, ParticipantStats
from .media_files import EncodedMedia
from .proc_stats import sample

_MB = 1024 * 1024


@dataclass(frozen=True)
class LoadParams:
    """The load: hearings x participants per hearing, window length, video bitrate."""

    hearings: int
    participants: int
    duration_s: float
    bitrate: int
    audio_bitrate: int = 32000

    def __post_init__(self) -> None:
        if self.hearings < 1 or self.participants < 2:
            raise ValueError("hearings must be >= 1 and participants >= 2")
        if not 1 <= self.duration_s <= 3600:
            raise ValueError("duration must be 1..3600 s")
        if not 50_000 <= self.bitrate <= 10_000_000:
            raise ValueError("bitrate must be 50000..10000000 bit/s")

    def levels(self) -> list[int]:
        """Hearing counts to measure at: a few steps up to ``hearings``."""
        return sorted({max(1, self.hearings // 4), max(1, self.hearings // 2), self.hearings})


class System(Protocol):
    """A server under test, driven by the load."""

    name: str

    @property
    def pid(self) -> int: ...

    async def start(self) -> None: ...

    async def join(
        self, hearings: int, participants: int, stats: LoadStats, media: dict[str, EncodedMedia]
    ) -> None: ...

    def failures(self) -> list[BaseException]: ...

    async def close(self) -> None: ...


def percentile(values: array[float] | list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank); NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _receiving_all(participant: ParticipantStats, sources: int) -> bool:
    # Every other publisher's audio and video flows: renegotiations are over, so they cannot
    # disturb the measurement window.
    flowing = {(s.publisher, s.kind) for s in participant.streams if s.packets}
    return participant.first_keyframe is not None and len(flowing) >= sources


async def _wait_joined(
    system: System, stats: LoadStats, names: list[str], sources: int, timeout: float
) -> None:
    # Bounded poll: some participants may never get media; the figures then show it.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if system.failures():
            raise RuntimeError(f"{system.name}: a participant failed: {system.failures()[0]!r}")
        if all(_receiving_all(stats.participant(n), sources) for n in names):
            return
        await asyncio.sleep(0.05)


async def _loop_lag(lags: list[float], until: float) -> None:
    # The load's own event-loop delay: arrival times are taken on this loop, so a stall here
    # shows up as latency of whichever server is measured. Bounded by ``until``.
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        before = loop.time()
        await asyncio.sleep(0.01)
        lags.append((loop.time() - before - 0.01) * 1000)


def _join_ms(stats: LoadStats, attr: str) -> list[float]:
    out = []
    for participant in stats.participants.values():
        start, reached = participant.signaling_start, getattr(participant, attr)
        if start is not None and reached is not None:
            out.append((reached - start) * 1000)
    return out


async def measure(
    system: System, params: LoadParams, media: dict[str, EncodedMedia], *, settle_s: float = 1.0
) -> dict[str, Any]:
    """Run the stepped load against a started ``system``; the figures of every step."""
    stats = LoadStats()
    await asyncio.sleep(settle_s)
    idle = sample(system.pid)
    steps: list[dict[str, Any]] = []
    joined_hearings = 0
    for level in params.levels():
        batch = level - joined_hearings
        before = set(stats.participants)
        await system.join(batch, params.participants, stats, media)
        joined_hearings = level
        new = [n for n in stats.participants if n not in before]
        await _wait_joined(system, stats, new, 2 * (params.participants - 1),
                           timeout=15 + 0.5 * len(new))
        await asyncio.sleep(1.0)  # warm-up: let keyframe requests and bursts pass
        stats.latencies_ms = array("d")
        stats.unmatched = 0
        packets0, bytes0, expected0 = stats.totals()
        cpu0, t0, load0 = sample(system.pid), time.monotonic(), time.process_time()
        stats.recording = True
        lags: list[float] = []
        await _loop_lag(lags, asyncio.get_running_loop().time() + params.duration_s)
        stats.recording = False
        cpu1, t1, load1 = sample(system.pid), time.monotonic(), time.process_time()
        packets1, bytes1, expected1 = stats.totals()
        packets, expected, elapsed = packets1 - packets0, expected1 - expected0, t1 - t0
        cpu_s = cpu1.cpu_s - cpu0.cpu_s
        latencies = stats.latencies_ms
        n_participants = level * params.participants
        steps.append({
            "hearings": level,
            "participants_total": n_participants,
            "packets_per_s": packets / elapsed,
            "mbit_per_s": (bytes1 - bytes0) * 8 / elapsed / 1e6,
            "cpu_pct": cpu_s / elapsed * 100,
            # The load's own CPU: near 100 % means the load, not the server, is the limit.
            "load_cpu_pct": (load1 - load0) / elapsed * 100,
            "cpu_us_per_packet": cpu_s / packets * 1e6 if packets else math.nan,
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
            "latency_p99_ms": percentile(latencies, 99),
            "latency_matched_pct": (
                100 * len(latencies) / (len(latencies) + stats.unmatched)
                if latencies or stats.unmatched else math.nan
            ),
            "load_loop_lag_p99_ms": percentile(lags, 99),
            "load_loop_lag_max_ms": max(lags, default=math.nan),
            "loss_pct": 100 * (1 - packets / expected) if expected else math.nan,
            "rss_mb_per_participant": (cpu1.rss_bytes - idle.rss_bytes) / _MB / n_participants,
            "rss_mb_idle": idle.rss_bytes / _MB,
        })
    first_packet, first_key = _join_ms(stats, "first_packet"), _join_ms(stats, "first_keyframe")
    result = dict(steps[-1])
    result.update({
        "join_p50_ms": percentile(first_packet, 50),
        "join_p95_ms": percentile(first_packet, 95),
        "join_keyframe_p50_ms": percentile(first_key, 50),
        "join_keyframe_p95_ms": percentile(first_key, 95),
        "joined": len(first_packet),
        "participants_expected": len(stats.participants),
        "steps": steps,
    })
    return result

"""How long recording holds the event loop: ``python -m bench.recording --duration S``.

A hearing of ``streams / 2`` participants (VP8 640x480 ~450 kbit/s + Opus each) is recorded
by a real ``HearingRecorder`` for ``duration`` seconds of wall time: packets enter each
``PublishedStream`` at their real pace (the forwarding path's view), segments are cut every
``segment_s`` (each close fsyncs and enters the chain), and the timeline gets an event every
``TIMELINE_EVERY_S`` (as the audit trail of a busy hearing would). A probe task sleeps
``PROBE_S`` over and over and keeps its worst lateness: that is the longest stretch the loop
could not run anything else (a forwarded packet, a signaling message).
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiortc.rtp import RtpPacket

from media.metrics import StreamCounters
from media.plane import RecorderFault, TimelineEntry
from media.published_stream import ForwardedPacket, PublishedStream
from media.recording.folder import RecordingFolder
from media.recording.hearing_recorder import HearingRecorder

PROBE_S = 0.005
TARGET_S = 0.020
TIMELINE_EVERY_S = 0.1
TICK_S = 0.02
# Packets are prepared for this long and looped (sequence numbers and timestamps go on).
LOOP_S = 10.0


class _NoUpstream:
    """The bench has no publisher to ask for keyframes or retransmissions."""

    async def send_pli(self, media_ssrc: int) -> None:
        return None

    async def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        return None


class _Hearing:
    """The SFU side the recorder sees: a fixed set of published streams."""

    def __init__(self, streams: list[PublishedStream]) -> None:
        self.streams = streams

    def add_stream_observer(self, observer: Any) -> None:
        return None

    def remove_stream_observer(self, observer: Any) -> None:
        return None

    def published_streams(self) -> list[PublishedStream]:
        return list(self.streams)


class _Listener:
    def __init__(self) -> None:
        self.faults: list[str] = []

    def recorder_fault(self, fault: RecorderFault) -> None:
        self.faults.append(f"{fault.track}: {fault.reason}")

    def recorder_resumed(self, fault: RecorderFault) -> None:
        return None

    def expects_media(self, participant_id: str, kind: str) -> bool:
        return True


class StallProbe:
    """Sleeps ``PROBE_S`` in a loop and keeps the worst lateness of its wake-ups, and how
    that stall was spent by the loop's thread (Linux schedstat): running (the loop's own
    work), waiting for a core (other processes), or neither (waiting for the GIL or a
    blocking call)."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self.worst_running_s = 0.0
        self.worst_runqueue_s = 0.0
        # The worst of each cause over all wake-ups (not only in the worst one).
        self.most_running_s = 0.0
        self.most_runqueue_s = 0.0
        self.most_other_s = 0.0
        self.wakeups = 0
        self.over_target = 0
        # Steal: a VM's "running" thread may not run at all while the host runs others.
        self.worst_stolen_s = 0.0
        self.worst_unstolen_s = 0.0
        self.over_target_unstolen = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start probing (the probe owns its task; ``close`` stops it)."""
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            before, sched, steal = time.perf_counter(), _schedstat(), _stolen()
            await asyncio.sleep(PROBE_S)
            elapsed = time.perf_counter() - before
            late = elapsed - PROBE_S
            after = _schedstat()
            stolen = _stolen() - steal
            running, runqueue = after[0] - sched[0], after[1] - sched[1]
            self.wakeups += 1
            self.over_target += late > TARGET_S
            self.over_target_unstolen += late > TARGET_S and not stolen
            if not stolen:
                self.worst_unstolen_s = max(self.worst_unstolen_s, late)
            self.most_running_s = max(self.most_running_s, running)
            self.most_runqueue_s = max(self.most_runqueue_s, runqueue)
            # Sleeping PROBE_S is neither: what is beyond it, the GIL or a blocking call.
            self.most_other_s = max(self.most_other_s,
                                    elapsed - PROBE_S - running - runqueue)
            if late > self.worst_s:
                self.worst_s = late
                self.worst_running_s = running
                self.worst_runqueue_s = runqueue
                self.worst_stolen_s = stolen

    async def close(self) -> None:
        """Stop probing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def _stolen() -> float:
    # Seconds of CPU the hypervisor gave others, all of this VM's cores (/proc/stat "steal",
    # counted in clock ticks of 10 ms): zero on bare metal or where unavailable.
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _schedstat() -> tuple[float, float]:
    # (seconds this thread ran, seconds it waited on a run queue); zeros where unavailable.
    try:
        with open("/proc/thread-self/schedstat") as f:
            running, waiting, _ = f.read().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(running) / 1e9, int(waiting) / 1e9


def _timed(packets: list[ForwardedPacket], clock_rate: int) -> list[tuple[float, RtpPacket]]:
    first = packets[0].rtp.timestamp
    return [((p.rtp.timestamp - first) / clock_rate, p.rtp) for p in packets]


async def _feed(stream: PublishedStream, packets: list[tuple[float, RtpPacket]],
                clock_rate: int, start: float, until: float) -> None:
    # One stream's packets at their real pace, looped every LOOP_S with the numbering going on.
    index = lap = 0
    while True:
        due, rtp = packets[index]
        at = start + lap * LOOP_S + due
        if at >= until:
            return
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(max(delay, TICK_S))
        shifted = RtpPacket(
            rtp.payload_type, rtp.marker, (rtp.sequence_number + lap * len(packets)) & 0xFFFF,
            (rtp.timestamp + int(lap * LOOP_S * clock_rate)) & 0xFFFFFFFF, rtp.ssrc,
            rtp.payload,
        )
        await stream.receive(shifted)
        index += 1
        if index == len(packets):
            index, lap = 0, lap + 1


async def _timeline(recorder: HearingRecorder, until: float) -> int:
    written = 0
    while time.monotonic() < until:
        recorder.write_timeline(TimelineEntry(
            datetime.now(UTC), "bench_event", "server", {"n": written},
        ))
        written += 1
        await asyncio.sleep(TIMELINE_EVERY_S)
    return written


async def _idle(until: float) -> int:
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    return 0


async def run(duration: float, streams: int, segment_s: float,
              video: list[ForwardedPacket], audio: list[ForwardedPacket], *,
              recorded: bool = True) -> None:
    """Record ``streams`` streams for ``duration`` seconds and print the loop's worst stall
    (``recorded`` False: the same feed with no recorder, the forwarding path's own)."""
    participants = max(1, streams // 2)
    published = []
    for n in range(participants):
        for kind in ("video", "audio"):
            stream = PublishedStream(f"p_{n}", kind, upstream=_NoUpstream(),
                                     counters=StreamCounters(f"p_{n}", kind, "in"))
            stream.set_codec("video/VP8" if kind == "video" else "audio/opus",
                             90000 if kind == "video" else 48000)
            published.append(stream)
    timed = {"video": _timed(video, 90000), "audio": _timed(audio, 48000)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = RecordingFolder(Path(tmp), "h_stall")

        async def finished(hearing_id: str, ended: bool) -> None:
            return None

        recorder = HearingRecorder(_Hearing(published), folder, case_number="1-1/2026",
                                   title="bench", segment_s=segment_s, stall_s=60.0,
                                   on_finished=finished)
        listener = _Listener()
        # As ``qashyq serve`` does once started: what lives as long as the process stays out
        # of the full collections (a stall of its own, whatever records).
        gc.collect()
        gc.freeze()
        probe = StallProbe()
        probe.start()
        if recorded:
            await recorder.start(listener)
        start = time.monotonic() + 0.1
        until = start + duration
        feeders = [
            _feed(s, timed[s.kind], s.clock_rate, start + 0.013 * i, until)
            for i, s in enumerate(published)
        ]
        timeline = _timeline(recorder, until) if recorded else _idle(until)
        results = await asyncio.gather(timeline, *feeders)
        if recorded:
            await recorder.finish(ended=True)
        await probe.close()
        gc.unfreeze()
        segments = len(folder.chain())
        print(f"{'recorded' if recorded else 'fed, unrecorded,'} {len(published)} streams for "
              f"{duration:g} s: {segments} segments closed, {results[0]} timeline events, "
              f"{len(listener.faults)} faults")
        if listener.faults:
            print("faults:", "; ".join(listener.faults[:5]))
        print(f"longest event-loop stall: {probe.worst_s * 1000:.1f} ms "
              f"({probe.wakeups} probes of {PROBE_S * 1000:g} ms, {probe.over_target} late by "
              f"more than {TARGET_S * 1000:g} ms; target <= {TARGET_S * 1000:g} ms)")
        print(f"  of the probe's {(probe.worst_s + PROBE_S) * 1000:.1f} ms: the loop's thread "
              f"ran {probe.worst_running_s * 1000:.1f} ms, waited for a core "
              f"{probe.worst_runqueue_s * 1000:.1f} ms, the rest for the GIL or a blocking call")
        print(f"  worst of each over all probes: ran {probe.most_running_s * 1000:.1f} ms, "
              f"waited for a core {probe.most_runqueue_s * 1000:.1f} ms, for the GIL or a "
              f"blocking call {max(0.0, probe.most_other_s) * 1000:.1f} ms")
        print(f"  CPU time the hypervisor took from this VM (all cores) during that probe: "
              f"{probe.worst_stolen_s * 1000:.0f} ms")
        print(f"longest stall while the hypervisor took nothing: "
              f"{probe.worst_unstolen_s * 1000:.1f} ms ({probe.over_target_unstolen} late by more "
              f"than {TARGET_S * 1000:g} ms)")

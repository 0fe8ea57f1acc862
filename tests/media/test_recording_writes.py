"""Recording writes never hold the event loop: a slow disk delays the record, not the hearing.

The slow disk is real: another process holds a read lease on the chain journal (fcntl
F_SETLEASE), so the recorder thread that opens it to enter a closed segment waits in the
kernel (``__break_lease``) until that process lets go, exactly like a write to a stalled
disk or network share.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from media.plane import TimelineEntry
from media.recording.folder import canonical_json

from .conftest import FaultListener, HearingFactory, all_frames, eventually, hearing_recorder

# How long the lease is held if the test never asks to release it (the loop stood still).
STUCK_AT_MOST_S = 8.0
_LEASE_HOLDER = """
import fcntl, os, select, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)  # the lease-break signal: wait to be told
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
print("held", flush=True)
told = bool(select.select([sys.stdin], [], [], float(sys.argv[2]))[0])
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
print("released" if told else "deadline", flush=True)
"""


def a_thread_waits_for_the_lease() -> bool:
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            if (task / "wchan").read_text().strip() == "__break_lease":
                return True
    return False


async def test_a_segment_stuck_in_its_chain_write_holds_neither_forwarding_nor_the_timeline(
    make_hearing: HearingFactory, tmp_path: Path,
) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    villager = await hearing.join("villager", publish=False)
    await eventually(all_frames(villager, [judge], 10), what="the villager sees the judge")

    recorder = hearing_recorder(hearing.media, tmp_path)
    folder = recorder.folder
    listener = FaultListener()
    await recorder.start(listener)
    await eventually(lambda: any(folder.open_dir.glob("judge-video-*")),
                     what="the judge's video is being recorded")
    folder.chain_path.touch()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LEASE_HOLDER, str(folder.chain_path), str(STUCK_AT_MOST_S),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert await holder.stdout.readline() == b"held\n"
        await eventually(a_thread_waits_for_the_lease,
                         what="a closed segment waits to enter the chain")
        # Every audit event of a hearing on the record is written to the timeline, on the
        # loop; forwarding goes on meanwhile.
        recorder.write_timeline(TimelineEntry(datetime.now(UTC), "witness_called", "judge",
                                              {"witness": "W"}))
        seen = villager.frames_from("judge", "video")
        await eventually(lambda: villager.frames_from("judge", "video") >= seen + 15,
                         what="the villager's video goes on during the slow write")
        holder.stdin.write(b"\n")
        assert await holder.stdout.readline() == b"released\n", \
            "the loop stood still until the disk came back"
        await eventually(lambda: len(folder.chain()) >= 1, what="the stuck segment is chained")
        await recorder.finish(ended=True)
    finally:
        with contextlib.suppress(ProcessLookupError):
            holder.kill()
        await holder.wait()

    timeline = [json.loads(line) for line in (folder.path / "timeline.jsonl").read_text()
                .splitlines()]
    assert [e["kind"] for e in timeline] == ["witness_called"]
    entries = folder.chain()
    video = [e for e in entries if e["track"] == "judge-video"]
    assert video, entries
    # The chain held across the slow write: each entry names the one before it.
    previous = None
    for entry in video:
        claimed = {k: v for k, v in entry.items() if k != "hash"}
        assert entry["prev"] == previous
        assert hashlib.sha256(canonical_json(claimed)).hexdigest() == entry["hash"]
        previous = entry["hash"]
    assert not listener.faults


def _recorder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("recorder-")]


async def test_all_tracks_of_a_hearing_are_written_by_one_thread_that_ends_with_the_record(
    make_hearing: HearingFactory, tmp_path: Path,
) -> None:
    """Each thread that wants the GIL competes with the loop that forwards media: forty
    recorder threads held it 50 ms at times (``python -m bench.recording --duration``)."""
    hearing = await make_hearing()
    clients = [await hearing.join(name) for name in ("judge", "lawyer", "defendant")]
    for client in clients:
        await eventually(all_frames(client, [c for c in clients if c is not client], 5),
                         what=f"{client.participant_id} sees the others")
    recorder = hearing_recorder(hearing.media, tmp_path)
    folder = recorder.folder
    await recorder.start(FaultListener())
    await eventually(lambda: len({e["track"] for e in folder.chain()}) == 6,
                     what="segments of all six tracks are in the chain")
    assert _recorder_threads() == ["recorder-h1"]
    await recorder.finish(ended=True)
    assert _recorder_threads() == []
    # Every track's last segment was written when the record ended.
    assert all(not list(folder.open_dir.glob(f"{c.participant_id}-*")) for c in clients)

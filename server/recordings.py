"""The recordings of this node: signing key, recovery after a crash, after-hearing jobs.

One ``RecordingService`` per server process, created and closed by the app's cleanup
context. It builds each hearing's ``HearingRecorder``; when a hearing ends it renders
the composite and signs the manifest in a worker thread (the event loop never blocks), and
it owns those jobs: ``close`` stops and awaits them. A job cut short by a shutdown runs
again on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from media import HearingMedia
from media.recording.composite import CompositeResult, RenderCancelled, render_composite
from media.recording.folder import COMPOSITE, RecordingFolder, valid_hearing_id
from media.recording.hearing_recorder import HearingRecorder
from media.recording.manifest import RecordingKey, verify, write_manifest
from media.recording.private_files import private_dir
from media.recording.status import CompositeInfo, RecordingState, RecordingStatus, VerifyReport
from signaling.model import Hearing
from signaling.store import HearingStore

from .config import Settings

log = logging.getLogger(__name__)

KEY_FILE = Path("keys") / "recording-ed25519.pem"
# Composites are rendered one at a time, at this much lower CPU priority: a hearing that is
# live on this node (forwarding, its recorder, its people's pages on the same machine in a
# small court) comes before the record of one that has ended. Linux threads carry their
# own niceness, and the codec threads a render opens inherit it.
COMPOSITE_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError):  # a platform without per-thread priorities
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COMPOSITE_NICENESS)


class RecordingService:
    """Every recording on this node and the background work they need."""

    def __init__(self, settings: Settings, store: HearingStore) -> None:
        self.root = settings.recordings_dir or settings.data_dir / "recordings"
        self._settings = settings
        self._store = store
        self.key = RecordingKey.load_or_create(settings.data_dir / KEY_FILE)
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._stop = threading.Event()
        self._renderer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="composite", initializer=_lower_priority)
        self._closed = False

    def folder(self, hearing_id: str) -> RecordingFolder:
        """The recording folder of a hearing (raises ``ValueError`` for an unusable id)."""
        return RecordingFolder(self.root, hearing_id)

    # ---- startup ----------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: recordings cut off mid-hearing become incomplete (their closed
        segments are signed and stay playable); interrupted after-hearing jobs run again."""
        private_dir(self.root)
        for path in sorted(self.root.iterdir()):
            if not path.is_dir() or not valid_hearing_id(path.name):
                continue
            folder = self.folder(path.name)
            status = folder.status()
            if status is None:
                continue
            if status.state is RecordingState.RECORDING:
                await asyncio.to_thread(self._mark_incomplete, folder)
            elif status.state is RecordingState.PROCESSING:
                self._start_job(folder.hearing_id)

    def _mark_incomplete(self, folder: RecordingFolder) -> None:
        lost = sorted(p.name for p in folder.open_dir.glob("*")) if folder.open_dir.exists() \
            else []
        manifest_sha = write_manifest(folder, self.key, state=RecordingState.INCOMPLETE.value)
        folder.update_status(
            state=RecordingState.INCOMPLETE,
            on_record=False,
            lost_open_segments=tuple(lost),
            manifest_sha256=manifest_sha,
            **self._summary(folder),
        )
        log.warning("recording of hearing %s was cut off; marked incomplete", folder.hearing_id)

    # ---- the hearings' recorders ----------------------------------------------------------

    def recorder_for(self, hearing: Hearing, media: HearingMedia) -> HearingRecorder | None:
        """The recorder of a hearing whose media runs on this node (None: no folder can be
        named after its id)."""
        if not valid_hearing_id(hearing.id):
            return None
        return HearingRecorder(
            media,
            self.folder(hearing.id),
            case_number=hearing.case_number,
            title=hearing.title,
            segment_s=float(self._settings.recording_segment_s),
            stall_s=float(self._settings.recording_stall_s),
            min_free_bytes=self._settings.recording_min_free_mb << 20,
            on_finished=self._finished,
        )

    async def _finished(self, hearing_id: str, ended: bool) -> None:
        folder = self.folder(hearing_id)
        try:
            if ended:
                folder.update_status(state=RecordingState.PROCESSING, progress=0.0)
                self._start_job(hearing_id)
            else:
                await asyncio.to_thread(self._mark_incomplete, folder)
        except OSError:
            # A full disk: the state stays "recording", so the next start retries this.
            log.exception("recording of hearing %s could not be closed", hearing_id)

    # ---- after the hearing ------------------------------------------------------------------

    def _start_job(self, hearing_id: str) -> None:
        if self._closed or hearing_id in self._jobs:
            return
        task = asyncio.create_task(self._process(hearing_id), name=f"recording-{hearing_id}")
        self._jobs[hearing_id] = task
        task.add_done_callback(lambda _: self._jobs.pop(hearing_id, None))

    async def _process(self, hearing_id: str) -> None:
        folder = self.folder(hearing_id)
        captions = {
            p.id: f"{p.display_name} · {p.role.value}"
            for p in await self._store.list_participants(hearing_id)
        }
        loop = asyncio.get_running_loop()
        last = [0.0]

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] >= 1.0 or fraction >= 1.0:
                last[0] = now
                loop.call_soon_threadsafe(
                    lambda: folder.update_status(progress=round(fraction, 3))
                )

        try:
            result = await loop.run_in_executor(
                self._renderer,
                lambda: render_composite(folder, captions, progress=progress, stop=self._stop),
            )
        except RenderCancelled:
            return  # still "processing": the next start renders it again
        except Exception as error:
            log.exception("composite of hearing %s failed", hearing_id)
            await asyncio.to_thread(self._finish, folder, None, f"composite failed: {error}")
            return
        await asyncio.to_thread(self._finish, folder, result, None)

    def _finish(
        self, folder: RecordingFolder, result: CompositeResult | None, error: str | None
    ) -> None:
        state = RecordingState.FAILED if error else RecordingState.READY
        manifest_sha = write_manifest(folder, self.key, state=state.value)
        folder.update_status(
            state=state,
            progress=1.0,
            error=error,
            composite=None if result is None else CompositeInfo(
                result.width, result.height, result.duration_s, result.start_offset_s
            ),
            manifest_sha256=manifest_sha,
            verification=self._checked(folder),
            **self._summary(folder),
        )

    def _checked(self, folder: RecordingFolder) -> VerifyReport:
        report = verify(folder.path, self.key.public_raw)
        report.checked_at = time.time()
        return report

    def reverify(self, hearing_id: str) -> VerifyReport:
        """Check a recording again (blocking: call in a thread); stores and returns the result."""
        folder = self.folder(hearing_id)
        report = self._checked(folder)
        folder.update_status(verification=report)
        return report

    @staticmethod
    def _summary(folder: RecordingFolder) -> dict[str, Any]:
        chain = folder.chain()
        ends = [e["start_offset_s"] + e["duration_s"] for e in chain]
        starts = [e["start_offset_s"] for e in chain]
        return {
            "size_bytes": folder.size_bytes(),
            "duration_s": round(max(ends) - min(starts), 3) if chain else 0.0,
            "segments": len(chain),
            "has_composite": (folder.path / COMPOSITE).is_file(),
        }

    def all_recordings(self) -> list[RecordingStatus]:
        """Every recording on this node with its state (blocking: call in a thread)."""
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and valid_hearing_id(path.name):
                status = self.folder(path.name).status()
                if status is not None:
                    out.append(status)
        return out

    async def close(self) -> None:
        """Stop every job (they resume on the next start) and wait for them; idempotent."""
        self._closed = True
        self._stop.set()
        jobs = list(self._jobs.values())
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        self._renderer.shutdown(wait=False)


RECORDINGS_KEY = web.AppKey("qashyq_recordings", RecordingService)

"""The daily retention sweep: deletes expired hearings that are not under a legal hold.

Off unless ``QASHYQ_RETENTION_DAYS`` is set. The rule is ``signaling.retention``'s: a hearing
expires that many days after it ended (its scheduled end if never ended). For each expired,
unheld hearing with no live room on this node, the store deletes the hearing, its
participants and its timeline and, in the same atomic step, appends a ``hearing_deleted``
entry to the court-wide timeline (``COURT_TIMELINE``, listed by ``GET /api/audit``) saying
what was deleted, when and by which rule; that entry is never deleted. Then the hearing's
recording folder on this node is removed. Recordings are node-local, so every sweep also
removes folders of hearings the court timeline says were deleted (another node's sweep, or
a crash between the two steps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from media.recording.folder import valid_hearing_id
from signaling.errors import Conflict
from signaling.hearing_rooms import HearingRooms
from signaling.model import AuditEvent, Hearing, utc_now
from signaling.retention import RetentionRule
from signaling.store import COURT_TIMELINE, HearingStore

from .recordings import RecordingService

log = logging.getLogger(__name__)

SWEEP_INTERVAL = timedelta(days=1)
RETENTION_ACTOR = "retention"
DELETED = "hearing_deleted"


class RetentionSweep:
    """Owns the daily sweep task: ``start`` runs one sweep at once and then one a day;
    ``close`` cancels and awaits it."""

    def __init__(
        self,
        rule: RetentionRule,
        store: HearingStore,
        rooms: HearingRooms,
        recordings: RecordingService,
        clock: Callable[[], datetime] = utc_now,
        interval: timedelta = SWEEP_INTERVAL,
    ) -> None:
        self.rule = rule
        self._store = store
        self._rooms = rooms
        self._recordings = recordings
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the daily sweep (idempotent)."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="retention-sweep")

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a failed sweep (store down) is retried the next day
                log.exception("the retention sweep failed")
            await asyncio.sleep(self._interval.total_seconds())

    async def sweep(self) -> list[str]:
        """Delete every expired, unheld hearing now; the ids deleted."""
        now = self._clock()
        held = {hold.hearing_id for hold in await self._store.list_legal_holds()}
        # Every hearing, not only those that started a period ago: one ended before its
        # start (cancelled) expires counting from that end. Once a day, a court's hearings
        # are few enough to read them all.
        deleted = []
        for hearing in await self._store.list_hearings():
            if (hearing.id in held or not self.rule.expired(hearing, now)
                    or self._rooms.get(hearing.id) is not None):
                continue
            if await self._delete(hearing, now):
                deleted.append(hearing.id)
        await self._remove_deleted_recordings()
        return deleted

    async def _delete(self, hearing: Hearing, now: datetime) -> bool:
        participants = await self._store.list_participants(hearing.id)
        events = await self._store.list_events(hearing.id)
        folder = self._recordings.folder(hearing.id) if _named_folder(hearing.id) else None
        had_recording = folder is not None and folder.path.exists()
        record = AuditEvent(COURT_TIMELINE, now, DELETED, RETENTION_ACTOR, {
            "hearing": hearing.id,
            "case_number": hearing.case_number,
            "kind": hearing.kind.value,
            "starts_at": hearing.starts_at.isoformat(),
            "ended_at": hearing.ended_at.isoformat() if hearing.ended_at else None,
            "expired_at": self.rule.expires_at(hearing).isoformat(),
            "rule": self.rule.describe(),
            "deleted": {"participants": len(participants), "events": len(events),
                        "recording": had_recording},
        })
        try:
            if not await self._store.delete_hearing(hearing.id, record):
                return False
        except Conflict:  # a hold placed since the list was read
            return False
        log.warning("retention: deleted hearing %s (case %s), expired %s",
                    hearing.id, hearing.case_number, record.data["expired_at"])
        if folder is not None:
            await asyncio.to_thread(shutil.rmtree, folder.path, True)
        return True

    async def _remove_deleted_recordings(self) -> None:
        root = self._recordings.root
        for event in await self._store.list_events(COURT_TIMELINE):
            hearing_id = event.data.get("hearing")
            if event.kind != DELETED or not isinstance(hearing_id, str):
                continue
            if _named_folder(hearing_id) and (root / hearing_id).exists():
                log.warning("retention: removing the recording of deleted hearing %s",
                            hearing_id)
                await asyncio.to_thread(shutil.rmtree, root / hearing_id, True)

    async def close(self) -> None:
        """Stop the sweep and wait for it; idempotent."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _named_folder(hearing_id: str) -> bool:
    return valid_hearing_id(hearing_id)


RETENTION_KEY = web.AppKey("qashyq_retention", RetentionSweep)

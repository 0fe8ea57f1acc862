"""The record's timeline, written by its own thread.

Every audit event of a hearing on the record becomes a timeline line, on the event loop
that forwards media. Writing it there would hold the loop for as long as the disk takes
(an fsync of a busy disk, a stalled network share), so ``append`` only queues the line and
one thread writes queued lines in order, in batches. A failed write keeps its lines and is
retried with the next batch (the folder keeps them); ``close`` writes what is queued and
fsyncs the file.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from .folder import RecordingFolder

log = logging.getLogger(__name__)

_STOP = object()


class TimelineWriter:
    """Appends events to one folder's ``timeline.jsonl`` from a thread it owns."""

    def __init__(self, folder: RecordingFolder) -> None:
        self._folder = folder
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.failed_writes = 0

    def append(self, event: dict[str, Any]) -> None:
        """Queue one event (never blocks); dropped once the writer is closed."""
        if self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"timeline-{self._folder.hearing_id}", daemon=True
            )
            self._thread.start()
        self._queue.put(event)

    def close(self) -> None:
        """Write what is queued, stop the thread and fsync the file (blocking: call it in a
        worker thread); idempotent."""
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()
            self._folder.append_timeline()  # lines a failed write kept get one last try
        self._folder.sync_timeline()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                    break
                assert isinstance(item, dict)
                batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch and not self._folder.append_timeline(*batch):
                self.failed_writes += 1
                log.warning("hearing %s: the timeline could not be written",
                            self._folder.hearing_id)

"""The one worker thread that writes all of a hearing's tracks.

One thread, not one per track: every thread that wants the GIL competes with the event
loop for it, and with forty recorder threads the loop waited for several switch intervals
in a row (the stall bench's worst wake-ups were 50 ms late). Packets of all tracks go
through one ``SimpleQueue`` (put in C, without the Python lock and Condition of
``queue.Queue``) in arrival order, so no track waits behind another's backlog.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class ThreadWork(Protocol):
    """What the thread runs for a track: one queued item at a time, then its finish."""

    def take(self, item: object) -> None:
        """Handle one queued item (in the thread)."""

    def finish(self) -> None:
        """Write what is left and close the open segment (in the thread)."""


class RecorderThread:
    """Runs queued work of many track recorders in one thread; ``close()`` ends it."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[ThreadWork | None, object]] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._finishing: dict[int, asyncio.Future[None]] = {}
        self._closing: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, work: ThreadWork, item: object) -> None:
        """Queue one item for ``work`` (from the loop; never blocks)."""
        self._queue.put_nowait((work, item))

    async def finish(self, work: ThreadWork) -> None:
        """Run ``work.finish()`` after everything queued for it so far; wait for it (once
        the thread is closed, nothing runs any more)."""
        if self._closing is not None:
            return
        done = self._finishing.get(id(work))
        if done is None:
            done = self._finishing[id(work)] = self._loop.create_future()
            self._queue.put_nowait((work, _FINISH))
        await asyncio.shield(done)

    async def close(self) -> None:
        """Stop the thread after what is queued; idempotent."""
        if self._closing is None:
            self._queue.put_nowait((None, None))
            self._closing = asyncio.ensure_future(asyncio.to_thread(self._thread.join))
        await asyncio.shield(self._closing)

    def _run(self) -> None:
        while True:
            work, item = self._queue.get()
            if work is None:
                return
            try:
                if item is _FINISH:
                    work.finish()
                else:
                    work.take(item)
            except Exception:  # one track's bug must not stop the others' record
                log.exception("recorder thread: a track failed")
            finally:
                if item is _FINISH:
                    self._loop.call_soon_threadsafe(self._finished, id(work))

    def _finished(self, key: int) -> None:
        done = self._finishing.pop(key, None)
        if done is not None and not done.done():
            done.set_result(None)


_FINISH = object()

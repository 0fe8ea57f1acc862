"""A step run every interval by one owner, shaped like aiortc's ``RTCRtpSender._run_rtp``.

Expected exits (cancellation by the owner, a connection that went away) are quiet; anything
else is logged once, with its traceback, when it happens, and ends the loop; and the exit is
always signalled, so ``close`` never hangs and never re-raises an error of the loop's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]


class PeriodicTask:
    """Runs ``step`` every ``interval_s`` seconds until ``close``; owned by whoever starts it."""

    def __init__(self, name: str, interval_s: float, step: Step) -> None:
        self.name = name
        self._interval_s = interval_s
        self._step = step
        self._task = asyncio.create_task(self._run(), name=name)

    @property
    def running(self) -> bool:
        """Whether the loop still runs (False once closed, or after an unexpected error)."""
        return not self._task.done()

    async def _run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                await self._step()
        except (asyncio.CancelledError, ConnectionError):
            pass  # closed by the owner, or the connection went away under the step
        except Exception:
            logger.exception("%s stopped", self.name)

    async def close(self) -> None:
        """Stop the loop and wait until it has; idempotent.

        ``asyncio.wait`` returns when the task is done however it ended (also when it was
        cancelled before it ever ran), and a cancellation of the caller still propagates.
        """
        self._task.cancel()
        await asyncio.wait([self._task])

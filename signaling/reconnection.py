"""The reconnection grace: a dropped participant keeps their seat for a while.

When an admitted participant's connection drops (a network switch, a tunnel, a short outage),
their page rebuilds the connection by itself. For ``grace_s`` seconds the seat is kept and the
others see "reconnecting"; a return within the grace goes straight back into the hearing.
When the grace runs out the seat is lost: a later return waits in the lobby again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class _Drop:
    since: float
    timer: asyncio.Task[None]


class ReconnectGrace:
    """Grace timers of one hearing's dropped participants; owns and cancels its tasks."""

    def __init__(
        self,
        grace_s: float,
        on_expired: Callable[[str], Awaitable[None]],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grace_s = grace_s
        self._on_expired = on_expired
        self._monotonic = monotonic
        self._drops: dict[str, _Drop] = {}
        # Every timer until it is done, including one running its expiry or being cancelled.
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self, participant_id: str) -> None:
        """The participant dropped: keep the seat until the grace runs out."""
        if self._closed:
            return
        self.end(participant_id)
        timer = asyncio.get_running_loop().create_task(
            self._expire(participant_id), name=f"reconnect-grace-{participant_id}"
        )
        self._tasks.add(timer)
        timer.add_done_callback(self._tasks.discard)
        self._drops[participant_id] = _Drop(self._monotonic(), timer)

    def is_reconnecting(self, participant_id: str) -> bool:
        """Whether the participant dropped and the grace still runs."""
        return participant_id in self._drops

    def end(self, participant_id: str) -> float | None:
        """The participant is back (or gone for good): the gap in seconds, or None."""
        drop = self._drops.pop(participant_id, None)
        if drop is None:
            return None
        drop.timer.cancel()
        return round(self._monotonic() - drop.since, 1)

    async def _expire(self, participant_id: str) -> None:
        await asyncio.sleep(self.grace_s)
        # Forgotten before the callback runs, so end() never cancels a timer half-way.
        self._drops.pop(participant_id, None)
        await self._on_expired(participant_id)

    async def close(self) -> None:
        """Cancel every timer and wait for them; idempotent."""
        self._closed = True
        self._drops.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

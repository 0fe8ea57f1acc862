"""The audit timeline: every event of a hearing, with a timestamp, kept in the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .model import AuditEvent, utc_now
from .store import HearingStore

log = logging.getLogger(__name__)

# The actor of an admin action when no token name is known (tokens from before names).
ADMIN_ACTOR = "admin"


class AuditTrail:
    """Appends audit events for hearings; the store keeps them for ever."""

    def __init__(self, store: HearingStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock
        self._observers: list[Callable[[AuditEvent], None]] = []

    def add_observer(self, observer: Callable[[AuditEvent], None]) -> None:
        """Call ``observer`` with every event once stored (e.g. a recording's timeline)."""
        if observer not in self._observers:
            self._observers.append(observer)

    def remove_observer(self, observer: Callable[[AuditEvent], None]) -> None:
        """Stop calling ``observer``."""
        if observer in self._observers:
            self._observers.remove(observer)

    async def record(self, hearing_id: str, kind: str, actor: str, **data: Any) -> AuditEvent:
        """Append one event; ``actor`` is a participant id, an admin token's name, or a
        named part of the server (``retention``, ``command-line``)."""
        event = AuditEvent(hearing_id=hearing_id, at=self._clock(), kind=kind, actor=actor,
                           data=data)
        await self._store.append_event(event)
        log.info("hearing %s: %s by %s", hearing_id, kind, actor)
        for observer in tuple(self._observers):
            try:
                observer(event)
            except Exception:  # an observer's failure must not fail the action it records
                log.exception("audit observer failed on %s", kind)
        return event

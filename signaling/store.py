"""The durable state of Qashyq behind one contract, with two backends.

``EmbeddedStore`` (SQLite under the data directory) serves a single node with nothing to
install; ``RedisStore`` serves when ``REDIS_URL`` is set. Both pass the same contract suite
(``tests/test_store_contract.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from .model import AuditEvent, Hearing, Participant
from .station import Station


class HearingStore(Protocol):
    """Scheduled hearings, issued links, stations, the audit timeline, admin tokens, secrets.

    The audit timeline is keyed by hearing id; a station's own events (enrolment,
    revocation, joins) are kept under the station's id, which never collides with one.
    """

    async def add_hearing(self, hearing: Hearing) -> None:
        """Store a new hearing; raise ``Conflict`` if its id exists."""

    async def get_hearing(self, hearing_id: str) -> Hearing | None:
        """The hearing, or None."""

    async def list_hearings(
        self, starts_from: datetime | None = None, starts_before: datetime | None = None
    ) -> list[Hearing]:
        """Hearings whose start lies in ``[starts_from, starts_before)``, earliest first."""

    async def save_hearing(self, hearing: Hearing) -> None:
        """Replace an existing hearing (e.g. when it ends); raise ``NotFound`` if absent."""

    async def add_participant(self, participant: Participant) -> None:
        """Store a new participant; raise ``NotFound`` if the hearing is absent."""

    async def get_participant(self, hearing_id: str, participant_id: str) -> Participant | None:
        """The participant of that hearing, or None."""

    async def list_participants(self, hearing_id: str) -> list[Participant]:
        """The hearing's participants in the order they were added."""

    async def save_participant(self, participant: Participant) -> None:
        """Replace an existing participant (e.g. when revoked); raise ``NotFound`` if absent."""

    async def add_station(self, station: Station) -> None:
        """Store a new facility workstation; raise ``Conflict`` if its id exists."""

    async def get_station(self, station_id: str) -> Station | None:
        """The station, or None."""

    async def list_stations(self) -> list[Station]:
        """Every station, revoked ones included, in the order they were added."""

    async def save_station(self, station: Station) -> None:
        """Replace an existing station (enrolled, revoked); raise ``NotFound`` if absent."""

    async def append_event(self, event: AuditEvent) -> None:
        """Append to the hearing's audit timeline; events are never changed or removed."""

    async def list_events(
        self, hearing_id: str, start: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        """The hearing's audit timeline in the order appended: at most ``limit`` events
        (None: all) from position ``start`` (0 is the first event), a cursor for pages."""

    async def add_admin_token(self, token_hash: str, created_at: datetime) -> None:
        """Remember the hash of an admin token (never the token itself)."""

    async def has_admin_token(self, token_hash: str) -> bool:
        """True if an admin token with this hash was issued."""

    async def secret(self, name: str, factory_bytes: int = 32) -> bytes:
        """The named server secret, created at random on first use and kept for ever."""

    async def close(self) -> None:
        """Release connections; idempotent."""

"""The durable state of Qashyq behind one contract, with two backends.

``EmbeddedStore`` (SQLite under the data directory) serves a single node with nothing to
install; ``RedisStore`` serves when ``REDIS_URL`` is set. Both pass the same contract suite
(``tests/test_store_contract.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from .admin_token import AdminToken
from .live_hearing import LiveHearing
from .model import AuditEvent, Hearing, Participant
from .retention import LegalHold
from .station import Station

# The timeline of the court as a whole (admin tokens, what the retention sweep deleted):
# hearing ids start with "h_" and station ids with "s_", so this key is nobody else's.
COURT_TIMELINE = "court"


class HearingStore(Protocol):
    """Scheduled hearings, issued links, stations, the audit timeline, admin tokens, secrets.

    The audit timeline is keyed by hearing id; a station's own events (enrolment,
    revocation, joins) are kept under the station's id, and court-wide events (admin
    tokens, retention deletions) under ``COURT_TIMELINE``; neither collides with a hearing id.
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

    async def delete_hearing(self, hearing_id: str, record: AuditEvent) -> bool:
        """Delete the hearing, its participants and its timeline, and append ``record`` to
        its own (other) timeline in the same atomic step, so the entry saying what was
        deleted cannot be lost while the data is gone. False, and nothing appended, if there
        is no such hearing; ``Conflict``, and nothing deleted, if it is under a legal hold."""

    async def place_legal_hold(self, hold: LegalHold) -> None:
        """Keep the hearing whatever its retention (replacing an existing hold's reason);
        raise ``NotFound`` if the hearing is absent."""

    async def lift_legal_hold(self, hearing_id: str) -> bool:
        """Lift the hearing's legal hold; False if it had none."""

    async def get_legal_hold(self, hearing_id: str) -> LegalHold | None:
        """The hearing's legal hold, or None."""

    async def list_legal_holds(self) -> list[LegalHold]:
        """Every legal hold in place."""

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

    async def replace_station(self, expected: Station, station: Station) -> bool:
        """Replace the stored station by ``station`` only if it is still ``expected``.

        The compare-and-set that makes an enrolment code work once among concurrent
        exchanges: False (nothing written) if the station changed since it was read, or is
        absent.
        """

    async def append_event(self, event: AuditEvent) -> None:
        """Append to the hearing's audit timeline; events are never changed or removed."""

    async def list_events(
        self, hearing_id: str, start: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        """The hearing's audit timeline in the order appended: at most ``limit`` events
        (None: all) from position ``start`` (0 is the first event), a cursor for pages."""

    async def add_admin_token(self, token: AdminToken) -> None:
        """Remember an admin token by its hash (never the token itself); re-adding a known
        hash keeps the first."""

    async def get_admin_token(self, token_hash: str) -> AdminToken | None:
        """The admin token with this hash, or None."""

    async def list_admin_tokens(self) -> list[AdminToken]:
        """Every admin token ever issued, revoked and expired ones included, oldest first."""

    async def save_admin_token(self, token: AdminToken) -> None:
        """Replace a known admin token (e.g. when revoked); raise ``NotFound`` if absent."""

    async def save_live_hearing(self, live: LiveHearing) -> None:
        """Keep (create or replace) the live state of an open hearing."""

    async def list_live_hearings(self) -> list[LiveHearing]:
        """Every kept live state: the hearings a restarted server resumes."""

    async def delete_live_hearing(self, hearing_id: str) -> None:
        """Forget a hearing's live state (it ended); absent is fine."""

    async def secret(self, name: str, factory_bytes: int = 32) -> bytes:
        """The named server secret, created at random on first use and kept for ever."""

    async def close(self) -> None:
        """Release connections; idempotent."""

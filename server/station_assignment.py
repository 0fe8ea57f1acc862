"""Assigning a hearing's participant to a facility workstation: validation and audit."""

from __future__ import annotations

from signaling.errors import InvalidRequest
from signaling.model import Participant
from signaling.store import HearingStore

from .state import AppState


async def assignable_station_id(store: HearingStore, raw: object) -> str | None:
    """Validate a ``station_id`` field: null, or a station that exists and is not revoked."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidRequest("station_id must be a string or null", code="wrong_type",
                             field="station_id")
    station = await store.get_station(raw)
    if station is None:
        raise InvalidRequest("no such workstation", code="unknown_station", field="station_id")
    if station.revoked:
        raise InvalidRequest("that workstation was revoked", code="station_revoked",
                             field="station_id")
    return station.id


async def record_assignment(
    state: AppState, participant: Participant, actor: str, previous: str | None = None
) -> None:
    """Audit a change of a participant's workstation in the hearing's timeline."""
    if participant.station_id is not None:
        await state.audit.record(participant.hearing_id, "station_assigned", actor,
                                 participant_id=participant.id,
                                 station_id=participant.station_id)
    elif previous is not None:
        await state.audit.record(participant.hearing_id, "station_unassigned", actor,
                                 participant_id=participant.id, station_id=previous)

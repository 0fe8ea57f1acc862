"""``/api/hearings/{id}/legal-hold``: keep a hearing whatever the retention period.

Placing and lifting a hold enter the hearing's timeline and the court-wide one; the latter
outlives the hearing if it is later deleted.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from signaling.model import Hearing, utc_now
from signaling.retention import LegalHold, RetentionRule
from signaling.store import COURT_TIMELINE

from .admin_tokens import admin_actor
from .request_body import check_fields, read_json_object, string_field
from .state import AppState, app_state, stored_hearing

routes = web.RouteTableDef()


def retention_json(state: AppState, hearing: Hearing, hold: LegalHold | None) -> dict[str, Any]:
    """What a hearing's JSON says about its retention: the hold and when it may be deleted."""
    days = state.settings.retention_days
    return {
        "legal_hold": hold.to_json() if hold else None,
        # None: kept (no retention period, or under a hold).
        "retention_expires_at": RetentionRule(days).expires_at(hearing).isoformat()
        if days is not None and hold is None else None,
    }


@routes.put("/api/hearings/{hearing_id}/legal-hold")
async def place_legal_hold(request: web.Request) -> web.Response:
    """Place (or change the reason of) a legal hold: the hearing is never deleted while held."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(data, {"reason"})
    hold = LegalHold(hearing.id, utc_now(), admin_actor(request),
                     string_field(data, "reason").strip())
    await state.store.place_legal_hold(hold)
    for timeline in (hearing.id, COURT_TIMELINE):
        await state.audit.record(timeline, "legal_hold_placed", hold.placed_by,
                                 hearing=hearing.id, reason=hold.reason)
    return web.json_response(retention_json(state, hearing, hold))


@routes.delete("/api/hearings/{hearing_id}/legal-hold")
async def lift_legal_hold(request: web.Request) -> web.Response:
    """Lift the hold: the hearing is deleted once its retention period is over."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    if await state.store.lift_legal_hold(hearing.id):
        for timeline in (hearing.id, COURT_TIMELINE):
            await state.audit.record(timeline, "legal_hold_lifted", admin_actor(request),
                                     hearing=hearing.id)
    return web.json_response(retention_json(state, hearing, None))

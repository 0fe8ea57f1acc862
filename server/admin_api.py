"""The clerk's HTTP API under ``/api`` (documented in ``openapi.json``)."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any, TypeVar

import segno
from aiohttp import web

from signaling.errors import Conflict, InvalidRequest
from signaling.model import (
    DEFAULT_MAX_VIDEO_KBPS,
    Hearing,
    HearingKind,
    Language,
    Participant,
    Role,
    VideoCodec,
    new_id,
    utc_now,
)
from signaling.retention import LegalHold
from signaling.store import COURT_TIMELINE

from .admin_tokens import admin_actor
from .legal_hold_api import retention_json
from .request_body import (
    check_fields,
    datetime_field,
    int_field,
    query_datetime,
    read_json_object,
    string_field,
)
from .state import AppState, app_state, stored_hearing
from .station_assignment import assignable_station_id, record_assignment

routes = web.RouteTableDef()


E = TypeVar("E", HearingKind, Language, Role, VideoCodec)


def _enum_field(
    data: dict[str, Any], name: str, enum: type[E], code: str = "invalid_field"
) -> E:
    raw = string_field(data, name)
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidRequest(f"{name} must be one of: {allowed}", code=code, field=name) from None


@routes.get("/api/whoami")
async def whoami(request: web.Request) -> web.Response:
    """Lets the clerk page check a token at sign-in."""
    return web.json_response({"role": "admin", "name": admin_actor(request)})


@routes.post("/api/hearings")
async def create_hearing(request: web.Request) -> web.Response:
    """Schedule a hearing."""
    state = app_state(request)
    data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(
        data,
        {"case_number", "title", "kind", "starts_at", "duration_minutes", "language"},
        frozenset({"video_codec", "max_video_kbps"}),
    )
    now = utc_now()
    hearing = Hearing(
        id=new_id("h"),
        case_number=string_field(data, "case_number").strip(),
        title=string_field(data, "title").strip(),
        kind=_enum_field(data, "kind", HearingKind),
        starts_at=datetime_field(data, "starts_at"),
        duration_minutes=int_field(data, "duration_minutes"),
        language=_enum_field(data, "language", Language),
        video_codec=(
            _enum_field(data, "video_codec", VideoCodec) if "video_codec" in data
            else VideoCodec.VP8
        ),
        max_video_kbps=(
            int_field(data, "max_video_kbps") if "max_video_kbps" in data
            else DEFAULT_MAX_VIDEO_KBPS
        ),
        created_at=now,
    )
    if hearing.ends_at <= now:
        raise InvalidRequest("starts_at is so early that the hearing would already be over",
                             code="in_the_past",
                             field="starts_at")
    if hearing.starts_at > now + timedelta(days=3 * 365):
        raise InvalidRequest("starts_at is more than three years ahead", code="too_far_ahead",
                             field="starts_at")
    await state.store.add_hearing(hearing)
    await state.audit.record(hearing.id, "hearing_scheduled", admin_actor(request),
                             case_number=hearing.case_number)
    return web.json_response(_hearing_json(state, hearing, None), status=201)


def _hearing_json(state: AppState, hearing: Hearing, hold: LegalHold | None) -> dict[str, Any]:
    body = hearing.to_json()
    body.update(retention_json(state, hearing, hold))
    body["state"] = state.rooms.state_of(hearing).value
    room = state.rooms.get(hearing.id)
    body["connected"] = len(room.connected_ids()) if room else 0
    body["lobby"] = len(room.lobby_ids()) if room else 0
    return body


@routes.get("/api/hearings")
async def list_hearings(request: web.Request) -> web.Response:
    """Hearings starting in ``[from, to)``, with live status."""
    state = app_state(request)
    unknown = sorted(set(request.query) - {"from", "to"})
    if unknown:
        raise InvalidRequest(f"unknown query parameter {unknown[0]!r}", code="unknown_field")
    start, end = query_datetime(request, "from"), query_datetime(request, "to")
    if start and end and end <= start:
        raise InvalidRequest("'to' must be after 'from'", code="invalid_range")
    hearings = await state.store.list_hearings(start, end)
    holds = {hold.hearing_id: hold for hold in await state.store.list_legal_holds()}
    return web.json_response(
        {"hearings": [_hearing_json(state, h, holds.get(h.id)) for h in hearings]})


@routes.get("/api/hearings/{hearing_id}")
async def get_hearing(request: web.Request) -> web.Response:
    """A hearing with its participants and who is connected or waiting."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    room = state.rooms.get(hearing.id)
    participants = []
    for p in await state.store.list_participants(hearing.id):
        seat = room.seat_of(p.id) if room else None
        entry = p.public_json()
        entry["connected"] = seat is not None
        entry["state"] = seat.value if seat else "offline"
        participants.append(entry)
    body = _hearing_json(state, hearing, await state.store.get_legal_hold(hearing.id))
    body["participants"] = participants
    return web.json_response(body)


@routes.post("/api/hearings/{hearing_id}/participants")
async def add_participant(request: web.Request) -> web.Response:
    """Invite a participant; the answer carries their link and its QR code."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(data, {"display_name", "role"}, frozenset({"station_id"}))
    role = _enum_field(data, "role", Role, code="unknown_role")
    station_id = await assignable_station_id(state.store, data.get("station_id"))
    if hearing.ended_at is not None:
        raise Conflict("the hearing has ended")
    participant = Participant(
        id=new_id("p"),
        hearing_id=hearing.id,
        display_name=string_field(data, "display_name").strip(),
        role=role,
        created_at=utc_now(),
        station_id=station_id,
    )
    await state.store.add_participant(participant)
    await state.audit.record(hearing.id, "participant_invited", admin_actor(request),
                             participant_id=participant.id, role=role.value)
    await record_assignment(state, participant, admin_actor(request))
    token = state.rooms.links.issue(hearing, participant, utc_now())
    # The token sits in the fragment: browsers send neither it nor a Referer with it.
    join_url = f"{_public_base(request, state)}/join#{token}"
    body = participant.public_json()
    body["join_url"] = join_url
    # QR encoding takes milliseconds of CPU: off the loop, so live media is not delayed.
    body["join_qr_svg"] = await asyncio.to_thread(_qr_svg, join_url)
    return web.json_response(body, status=201)


def _public_base(request: web.Request, state: AppState) -> str:
    """QASHYQ_PUBLIC_URL, else the address the clerk reached this server at."""
    if state.settings.public_url:
        return state.settings.public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


def _qr_svg(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False)
    return buffer.getvalue().decode()


@routes.delete("/api/hearings/{hearing_id}/participants/{participant_id}")
async def revoke_participant(request: web.Request) -> web.Response:
    """Revoke a participant's link at once; a live page is closed."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    participant = await state.rooms.revoke(hearing.id, request.match_info["participant_id"],
                                           admin=admin_actor(request))
    return web.json_response(participant.public_json())


@routes.post("/api/hearings/{hearing_id}/end")
async def end_hearing(request: web.Request) -> web.Response:
    """End the hearing for everyone; ending twice is harmless."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    if hearing.ended_at is None:
        hearing = await state.rooms.end(hearing.id, admin=admin_actor(request))
    return web.json_response(
        _hearing_json(state, hearing, await state.store.get_legal_hold(hearing.id)))


# A page of the timeline: a flooded hearing's thousands of events must not be one answer.
EVENTS_PAGE_DEFAULT = 500
EVENTS_PAGE_MAX = 1000


def _query_count(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}",
                             code="invalid_field", field=name)
    return int(raw)


@routes.get("/api/hearings/{hearing_id}/events")
async def hearing_events(request: web.Request) -> web.Response:
    """A page of the hearing's audit timeline: ``limit`` events after the first ``after``;
    ``next`` is the ``after`` of the following page, null on the last."""
    state = app_state(request)
    unknown = sorted(set(request.query) - {"after", "limit"})
    if unknown:
        raise InvalidRequest(f"unknown query parameter {unknown[0]!r}", code="unknown_field")
    after = _query_count(request, "after", 0, 0, 2**53)
    limit = _query_count(request, "limit", EVENTS_PAGE_DEFAULT, 1, EVENTS_PAGE_MAX)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    # One more than asked says whether another page follows.
    events = await state.store.list_events(hearing.id, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return web.json_response({
        "events": [e.to_json() for e in events],
        "next": after + len(events) if more else None,
    })


@routes.get("/api/audit")
async def court_events(request: web.Request) -> web.Response:
    """The court-wide timeline: admin tokens created and revoked, legal holds, and what the
    retention sweep deleted (which outlives the hearings it names)."""
    events = await app_state(request).store.list_events(COURT_TIMELINE)
    return web.json_response({"events": [e.to_json() for e in events]})

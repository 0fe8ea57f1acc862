"""Facility workstations over HTTP: the clerk's ``/api/stations`` and the station's own API.

Two kinds of caller, two kinds of credential, never interchangeable:

- the clerk (admin token) creates, lists, re-enrols and revokes stations and assigns
  participants to them;
- a workstation (station credential, ``qs_...``) lists its hearings and fetches a fresh
  participant link to join one, under ``/api/station/``.

``POST /api/stations/enrol`` needs neither: the one-time enrolment code in its body is the
credential, and the answer is the station credential the workstation keeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from signaling.errors import (
    Conflict,
    EnrolmentCodeInvalid,
    Forbidden,
    HearingEnded,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    StationRevoked,
    TooEarly,
    WrongCredentialKind,
)
from signaling.model import Participant, new_id, utc_now
from signaling.room_member import HearingState
from signaling.station import Station, station_id_of_code, station_id_of_credential

from .admin_api import _public_base, _qr_svg
from .admin_tokens import TOKEN_PREFIX as ADMIN_TOKEN_PREFIX
from .admin_tokens import admin_actor
from .bearer import bearer_credential
from .request_body import check_fields, query_datetime, read_json_object, string_field
from .route_access import Access, access
from .state import AppState, app_state, stored_hearing
from .station_assignment import assignable_station_id, record_assignment

STATION_API_PREFIX = "/api/station/"
ENROL_PATH = "/api/stations/enrol"
ENROLMENT_VALID_FOR = timedelta(hours=24)
# A station asks for its own day; a longer range is a mistake, and would read many hearings.
MAX_LISTING_RANGE = timedelta(days=2)

STATION_KEY = web.RequestKey("qashyq_station", Station)

routes = web.RouteTableDef()


# ---- station authentication -------------------------------------------------------------


async def authenticate_station(request: web.Request) -> None:
    """Check the station credential of a ``/api/station/`` request and remember the station.

    Called by the server's auth middleware for routes marked ``Access.STATION``.
    """
    credential = bearer_credential(
        request.headers.get("Authorization"),
        missing="this workstation is not enrolled: send its station credential",
    )
    if credential.startswith(ADMIN_TOKEN_PREFIX):
        raise WrongCredentialKind(
            "admin tokens are not accepted here; this endpoint needs a station credential"
        )
    station = await app_state(request).store.get_station(station_id_of_credential(credential))
    if station is None:
        raise NotAuthenticated("the station credential is not known to this server")
    station.check_credential(credential)
    request[STATION_KEY] = station


# ---- shared checks ------------------------------------------------------------------------


async def _station_or_404(state: AppState, station_id: str) -> Station:
    station = await state.store.get_station(station_id)
    if station is None:
        raise NotFound("no such workstation")
    return station


def _enrolment_body(
    request: web.Request, state: AppState, station: Station, code: str
) -> dict[str, Any]:
    body = station.public_json(utc_now())
    # The code rides in the fragment, like participant tokens: never in logs or Referer.
    body["enrol_url"] = f"{_public_base(request, state)}/station#enrol={code}"
    return body


async def _with_qr(body: dict[str, Any]) -> dict[str, Any]:
    # QR encoding takes milliseconds of CPU: off the loop, so live media is not delayed.
    body["enrol_qr_svg"] = await asyncio.to_thread(_qr_svg, body["enrol_url"])
    return body


# ---- the clerk's side ---------------------------------------------------------------------


@routes.post(ENROL_PATH)
@access(Access.PUBLIC)  # the enrolment code is the credential
async def enrol_station(request: web.Request) -> web.Response:
    """A workstation exchanges its one-time enrolment code for its station credential."""
    state = app_state(request)
    data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(data, {"code"})
    code = string_field(data, "code").strip()
    station = await state.store.get_station(station_id_of_code(code))
    if station is None:
        raise EnrolmentCodeInvalid("the enrolment code is not known to this server",
                                   reason="unknown")
    now = utc_now()
    enrolled, credential = station.enrolled(code, now)
    # Of concurrent exchanges of one code, only the first write wins: every other one read
    # the code's station before it was used, and must not hand out a credential.
    if not await state.store.replace_station(station, enrolled):
        raise EnrolmentCodeInvalid(
            "the enrolment code was already used or replaced; ask the clerk for a new link",
            reason="used",
        )
    await state.audit.record(station.id, "station_enrolled", "station",
                             user_agent=request.headers.get("User-Agent", "")[:200])
    return web.json_response(
        {"credential": credential, "station": _station_summary(enrolled)}, status=201
    )


@routes.post("/api/stations")
async def create_station(request: web.Request) -> web.Response:
    """Create a workstation; the answer carries its one-time enrolment link and QR code."""
    state = app_state(request)
    data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(data, {"name", "facility"})
    station, code = Station.create(
        new_id("s"),
        string_field(data, "name").strip(),
        string_field(data, "facility").strip(),
        utc_now(),
        ENROLMENT_VALID_FOR,
    )
    await state.store.add_station(station)
    await state.audit.record(station.id, "station_created", admin_actor(request), name=station.name,
                             facility=station.facility)
    return web.json_response(
        await _with_qr(_enrolment_body(request, state, station, code)), status=201
    )


@routes.get("/api/stations")
async def list_stations(request: web.Request) -> web.Response:
    """Every workstation with its status, revoked ones included."""
    state = app_state(request)
    now = utc_now()
    return web.json_response(
        {"stations": [s.public_json(now) for s in await state.store.list_stations()]}
    )


@routes.get("/api/stations/{station_id}")
async def get_station(request: web.Request) -> web.Response:
    """One workstation."""
    state = app_state(request)
    station = await _station_or_404(state, request.match_info["station_id"])
    return web.json_response(station.public_json(utc_now()))


@routes.post("/api/stations/{station_id}/enrolment")
async def new_enrolment_code(request: web.Request) -> web.Response:
    """A fresh one-time enrolment link (e.g. the workstation's browser was reset)."""
    state = app_state(request)
    station = await _station_or_404(state, request.match_info["station_id"])
    renewed, code = station.with_new_enrolment_code(utc_now(), ENROLMENT_VALID_FOR)
    # Not a blind save: it would undo an enrolment that happened since the read, and the
    # workstation would hold a credential that no longer works.
    if not await state.store.replace_station(station, renewed):
        raise Conflict("the workstation changed meanwhile (enrolled or revoked); try again")
    station = renewed
    await state.audit.record(station.id, "station_enrolment_issued", admin_actor(request))
    return web.json_response(await _with_qr(_enrolment_body(request, state, station, code)))


@routes.delete("/api/stations/{station_id}")
async def revoke_station(request: web.Request) -> web.Response:
    """Revoke a workstation at once: its credential stops working, a live hearing page closes."""
    state = app_state(request)
    station = await _station_or_404(state, request.match_info["station_id"])
    if not station.revoked:
        station = station.revoked_now(utc_now())
        await state.store.save_station(station)
        await state.audit.record(station.id, "station_revoked", admin_actor(request))
    await _close_live_pages(state, station.id, admin_actor(request))
    return web.json_response(station.public_json(utc_now()))


async def _close_live_pages(state: AppState, station_id: str, actor: str) -> None:
    """Close every connected page of a participant assigned to this station."""
    for room in state.rooms.live_rooms():
        connected = set(room.connected_ids())
        if not connected:
            continue
        for participant in await state.store.list_participants(room.hearing.id):
            if participant.id in connected and participant.station_id == station_id:
                await room.revoke(
                    participant.id, StationRevoked("this workstation was revoked by the court")
                )
                await state.audit.record(room.hearing.id, "station_revoked", actor,
                                         participant_id=participant.id, station_id=station_id)


@routes.get("/api/stations/{station_id}/events")
async def station_events(request: web.Request) -> web.Response:
    """The workstation's own timeline: created, enrolled, joins, revoked."""
    state = app_state(request)
    station = await _station_or_404(state, request.match_info["station_id"])
    events = await state.store.list_events(station.id)
    return web.json_response({"events": [e.to_json() for e in events]})


@routes.put("/api/hearings/{hearing_id}/participants/{participant_id}/station")
async def assign_station(request: web.Request) -> web.Response:
    """Assign a participant to a workstation (``station_id``), or unassign (null)."""
    state = app_state(request)
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    participant = await state.store.get_participant(
        hearing.id, request.match_info["participant_id"]
    )
    if participant is None:
        raise NotFound("no such participant in this hearing")
    data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(data, {"station_id"})
    station_id = await assignable_station_id(state.store, data["station_id"])
    if hearing.ended_at is not None:
        raise Conflict("the hearing has ended")
    if participant.revoked:
        raise Conflict("the participant's link was revoked")
    if participant.station_id != station_id:
        previous = participant.station_id
        participant = dataclasses.replace(participant, station_id=station_id)
        await state.store.save_participant(participant)
        await record_assignment(state, participant, admin_actor(request), previous)
    return web.json_response(participant.public_json())


# ---- the workstation's side ---------------------------------------------------------------


def _station_summary(station: Station) -> dict[str, Any]:
    return {"id": station.id, "name": station.name, "facility": station.facility}


def _assigned(participants: list[Participant], station_id: str) -> list[Participant]:
    return [p for p in participants if p.station_id == station_id and not p.revoked]


@routes.get(STATION_API_PREFIX + "hearings")
@access(Access.STATION)
async def station_hearings(request: web.Request) -> web.Response:
    """The hearings this workstation joins in ``[from, to)`` (default: today in UTC)."""
    state = app_state(request)
    station = request[STATION_KEY]
    unknown = sorted(set(request.query) - {"from", "to"})
    if unknown:
        raise InvalidRequest(f"unknown query parameter {unknown[0]!r}", code="unknown_field")
    now = utc_now()
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    start = query_datetime(request, "from") or day
    end = query_datetime(request, "to") or start + timedelta(days=1)
    if end <= start or end - start > MAX_LISTING_RANGE:
        raise InvalidRequest("'to' must be after 'from', and at most two days later",
                             code="invalid_range")
    policy = state.rooms.links.policy
    listed = []
    for hearing in await state.store.list_hearings(start, end):
        mine = _assigned(await state.store.list_participants(hearing.id), station.id)
        if not mine:
            continue
        listed.append({
            **hearing.summary_json(),
            "opens_at": (hearing.starts_at - policy.opens_before_start).isoformat(),
            "state": state.rooms.state_of(hearing).value,
            "participant": {
                "id": mine[0].id,
                "display_name": mine[0].display_name,
                "role": mine[0].role.value,
            },
        })
    return web.json_response(
        {"station": _station_summary(station), "now": now.isoformat(), "hearings": listed}
    )


@routes.post(STATION_API_PREFIX + "hearings/{hearing_id}/join")
@access(Access.STATION)
async def station_join(request: web.Request) -> web.Response:
    """A fresh participant link for the seat this workstation holds in the hearing."""
    state = app_state(request)
    station = request[STATION_KEY]
    data: dict[str, Any] = {}
    if request.body_exists:
        data = await read_json_object(request, state.settings.max_body_bytes)
    check_fields(data, set(), frozenset({"participant_id"}))
    hearing = await stored_hearing(state, request.match_info["hearing_id"])
    mine = _assigned(await state.store.list_participants(hearing.id), station.id)
    if "participant_id" in data:
        wanted = string_field(data, "participant_id")
        mine = [p for p in mine if p.id == wanted]
    if not mine:
        raise Forbidden("no participant of this hearing joins from this workstation")
    if state.rooms.state_of(hearing) is HearingState.ENDED:
        raise HearingEnded("the hearing has ended")
    now = utc_now()
    opens = hearing.starts_at - state.rooms.links.policy.opens_before_start
    if now < opens:
        raise TooEarly(hearing.starts_at, opens)
    participant = mine[0]
    token = state.rooms.links.issue(hearing, participant, now, station_id=station.id)
    await state.audit.record(hearing.id, "station_join", station.id,
                             participant_id=participant.id, station_id=station.id)
    await state.audit.record(station.id, "station_join", station.id, hearing=hearing.id,
                             participant_id=participant.id)
    return web.json_response({
        "hearing_id": hearing.id,
        "participant_id": participant.id,
        "join_url": f"{_public_base(request, state)}/join#{token}",
    })

"""Facility workstations through the HTTP API: enrolment, assignment, listing, joining, revocation.

The browser side of the same flow is in ``test_browser_station.py``; here are the rules a
court's IT person relies on, bad input above all.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.admin_tokens import create_admin_token
from server.app import create_app
from server.config import Settings
from server.state import STATE_KEY
from signaling.model import utc_now
from tests.fixtures.app_server import Api
from tests.fixtures.signaling_client import SignalingClient


async def create_station(api: Api, name: str = "Кабинет 3") -> dict[str, Any]:
    """Create a station; the body gains ``code`` (from its enrolment link)."""
    status, body = await api.call("POST", "/api/stations",
                                  json={"name": name, "facility": "СИЗО-1, Алматы"})
    assert status == 201, body
    body["code"] = body["enrol_url"].split("#enrol=", 1)[1]
    result: dict[str, Any] = body
    return result


async def enrol(api: Api, code: str) -> tuple[int, Any]:
    """What a workstation's page does with its enrolment link (no admin token)."""
    async with api.http.post(api.url("/api/stations/enrol"), json={"code": code}) as r:
        return r.status, await r.json()


async def as_station(
    api: Api, credential: str, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    """A request with a station credential instead of the admin token."""
    headers = {"Authorization": f"Bearer {credential}"}
    async with api.http.request(method, api.url(path), headers=headers, **kwargs) as r:
        return r.status, await r.json()


async def enrolled_station(api: Api, name: str = "Кабинет 3") -> tuple[dict[str, Any], str]:
    station = await create_station(api, name)
    status, body = await enrol(api, station["code"])
    assert status == 201, body
    credential: str = body["credential"]
    return station, credential


async def test_enrolment_code_works_once_and_the_credential_is_kept_only_hashed(
    api: Api,
) -> None:
    station = await create_station(api)
    assert station["status"] == "awaiting_enrolment"
    assert station["enrol_url"].startswith(api.base_url + "/station#enrol=qe_")
    assert station["enrol_qr_svg"].lstrip().startswith("<svg")
    expires = datetime.fromisoformat(station["enrolment_expires_at"])
    assert timedelta(hours=23) < expires - utc_now() <= timedelta(hours=24)

    status, body = await enrol(api, station["code"])
    assert status == 201, body
    assert body["station"] == {"id": station["id"], "name": "Кабинет 3",
                               "facility": "СИЗО-1, Алматы"}
    credential = body["credential"]
    assert credential.startswith("qs_")

    status, again = await enrol(api, station["code"])
    assert (status, again["code"], again["details"]["reason"]) == (
        401, "enrolment_code_invalid", "used")

    status, listed = await api.call("GET", "/api/stations")
    assert status == 200
    [entry] = listed["stations"]
    assert entry["status"] == "enrolled" and entry["enrolled_at"]
    # Neither secret is stored or shown: only hashes, and the API shows not even those.
    stored = await api.http.app[STATE_KEY].store.get_station(station["id"])  # type: ignore[union-attr]
    assert credential not in repr(stored) and station["code"] not in repr(stored)
    assert "hash" not in " ".join(entry)

    status, events = await api.call("GET", f"/api/stations/{station['id']}/events")
    assert [e["kind"] for e in events["events"]] == ["station_created", "station_enrolled"]


async def test_expired_malformed_and_unknown_enrolment_codes_are_refused(api: Api) -> None:
    station = await create_station(api)
    # The clerk created it more than 24 hours ago.
    store = api.http.app[STATE_KEY].store  # type: ignore[union-attr]
    stored = await store.get_station(station["id"])
    await store.save_station(dataclasses.replace(
        stored, enrolment_expires_at=utc_now() - timedelta(seconds=1)))

    status, body = await enrol(api, station["code"])
    assert (status, body["code"], body["details"]["reason"]) == (
        401, "enrolment_code_invalid", "expired")
    status, listed = await api.call("GET", f"/api/stations/{station['id']}")
    assert listed["status"] == "enrolment_expired"

    # A new link from the clerk works, and the expired one stays dead.
    status, renewed = await api.call("POST", f"/api/stations/{station['id']}/enrolment")
    assert status == 200 and renewed["status"] == "awaiting_enrolment"
    new_code = renewed["enrol_url"].split("#enrol=", 1)[1]
    assert (await enrol(api, station["code"]))[0] == 401
    assert (await enrol(api, new_code))[0] == 201

    for bad in ["", "qe_nonsense", "qs_" + new_code[3:], "x" * 500,
                "qe_s_unknown12345." + "a" * 32]:
        status, body = await enrol(api, bad)
        assert (status, body["code"]) == (401, "enrolment_code_invalid"), bad
    for bad_body in [{"code": 5}, {}, {"code": new_code, "extra": 1}]:
        async with api.http.post(api.url("/api/stations/enrol"), json=bad_body) as r:
            assert r.status == 400, bad_body


async def test_credentials_are_not_interchangeable(api: Api) -> None:
    _station, credential = await enrolled_station(api)

    # An admin token is refused on the station's API, a station credential on the admin one.
    status, body = await api.call("GET", "/api/station/hearings")
    assert (status, body["code"]) == (401, "wrong_credential_kind")
    status, body = await as_station(api, credential, "GET", "/api/hearings")
    assert (status, body["code"]) == (401, "wrong_credential_kind")
    status, body = await as_station(api, credential, "GET", "/api/stations")
    assert (status, body["code"]) == (401, "wrong_credential_kind")

    for bad in ["", "qs_s_unknown12345." + "b" * 40, credential[:-2] + "zz", "qs_garbage"]:
        status, body = await as_station(api, bad, "GET", "/api/station/hearings")
        assert (status, body["code"]) == (401, "not_authenticated"), bad
    async with api.http.get(api.url("/api/station/hearings")) as r:
        assert r.status == 401

    status, body = await as_station(api, credential, "GET", "/api/station/hearings")
    assert status == 200 and body["hearings"] == []


async def test_assignment_listing_and_joining(api: Api) -> None:
    station, credential = await enrolled_station(api, "Кабинет 3")
    other, other_credential = await enrolled_station(api, "Кабинет 4")
    hearing = await api.create_hearing(case_number="1-77/2026")
    elsewhere = await api.create_hearing(case_number="1-78/2026")
    next_week = await api.create_hearing(
        case_number="1-79/2026",
        starts_at=(datetime.now(UTC) + timedelta(days=7)).isoformat())
    judge = await api.invite(hearing["id"], "judge")

    # Assigned when invited…
    status, defendant = await api.call(
        "POST", f"/api/hearings/{hearing['id']}/participants",
        json={"display_name": "Серікбаев Н.", "role": "defendant", "station_id": station["id"]})
    assert status == 201 and defendant["station_id"] == station["id"]
    # …or afterwards.
    witness = await api.invite(elsewhere["id"], "witness")
    status, moved = await api.call(
        "PUT", f"/api/hearings/{elsewhere['id']}/participants/{witness['id']}/station",
        json={"station_id": other["id"]})
    assert status == 200 and moved["station_id"] == other["id"]
    await api.call("POST", f"/api/hearings/{next_week['id']}/participants",
                   json={"display_name": "Later", "role": "defendant",
                         "station_id": station["id"]})

    status, listing = await as_station(api, credential, "GET", "/api/station/hearings")
    assert status == 200
    assert listing["station"]["name"] == "Кабинет 3"
    [entry] = listing["hearings"]
    assert entry["id"] == hearing["id"] and entry["case_number"] == "1-77/2026"
    assert entry["participant"]["display_name"] == "Серікбаев Н."
    assert entry["state"] == "scheduled"
    status, listing = await as_station(api, other_credential, "GET", "/api/station/hearings")
    assert [h["id"] for h in listing["hearings"]] == [elsewhere["id"]]

    # Another station's hearing cannot be joined.
    status, body = await as_station(api, credential, "POST",
                                    f"/api/station/hearings/{elsewhere['id']}/join")
    assert (status, body["code"]) == (403, "forbidden")

    status, joined = await as_station(api, credential, "POST",
                                      f"/api/station/hearings/{hearing['id']}/join")
    assert status == 200, joined
    assert joined["participant_id"] == defendant["id"]
    token = joined["join_url"].split("/join#", 1)[1]
    page = await SignalingClient.connect(api.http, api.url("/ws"), token)
    welcome = await page.expect("welcome")
    assert welcome["you"]["display_name"] == "Серікбаев Н."
    assert welcome["you"]["state"] == "lobby"
    await page.close()

    status, events = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    kinds = [e["kind"] for e in events["events"]]
    assert "station_assigned" in kinds and "station_join" in kinds
    assert judge["id"] not in {e["data"].get("participant_id") for e in events["events"]
                               if e["kind"].startswith("station")}

    # Moving the participant to another station kills the link the first one fetched.
    status, _ = await api.call(
        "PUT", f"/api/hearings/{hearing['id']}/participants/{defendant['id']}/station",
        json={"station_id": other["id"]})
    assert status == 200
    stale = await SignalingClient.connect(api.http, api.url("/ws"), token)
    assert (await stale.expect("error"))["code"] == "link_revoked"
    assert await stale.closed() == 4403


async def test_assignment_refuses_unknown_and_revoked_stations(api: Api) -> None:
    hearing = await api.create_hearing()
    station, _ = await enrolled_station(api)
    revoked, _ = await enrolled_station(api, "Old room")
    assert (await api.call("DELETE", f"/api/stations/{revoked['id']}"))[0] == 200
    person = await api.invite(hearing["id"], "defendant")
    path = f"/api/hearings/{hearing['id']}/participants"

    for station_id, code in [("s_missing", "unknown_station"), (revoked["id"], "station_revoked"),
                             (7, "wrong_type")]:
        status, body = await api.call("POST", path, json={
            "display_name": "X", "role": "defendant", "station_id": station_id})
        assert (status, body["code"], body["details"]["field"]) == (400, code, "station_id")
        status, body = await api.call("PUT", f"{path}/{person['id']}/station",
                                      json={"station_id": station_id})
        assert (status, body["code"]) == (400, code)
    # Nothing was stored by the refused calls.
    status, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
    assert [p["station_id"] for p in detail["participants"]] == [None]

    assert (await api.call("PUT", f"{path}/p_missing/station",
                           json={"station_id": station["id"]}))[0] == 404
    assert (await api.call("PUT", f"{path}/{person['id']}/station", json={}))[0] == 400
    assert (await api.call("DELETE", "/api/stations/s_missing"))[0] == 404
    status, body = await api.call("PUT", f"{path}/{person['id']}/station",
                                  json={"station_id": None})
    assert status == 200 and body["station_id"] is None


async def test_revocation_refuses_the_credential_and_closes_the_live_page(api: Api) -> None:
    station, credential = await enrolled_station(api)
    hearing = await api.create_hearing()
    status, defendant = await api.call(
        "POST", f"/api/hearings/{hearing['id']}/participants",
        json={"display_name": "Подсудимый", "role": "defendant", "station_id": station["id"]})
    status, joined = await as_station(api, credential, "POST",
                                      f"/api/station/hearings/{hearing['id']}/join")
    token = joined["join_url"].split("/join#", 1)[1]
    page = await SignalingClient.connect(api.http, api.url("/ws"), token)
    await page.expect("welcome")

    status, body = await api.call("DELETE", f"/api/stations/{station['id']}")
    assert status == 200 and body["status"] == "revoked"

    assert (await page.expect("error"))["code"] == "station_revoked"
    assert await page.closed() == 4403
    status, body = await as_station(api, credential, "GET", "/api/station/hearings")
    assert (status, body["code"]) == (403, "station_revoked")
    again = await SignalingClient.connect(api.http, api.url("/ws"), token)
    assert (await again.expect("error"))["code"] == "station_revoked"
    assert await again.closed() == 4403
    # Revoking twice is harmless; a revoked station cannot be re-enrolled.
    assert (await api.call("DELETE", f"/api/stations/{station['id']}"))[0] == 200
    status, body = await api.call("POST", f"/api/stations/{station['id']}/enrolment")
    assert (status, body["code"]) == (403, "station_revoked")

    status, events = await api.call("GET", f"/api/stations/{station['id']}/events")
    assert [e["kind"] for e in events["events"]][-2:] == ["station_join", "station_revoked"]
    status, events = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    assert any(e["kind"] == "station_revoked" and e["data"]["participant_id"] == defendant["id"]
               for e in events["events"])


@pytest.fixture(params=["embedded", "redis"])
def settings_on_each_store(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test's settings on the embedded store, then on a real, empty Redis."""
    if request.param == "embedded":
        return settings
    # Requested only for the Redis case, so the embedded half runs without a redis-server.
    return dataclasses.replace(settings, redis_url=request.getfixturevalue("fresh_redis_url"))


@pytest.fixture
async def api_on_each_store(aiohttp_client: Any, settings_on_each_store: Settings
                            ) -> AsyncIterator[Api]:
    """An in-process server on each store backend, and an admin client for it."""
    app = create_app(settings_on_each_store)
    client = await aiohttp_client(app)
    token = await create_admin_token(app[STATE_KEY].store)
    yield Api(client, token, str(client.make_url("")).rstrip("/"))


async def test_ten_concurrent_exchanges_of_one_code_give_one_working_credential(
    api_on_each_store: Api,
) -> None:
    api = api_on_each_store
    station = await create_station(api)

    async def warm() -> None:
        async with api.http.get(api.url("/healthz")) as r:
            assert r.status == 200

    # Ten open keep-alive connections: the ten exchanges reach the server together, as ten
    # workstations' pages (or one page retried) would.
    await asyncio.gather(*(warm() for _ in range(10)))
    answers = await asyncio.gather(*(enrol(api, station["code"]) for _ in range(10)))

    granted = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status != 201]
    assert len(granted) == 1, answers
    assert [(b["code"], b["details"]["reason"]) for b in refused] == [
        ("enrolment_code_invalid", "used")] * 9
    # The credential handed out is the one the server accepts.
    status, body = await as_station(api, granted[0]["credential"], "GET",
                                    "/api/station/hearings")
    assert status == 200, body
    status, events = await api.call("GET", f"/api/stations/{station['id']}/events")
    assert [e["kind"] for e in events["events"]] == ["station_created", "station_enrolled"]

"""The clerk's HTTP API: what a clerk (or their script) sees for good and bad requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.app_server import ADMIN_TOKEN_NAME, Api, hearing_body


async def test_schedule_hearing_and_read_it_back(api: Api) -> None:
    created = await api.create_hearing(starts_at="2027-03-01T10:00:00+05:00",
                                       duration_minutes=90, language="kk")
    assert created["id"].startswith("h_")
    assert created["state"] == "scheduled"
    assert created["ends_at"] == "2027-03-01T11:30:00+05:00"
    status, body = await api.call("GET", f"/api/hearings/{created['id']}")
    assert status == 200
    assert body["case_number"] == "2-1045/2026"
    assert body["language"] == "kk"
    assert body["participants"] == []


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"colour": "red"}, "unknown_field", "colour"),
        ({"duration_minutes": "60"}, "wrong_type", "duration_minutes"),
        ({"duration_minutes": True}, "wrong_type", "duration_minutes"),
        ({"duration_minutes": 60.5}, "wrong_type", "duration_minutes"),
        ({"duration_minutes": 0}, "invalid_field", "duration_minutes"),
        ({"duration_minutes": 100000}, "invalid_field", "duration_minutes"),
        ({"starts_at": "2027-02-30T10:00:00+05:00"}, "invalid_date", "starts_at"),
        ({"starts_at": "2027-03-01T25:00:00+05:00"}, "invalid_date", "starts_at"),
        ({"starts_at": "2027-03-01T10:00:00"}, "invalid_date", "starts_at"),
        ({"starts_at": "tomorrow"}, "invalid_date", "starts_at"),
        ({"starts_at": "2020-01-01T10:00:00+00:00"}, "in_the_past", "starts_at"),
        ({"kind": "tribunal"}, "invalid_field", "kind"),
        ({"language": "de"}, "invalid_field", "language"),
        ({"title": ""}, "invalid_field", "title"),
        ({"title": 42}, "wrong_type", "title"),
        ({"case_number": "x" * 65}, "invalid_field", "case_number"),
        ({"video_codec": "av1"}, "invalid_field", "video_codec"),
    ],
)
async def test_bad_hearing_is_refused_and_nothing_stored(
    api: Api, change: dict[str, Any], code: str, field: str
) -> None:
    status, body = await api.call("POST", "/api/hearings", json=hearing_body(**change))
    assert status == 400, body
    assert body["code"] == code
    assert field in body["message"]
    _, listing = await api.call("GET", "/api/hearings")
    assert listing["hearings"] == []


async def test_missing_field_is_named(api: Api) -> None:
    body = hearing_body()
    del body["title"]
    status, err = await api.call("POST", "/api/hearings", json=body)
    assert (status, err["code"]) == (400, "missing_field")
    assert "title" in err["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", "\"текст\"".encode()])
async def test_malformed_json_is_refused(api: Api, raw: bytes) -> None:
    status, body = await api.call("POST", "/api/hearings", data=raw,
                                  headers={"Content-Type": "application/json"})
    assert status == 400
    assert body["code"] == "bad_json"


async def test_oversized_body_is_refused(api: Api) -> None:
    body = hearing_body(title="x" * 200_000)
    status, err = await api.call("POST", "/api/hearings", data=json.dumps(body))
    assert status == 413
    assert err["code"] == "too_large"
    _, listing = await api.call("GET", "/api/hearings")
    assert listing["hearings"] == []


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer qa_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer wrongprefix"],
)
async def test_admin_endpoints_need_a_known_token(api: Api, header: str | None) -> None:
    hearing = await api.create_hearing()
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("GET", "/api/hearings"),
        ("POST", "/api/hearings"),
        ("GET", f"/api/hearings/{hearing['id']}"),
        ("POST", f"/api/hearings/{hearing['id']}/participants"),
        ("DELETE", f"/api/hearings/{hearing['id']}/participants/p_x"),
        ("POST", f"/api/hearings/{hearing['id']}/end"),
        ("GET", f"/api/hearings/{hearing['id']}/events"),
        ("GET", "/api/whoami"),
        ("GET", "/metrics"),
    ]:
        async with api.http.request(method, api.url(path), headers=headers) as r:
            assert r.status == 401, (method, path)
            assert (await r.json())["code"] == "not_authenticated"


async def test_invite_gives_a_fragment_link_and_qr(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "witness", "Айгүл Сейітова")
    assert invited["role"] == "witness"
    assert invited["display_name"] == "Айгүл Сейітова"
    base, _, token = invited["join_url"].partition("/join#")
    assert base == api.base_url
    assert token.count(".") == 2  # a JWT, in the fragment and not in a query
    assert "?" not in invited["join_url"]
    assert invited["join_qr_svg"].lstrip().startswith("<svg")
    assert "link_id" not in invited


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"display_name": "X", "role": "king"}, "unknown_role"),
        ({"display_name": "X", "role": "judge", "admin": True}, "unknown_field"),
        ({"display_name": "", "role": "judge"}, "invalid_field"),
        ({"display_name": 5, "role": "judge"}, "wrong_type"),
        ({"role": "judge"}, "missing_field"),
    ],
)
async def test_bad_participant_is_refused(api: Api, body: dict[str, Any], code: str) -> None:
    hearing = await api.create_hearing()
    status, err = await api.call("POST", f"/api/hearings/{hearing['id']}/participants", json=body)
    assert (status, err["code"]) == (400, code)
    _, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
    assert detail["participants"] == []


async def test_unknown_hearing_is_404(api: Api) -> None:
    for method, path in [
        ("GET", "/api/hearings/h_nope"),
        ("POST", "/api/hearings/h_nope/participants"),
        ("POST", "/api/hearings/h_nope/end"),
        ("GET", "/api/hearings/h_nope/events"),
        ("DELETE", "/api/hearings/h_nope/participants/p_x"),
    ]:
        status, err = await api.call(method, path, json={"display_name": "A", "role": "judge"})
        assert (status, err["code"]) == (404, "not_found"), (method, path)


async def test_list_filters_by_date_range(api: Api) -> None:
    day = datetime(2027, 5, 10, tzinfo=UTC)
    early = await api.create_hearing(starts_at=(day + timedelta(hours=4)).isoformat())
    late = await api.create_hearing(starts_at=(day + timedelta(hours=30)).isoformat())
    # The same instant written in Almaty's offset is compared correctly.
    almaty = (day + timedelta(hours=4)).astimezone(
        datetime.fromisoformat("2027-05-10T00:00:00+05:00").tzinfo
    )
    status, body = await api.call("GET", "/api/hearings", params={
        "from": almaty.isoformat(), "to": (day + timedelta(days=1)).isoformat()})
    assert status == 200
    assert [h["id"] for h in body["hearings"]] == [early["id"]]
    _, everything = await api.call("GET", "/api/hearings")
    assert [h["id"] for h in everything["hearings"]] == [early["id"], late["id"]]
    status, err = await api.call("GET", "/api/hearings", params={"from": "yesterday"})
    assert (status, err["code"]) == (400, "invalid_date")
    status, err = await api.call("GET", "/api/hearings", params={"limit": "5"})
    assert (status, err["code"]) == (400, "unknown_field")


async def test_revoke_and_end_are_in_the_audit_timeline(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "lawyer")
    status, revoked = await api.call(
        "DELETE", f"/api/hearings/{hearing['id']}/participants/{invited['id']}")
    assert status == 200 and revoked["revoked_at"]
    status, ended = await api.call("POST", f"/api/hearings/{hearing['id']}/end")
    assert status == 200 and ended["state"] == "ended" and ended["ended_at"]
    status, again = await api.call("POST", f"/api/hearings/{hearing['id']}/end")
    assert status == 200 and again["ended_at"] == ended["ended_at"]
    status, err = await api.call("POST", f"/api/hearings/{hearing['id']}/participants",
                                 json={"display_name": "Late", "role": "witness"})
    assert (status, err["code"]) == (409, "conflict")
    _, timeline = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    kinds = [e["kind"] for e in timeline["events"]]
    assert kinds == ["hearing_scheduled", "participant_invited", "link_revoked", "hearing_ended"]
    assert all(e["at"] and e["actor"] == ADMIN_TOKEN_NAME for e in timeline["events"])


async def test_the_timeline_is_read_in_pages_with_a_cursor(api: Api) -> None:
    hearing = await api.create_hearing()
    for i in range(6):
        await api.invite(hearing["id"], "witness", f"Witness {i}")
    path = f"/api/hearings/{hearing['id']}/events"
    _, whole = await api.call("GET", path)
    assert len(whole["events"]) == 7 and whole["next"] is None

    pages, after = [], 0
    while after is not None:
        status, page = await api.call("GET", path, params={"after": str(after), "limit": "3"})
        assert status == 200 and len(page["events"]) <= 3
        pages.append(page["events"])
        after = page["next"]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [e for p in pages for e in p] == whole["events"]

    # A page read to the end, asked again from where it stopped, gets only what is new.
    await api.invite(hearing["id"], "lawyer")
    _, fresh = await api.call("GET", path, params={"after": "7"})
    assert [e["kind"] for e in fresh["events"]] == ["participant_invited"]
    assert fresh["events"][0]["data"]["role"] == "lawyer" and fresh["next"] is None

    for bad in ({"limit": "0"}, {"limit": "1001"}, {"after": "-1"}, {"after": "x"}):
        status, err = await api.call("GET", path, params=bad)
        assert (status, err["code"]) == (400, "invalid_field"), bad
    status, err = await api.call("GET", path, params={"cursor": "3"})
    assert (status, err["code"]) == (400, "unknown_field")


async def test_openapi_documents_every_admin_route(api: Api) -> None:
    async with api.http.get(api.url("/api/openapi.json")) as r:  # no token needed
        assert r.status == 200
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
    }
    app = api.http.app  # type: ignore[union-attr]
    served = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and (path.startswith("/api/") or path == "/metrics") and route.method != "HEAD":
            served.add((route.method, path))
    assert served == documented


async def test_pages_carry_a_strict_csp(api: Api) -> None:
    for path in ["/admin", "/join", "/api/hearings"]:
        async with api.http.get(api.url(path), headers=api.auth) as r:
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["Referrer-Policy"] == "no-referrer"

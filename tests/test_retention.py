"""Retention: expired hearings are deleted by a daily sweep, never one under a legal hold,
and the court-wide timeline keeps what was deleted. The test moves the server's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.admin_tokens import create_admin_token
from server.app import create_app
from server.config import Settings
from server.retention_sweep import RETENTION_KEY
from server.state import STATE_KEY
from tests.fixtures.app_server import ADMIN_TOKEN_NAME, Api
from tests.fixtures.hearing_pages import admitted_page, joined_page
from tests.fixtures.polling import eventually, poll
from tests.test_recording import wait_ready


@pytest.fixture
def retention_settings(tmp_path: Path) -> Settings:
    """A 30-day retention period; two-second segments, so a short hearing is recorded."""
    return Settings(data_dir=tmp_path / "data", heartbeat_s=5.0, recording_segment_s=2,
                    retention_days=30)


async def _server(aiohttp_client: Any, settings: Settings, token: str | None = None,
                  **kwargs: Any) -> Api:
    app = create_app(settings, **kwargs)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    token = token or await create_admin_token(app[STATE_KEY].store, ADMIN_TOKEN_NAME)
    return Api(client, token, str(client.make_url("")).rstrip("/"))


async def _deleted(api: Api) -> list[dict[str, Any]]:
    status, body = await api.call("GET", "/api/audit")
    assert status == 200, body
    return [e for e in body["events"] if e["kind"] == "hearing_deleted"]


async def test_expired_hearings_are_deleted_unless_held_and_the_record_says_so(
    aiohttp_client: Any, retention_settings: Settings
) -> None:
    settings = retention_settings
    started = datetime.now(UTC)
    first = await _server(aiohttp_client, settings)
    recorded = await first.create_hearing(title="Recorded and ended")
    judge = await joined_page(first, await first.invite(recorded["id"], "judge"))
    witness = await admitted_page(first, judge, await first.invite(recorded["id"], "witness"))
    try:
        await eventually(lambda: judge.media.frames_from(witness.participant_id, "video") > 60,
                         what="two seconds of the witness's video")
        await judge.signaling.send({"type": "end"})
        await judge.signaling.expect("ended")
    finally:
        for page in (judge, witness):
            await page.close()
    await wait_ready(first, recorded["id"])
    never_ended = await first.create_hearing(title="Scheduled, never ended")
    later = await first.create_hearing(
        title="Next week", starts_at=(started + timedelta(days=5)).isoformat())
    held = await first.create_hearing(title="Under appeal")
    await first.call("POST", f"/api/hearings/{held['id']}/end")
    status, hold = await first.call("PUT", f"/api/hearings/{held['id']}/legal-hold",
                                    json={"reason": "appeal 2-77/2026"})
    assert status == 200, hold
    assert hold["legal_hold"]["placed_by"] == ADMIN_TOKEN_NAME
    assert hold["retention_expires_at"] is None
    _, detail = await first.call("GET", f"/api/hearings/{recorded['id']}")
    assert datetime.fromisoformat(detail["retention_expires_at"]) == \
        datetime.fromisoformat(detail["ended_at"]) + timedelta(days=30)
    await first.http.close()

    # Thirty days and two hours later: the server starts, and sweeps at once.
    month_later = started + timedelta(days=30, hours=2)
    second = await _server(aiohttp_client, settings, first.token, clock=lambda: month_later)

    async def two_deleted() -> list[dict[str, Any]]:
        found = await _deleted(second)
        return found if len(found) >= 2 else []

    deleted = await poll(two_deleted, 20, "the sweep at start to delete two hearings")

    assert sorted(e["data"]["hearing"] for e in deleted) == \
        sorted([recorded["id"], never_ended["id"]])
    for entry in deleted:
        assert entry["actor"] == "retention"
        assert datetime.fromisoformat(entry["at"]) == month_later
        assert entry["data"]["rule"].startswith("QASHYQ_RETENTION_DAYS=30")
    by_id = {e["data"]["hearing"]: e["data"] for e in deleted}
    assert by_id[recorded["id"]]["deleted"]["participants"] == 2
    assert by_id[recorded["id"]]["deleted"]["recording"] is True
    assert by_id[never_ended["id"]]["ended_at"] is None
    # The scheduled end counts for a hearing that was never ended.
    assert datetime.fromisoformat(by_id[never_ended["id"]]["expired_at"]) == \
        datetime.fromisoformat(never_ended["ends_at"]) + timedelta(days=30)

    for gone in (recorded, never_ended):
        status, body = await second.call("GET", f"/api/hearings/{gone['id']}")
        assert (status, body["code"]) == (404, "not_found")
        status, body = await second.call("GET", f"/api/hearings/{gone['id']}/events")
        assert status == 404
    assert not (settings.data_dir / "recordings" / recorded["id"]).exists()
    _, recordings = await second.call("GET", "/api/recordings")
    assert recorded["id"] not in [r["hearing_id"] for r in recordings["recordings"]]
    for kept in (later, held):
        status, _ = await second.call("GET", f"/api/hearings/{kept['id']}")
        assert status == 200

    # Lifting the hold: the next sweep deletes the hearing, after the lift in the record.
    status, lifted = await second.call("DELETE", f"/api/hearings/{held['id']}/legal-hold")
    assert (status, lifted["legal_hold"]) == (200, None)
    assert await second.http.server.app[RETENTION_KEY].sweep() == [held["id"]]
    _, court = await second.call("GET", "/api/audit")
    assert [(e["kind"], e["data"].get("hearing")) for e in court["events"]
            if e["data"].get("hearing") == held["id"]] == [
        ("legal_hold_placed", held["id"]),
        ("legal_hold_lifted", held["id"]),
        ("hearing_deleted", held["id"]),
    ]
    status, _ = await second.call("GET", f"/api/hearings/{later['id']}")
    assert status == 200


async def test_without_a_retention_period_nothing_expires(api: Api) -> None:
    hearing = await api.create_hearing()
    assert hearing["retention_expires_at"] is None
    assert RETENTION_KEY not in api.http.server.app


async def test_a_legal_hold_needs_a_reason_and_a_hearing(api: Api) -> None:
    hearing = await api.create_hearing()
    status, err = await api.call("PUT", f"/api/hearings/{hearing['id']}/legal-hold", json={})
    assert (status, err["code"]) == (400, "missing_field")
    status, err = await api.call("PUT", f"/api/hearings/{hearing['id']}/legal-hold",
                                 json={"reason": " "})
    assert (status, err["code"]) == (400, "invalid_field")
    status, err = await api.call("PUT", "/api/hearings/h_none/legal-hold",
                                 json={"reason": "appeal"})
    assert (status, err["code"]) == (404, "not_found")
    status, _ = await api.call("PUT", f"/api/hearings/{hearing['id']}/legal-hold",
                               json={"reason": "appeal"})
    _, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
    assert detail["legal_hold"]["reason"] == "appeal"
    _, timeline = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    assert timeline["events"][-1]["kind"] == "legal_hold_placed"

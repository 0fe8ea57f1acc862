"""Admin tokens have a lifecycle (names, expiry, revocation) and routes decide who may call."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from server.admin_tokens import create_admin_token, revoke_admin_tokens
from server.state import STATE_KEY
from signaling.model import utc_now
from tests.fixtures.app_server import REPO, Api, LiveServer


def _cli(*args: str, server: LiveServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO,
                          env=server.env, capture_output=True, text=True, timeout=30)


def _store(api: Any) -> Any:
    return api.http.server.app[STATE_KEY].store


async def test_an_encoded_slash_does_not_skip_authentication(api: Api) -> None:
    hearing = await api.create_hearing()
    for path in (f"/api/hearings/{hearing['id']}%2Frecording",
                 f"/api/hearings/{hearing['id']}%2Frecording%2Fmanifest.json",
                 "/api/hearings/h_x%2Frecording"):
        async with api.http.get(path) as r:
            assert r.status == 401, path
            assert (await r.json())["code"] == "not_authenticated"


@pytest.mark.parametrize("hearing_id", ["h_x%2Frecording", "h_x%2Frecording%2Fx"])
async def test_every_api_route_needs_a_token_unless_marked_otherwise(
    api: Api, hearing_id: str
) -> None:
    """Walks the real route table, with ids a client may disguise as a download path: only
    the routes a page needs before sign-in answer without a token."""
    open_routes = set()
    for route in api.http.server.app.router.routes():
        canonical = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or not (canonical.startswith("/api/") or canonical == "/metrics"):
            continue
        path = canonical.replace("{hearing_id}", hearing_id).replace("{participant_id}", "p_x") \
            .replace("{station_id}", "s_x").replace("{name}", "manifest.json")
        async with api.http.request(route.method, path) as r:
            if r.status != 401:
                open_routes.add((route.method, canonical))
    assert open_routes == {
        ("GET", "/api/openapi.json"),
        ("GET", "/api/keys"),
        ("POST", "/api/stations/enrol"),  # the enrolment code is the credential (400 here)
    }


async def test_expired_and_revoked_tokens_are_refused_with_a_code_saying_which(
    api: Api,
) -> None:
    store = _store(api)
    a_month_ago = utc_now() - timedelta(days=30)
    expired = await create_admin_token(store, "temp-clerk", timedelta(days=7),
                                       clock=lambda: a_month_ago)
    revoked = await create_admin_token(store, "former-clerk")
    async with api.http.get("/api/whoami", headers={"Authorization": f"Bearer {revoked}"}) as r:
        assert (r.status, (await r.json())["name"]) == (200, "former-clerk")
    await revoke_admin_tokens(store, "former-clerk")

    for token, code in ((expired, "admin_token_expired"), (revoked, "admin_token_revoked")):
        async with api.http.get("/api/hearings",
                                headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 401
            assert (await r.json())["code"] == code
    status, _ = await api.call("GET", "/api/hearings")
    assert status == 200  # the other tokens still work


async def test_the_audit_actor_is_the_tokens_name(api: Api) -> None:
    other = await create_admin_token(_store(api), "registry-office")
    hearing = await api.create_hearing()
    async with api.http.post(f"/api/hearings/{hearing['id']}/end",
                             headers={"Authorization": f"Bearer {other}"}) as r:
        assert r.status == 200
    _, timeline = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    assert [(e["kind"], e["actor"]) for e in timeline["events"]] == [
        ("hearing_scheduled", "court-clerk"), ("hearing_ended", "registry-office")]


async def test_wrong_tokens_are_counted_and_logged_without_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    guesses = [f"qa_guess-{n:04d}-xxxxxxxxxxxxxxxx" for n in range(200)]
    for guess in guesses:
        async with api.http.get("/api/hearings",
                                headers={"Authorization": f"Bearer {guess}"}) as r:
            assert r.status == 401
    async with api.http.get("/api/whoami") as r:  # no header at all
        assert r.status == 401

    _, metrics = await _metrics(api)
    assert 'qashyq_admin_auth_failures_total{reason="not_authenticated"} 201' in metrics
    warnings = [r for r in caplog.records
                if r.name == "server.auth_failures" and r.levelno == logging.WARNING]
    # A burst leaves a trace, not a flood: one line, then the rest are summed into the next.
    assert len(warnings) == 1
    assert "failed admin authentication" in warnings[0].getMessage()
    for guess in guesses:
        assert guess not in caplog.text


async def _metrics(api: Api) -> tuple[int, str]:
    async with api.http.get("/metrics", headers=api.auth) as r:
        return r.status, await r.text()


async def test_token_commands_create_list_and_revoke(live_server: LiveServer) -> None:
    made = _cli("admin-token", "--name", "judge-office", "--expires", "30", server=live_server)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert "judge-office" in made.stderr and token not in made.stderr

    again = _cli("admin-token", "--name", "judge-office", server=live_server)
    assert again.returncode == 1 and "already exists" in again.stderr

    listing = _cli("admin-tokens", server=live_server)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith("judge-office"))
    assert row.split()[1] == "active"
    assert token not in listing.stdout

    async with aiohttp.ClientSession() as http:
        url = live_server.base_url + "/api/whoami"
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(url, headers=headers) as r:
            assert (r.status, (await r.json())["name"]) == (200, "judge-office")
        revoked = _cli("admin-token", "--revoke", "judge-office", server=live_server)
        assert revoked.returncode == 0, revoked.stderr
        async with http.get(url, headers=headers) as r:
            assert (r.status, (await r.json())["code"]) == (401, "admin_token_revoked")
        async with http.get(live_server.base_url + "/api/audit",
                            headers={"Authorization": f"Bearer {live_server.admin_token}"}) as r:
            assert r.status == 200
            court = (await r.json())["events"]
    assert [(e["kind"], e["data"]["name"]) for e in court][-2:] == [
        ("admin_token_created", "judge-office"), ("admin_token_revoked", "judge-office")]
    listing = _cli("admin-tokens", server=live_server)
    row = next(line for line in listing.stdout.splitlines() if line.startswith("judge-office"))
    assert row.split()[1] == "revoked"

"""``qashyq`` as a court runs it: the CLI, restarts, and what ends up in the log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.fixtures.app_server import REPO, Api, LiveServer, free_port
from tests.fixtures.signaling_client import SignalingClient


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=30)


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    for name, value in [("QASHYQ_PORT", "eighty"), ("REDIS_URL", "localhost:6379"),
                        ("QASHYQ_PUBLIC_URL", "court.example"), ("QASHYQ_LINK_OPENS_MINUTES",
                                                                 "-5"),
                        ("QASHYQ_RETENTION_DAYS", "0"), ("QASHYQ_RETENTION_DAYS", "a year")]:
        result = _cli("serve", env={"QASHYQ_DATA_DIR": str(tmp_path), name: value})
        assert result.returncode == 2, name
        assert name in result.stderr, result.stderr


def test_admin_token_is_the_last_line(tmp_path: Path) -> None:
    result = _cli("admin-token", env={"QASHYQ_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("qa_") and len(token) > 40
    # Only a hash is stored.
    assert token.encode() not in (tmp_path / "qashyq.sqlite3").read_bytes()


async def test_restart_keeps_hearings_and_links(live_server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing(title="Дело о наследстве")
        judge = await api.invite(hearing["id"], "judge")
        witness = await api.invite(hearing["id"], "witness")
        revoked = await api.invite(hearing["id"], "lawyer")
        await api.call("DELETE", f"/api/hearings/{hearing['id']}/participants/{revoked['id']}")

    await live_server.stop()
    await live_server.start()

    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        status, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
        assert status == 200
        assert detail["title"] == "Дело о наследстве"
        assert [p["role"] for p in detail["participants"]] == ["judge", "witness", "lawyer"]
        page = await SignalingClient.connect(http, live_server.base_url + "/ws", judge["token"])
        assert (await page.expect("welcome"))["you"]["id"] == judge["id"]
        other = await SignalingClient.connect(http, live_server.base_url + "/ws",
                                              witness["token"])
        assert (await other.expect("welcome"))["you"]["state"] == "lobby"
        gone = await SignalingClient.connect(http, live_server.base_url + "/ws",
                                             revoked["token"])
        assert (await gone.expect("error"))["code"] == "link_revoked"
        for c in (page, other):
            await c.close()


async def test_no_token_reaches_the_server_log(live_server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing()
        judge = await api.invite(hearing["id"], "judge")
        party = await api.invite(hearing["id"], "defendant")
        async with http.get(live_server.base_url + "/join") as r:
            assert r.status == 200
        for link in (judge, party):
            page = await SignalingClient.connect(http, live_server.base_url + "/ws",
                                                 link["token"])
            await page.expect("welcome")
            await page.send({"type": "chat", "text": "x"})
            await page.close()
        await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    await live_server.stop()
    log = live_server.log_text()
    assert "POST /api/hearings" in log  # the access log is on, so the check below means something
    for secret in (live_server.admin_token, judge["token"], party["token"]):
        assert secret not in log
        assert secret.split(".")[-1] not in log  # not even the signature part


async def test_server_keeps_its_state_in_redis_when_told(
    tmp_path: Path, fresh_redis_url: str
) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "QASHYQ_DATA_DIR": str(data_dir), "REDIS_URL": fresh_redis_url}
    token = _cli("admin-token", env=env).stdout.strip().splitlines()[-1]
    server = LiveServer(data_dir, free_port(), token, tmp_path / "server.log", env)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, token, server.base_url)
            hearing = await api.create_hearing(title="Redis-backed hearing")
            link = await api.invite(hearing["id"], "judge")
        await server.stop()
        await server.start()
        async with aiohttp.ClientSession() as http:
            api = Api(http, token, server.base_url)
            status, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
            assert status == 200 and detail["title"] == "Redis-backed hearing"
            page = await SignalingClient.connect(http, server.base_url + "/ws", link["token"])
            assert (await page.expect("welcome"))["you"]["role"] == "judge"
            await page.close()
        assert "Redis at" in server.log_text()
        assert not (data_dir / "qashyq.sqlite3").exists()
    finally:
        await server.stop()

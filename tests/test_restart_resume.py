"""A restart (or a crash) in the middle of a hearing resumes it.

The server is a real process killed with SIGKILL (a crash) or stopped with SIGTERM (a
graceful restart), on the embedded store and on a real Redis. The people return to their
seats without the lobby, hosts keep their tools, the record goes on in the same folder, and
the timeline shows the gap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import REPO, Api, LiveServer, free_port
from tests.fixtures.browser import PageOpener, enter_hearing, playing_remote_videos
from tests.fixtures.hearing_pages import roster_entry
from tests.fixtures.polling import eventually, poll

# What the issue promises: media flows again within this long of the server answering.
MEDIA_BACK_S = 15.0


@pytest.fixture(params=["embedded", "redis"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The server's environment on either store backend, recording in 1 s segments."""
    env = {**os.environ, "QASHYQ_DATA_DIR": str(tmp_path / "data"), "QASHYQ_LOG_LEVEL": "INFO",
           "QASHYQ_RECORDING_SEGMENT_S": "1"}
    env.pop("REDIS_URL", None)
    if request.param == "redis":
        # Requested only here, so the embedded half runs without a redis-server.
        env["REDIS_URL"] = request.getfixturevalue("fresh_redis_url")
    return env


@pytest.fixture
async def restartable(backend_env: dict[str, str], tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A real server process, to be killed and started again."""
    made = subprocess.run([sys.executable, "-m", "server.cli", "admin-token"], cwd=REPO,
                          env=backend_env, capture_output=True, text=True, check=True)
    server = LiveServer(Path(backend_env["QASHYQ_DATA_DIR"]), free_port(),
                        made.stdout.strip().splitlines()[-1], tmp_path / "server.log",
                        backend_env)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _chain(folder: Path) -> list[dict[str, Any]]:
    path = folder / ".recorder" / "chain.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


async def _join(http: aiohttp.ClientSession, api: Api, link: dict[str, Any]) -> AiortcParticipant:
    return await AiortcParticipant.join(http, api.url("/ws").replace("http", "ws", 1), link)


async def test_a_crashed_server_resumes_the_hearing_seats_record_and_timeline(
    restartable: LiveServer,
) -> None:
    server = restartable
    async with aiohttp.ClientSession() as http:
        api = Api(http, server.admin_token, server.base_url)
        hearing = await api.create_hearing()
        links = {role: await api.invite(hearing["id"], role)
                 for role in ("judge", "defendant", "lawyer")}
        judge = await _join(http, api, links["judge"])
        pages = [judge]
        for role in ("defendant", "lawyer"):
            page = await _join(http, api, links[role])
            pages.append(page)
            await judge.signaling.expect(
                "roster", lambda m, r=role: roster_entry(m, links[r]["id"]).get("state")
                == "lobby")
            await judge.signaling.send({"type": "admit", "participant_id": links[role]["id"]})
            await page.signaling.expect("admitted")
        folder = server.data_dir / "recordings" / hearing["id"]
        await eventually(lambda: (folder / ".recorder" / "chain.jsonl").exists()
                         and sum(e["kind"] == "video" for e in _chain(folder)) >= 3,
                         what="closed video segments before the crash")
        before = _chain(folder)

        await server.stop(signal.SIGKILL)
        for page in pages:
            await page.close()
        await server.start()
        restarted = time.monotonic()

        pages = [await _join(http, api, links[role])
                 for role in ("judge", "defendant", "lawyer")]
        judge = pages[0]
        try:
            for page in pages:
                welcome = page.signaling.frames[0]
                # Back in the seat: no lobby, the hearing open and still on the record.
                assert welcome["you"]["state"] == "admitted", welcome["you"]
                assert welcome["hearing"]["state"] == "open"
                assert welcome["hearing"]["on_record"] is True
            # The judge keeps the host's tools.
            assert {"admit", "record", "end"} <= set(judge.signaling.frames[0]["permissions"])

            def media_flows() -> bool:
                return all(page.media.frames_from(other.participant_id, "video") > 5
                           for page in pages for other in pages if other is not page)

            await eventually(media_flows,
                             timeout=MEDIA_BACK_S - (time.monotonic() - restarted),
                             what="media between all three within 15 s of the restart")
            await eventually(lambda: len(_chain(folder)) > len(before) + 3,
                             what="the record to go on after the restart")
        finally:
            for page in pages:
                await page.close()

        status, _ = await api.call("POST", f"/api/hearings/{hearing['id']}/end")
        assert status == 200
        recording = await poll(lambda: _recording(api, hearing["id"], "ready"), 120,
                               "the record to be processed")

    # One folder, one manifest over both runs, and it verifies.
    chain = _chain(folder)
    assert chain[: len(before)] == before
    assert len(chain) > len(before)
    assert recording["verification"]["ok"] is True
    verified = subprocess.run([sys.executable, "-m", "server.cli", "verify", str(folder)],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = json.dumps(manifest)
    assert all(str(entry["file"]) in listed for entry in chain)

    # The gap, with both times, in the audit trail and in the record's own timeline.
    timeline = [json.loads(line) for line in (folder / "timeline.jsonl").read_text().splitlines()]
    [gap] = [e for e in timeline if e["kind"] == "server_restarted"]
    down_at = datetime.fromisoformat(gap["data"]["down_at"])
    up_at = datetime.fromisoformat(gap["data"]["up_at"])
    assert down_at < up_at and gap["data"]["gap_s"] >= 0
    kinds = [e["kind"] for e in timeline]
    assert kinds.index("server_restarted") < kinds.index("hearing_ended")
    assert "recording_resumed_after_restart" in kinds


async def _recording(api: Api, hearing_id: str, state: str) -> dict[str, Any] | None:
    status, body = await api.call("GET", "/api/recordings")
    assert status == 200
    for entry in body["recordings"]:
        if entry["hearing_id"] == hearing_id and entry["state"] == state:
            found: dict[str, Any] = entry
            return found
    return None


# ---- real pages ------------------------------------------------------------------------------


async def _three_party_hearing(
    api: Api, pages: PageOpener
) -> tuple[dict[str, Any], list[Page], dict[str, dict[str, Any]]]:
    hearing = await api.create_hearing(language="en")
    links = {role: await api.invite(hearing["id"], role)
             for role in ("judge", "defendant", "lawyer")}
    judge = await enter_hearing(pages, links["judge"]["join_url"])
    others = []
    for role in ("defendant", "lawyer"):
        page = await enter_hearing(pages, links[role]["join_url"])
        entry = judge.locator(f'#lobby-list [data-participant-id="{links[role]["id"]}"]')
        await entry.locator("[data-action=admit]").click(timeout=15_000)
        await expect(page.locator("#screen-hearing")).to_be_visible(timeout=15_000)
        others.append(page)
    all_pages = [judge, *others]
    for page in all_pages:
        await playing_remote_videos(page, 2)
    return hearing, all_pages, links


@pytest.mark.browser
async def test_chromium_pages_return_to_their_seats_after_a_crash(
    live_server: LiveServer, pages: PageOpener
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing, all_pages, _ = await _three_party_hearing(api, pages)
        judge = all_pages[0]

        await live_server.stop(signal.SIGKILL)
        for page in all_pages:
            await expect(page.locator("#banner")).to_contain_text("Reconnecting",
                                                                   timeout=15_000)
        await live_server.start()
        restarted = time.monotonic()

        for page in all_pages:
            # Each page came back by itself, straight into the hearing.
            await playing_remote_videos(page, 2,
                                        timeout=MEDIA_BACK_S - (time.monotonic() - restarted))
            await expect(page.locator("#banner")).to_be_hidden()
            await expect(page.locator("#screen-lobby")).to_be_hidden()
        await expect(judge.locator("#record-indicator")).to_have_attribute("data-on", "true")
        # The judge still runs the hearing: the record switch is there and works.
        await judge.click("#btn-people")
        await judge.click("#btn-record")
        await expect(judge.locator("#record-indicator")).to_have_attribute("data-on", "false")
        _, events = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
        kinds = [e["kind"] for e in events["events"]]
        assert "server_restarted" in kinds
        assert kinds.count("joined") == 3  # nobody joined anew: they rejoined their seats


@pytest.mark.browser
async def test_a_graceful_restart_tells_the_pages_and_they_come_back(
    live_server: LiveServer, pages: PageOpener
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing, all_pages, _ = await _three_party_hearing(api, pages)

        await live_server.stop(signal.SIGTERM)
        for page in all_pages:
            # The page says why (the server's 1001 "restarting"), not just "connection lost".
            await expect(page.locator("#banner")).to_contain_text("server is restarting",
                                                                   timeout=15_000)
        await live_server.start()
        for page in all_pages:
            await playing_remote_videos(page, 2)
            await expect(page.locator("#banner")).to_be_hidden()
        await expect(all_pages[0].locator("#record-indicator")).to_have_attribute(
            "data-on", "true")
        _, events = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
        [restart] = [e for e in events["events"] if e["kind"] == "server_restarted"]
        assert restart["data"]["gap_s"] >= 0

"""The record survives a crashed server, and a failing recorder never stops the hearing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from media.recording.manifest import verify
from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import REPO, Api, LiveServer
from tests.fixtures.polling import eventually, poll
from tests.fixtures.tiny_disk_server import TinyDiskServer


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client for a live server."""
    async with aiohttp.ClientSession() as session:
        yield session


def _chain(folder: Path) -> list[dict[str, object]]:
    path = folder / ".recorder" / "chain.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


async def test_sigkill_mid_recording_leaves_closed_segments_signed_and_marked_incomplete(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    await live_server.stop()
    live_server.env["QASHYQ_RECORDING_SEGMENT_S"] = "1"
    # Nobody returns after the crash: once their short grace is over the resumed hearing
    # rests, and its record with it (tests/test_restart_resume.py: people who do return).
    live_server.env["QASHYQ_RECONNECT_GRACE_S"] = "1"
    await live_server.start()
    api = Api(http, live_server.admin_token, live_server.base_url)
    hearing = await api.create_hearing()
    judge = await AiortcParticipant.join(http, api.url("/ws").replace("http", "ws", 1),
                                         await api.invite(hearing["id"], "judge"))
    folder = live_server.data_dir / "recordings" / hearing["id"]
    try:
        await eventually(
            lambda: sum(e["kind"] == "video" for e in _chain(folder)) >= 2,
            what="two closed video segments",
        )
        await live_server.stop(signal.SIGKILL)
    finally:
        await judge.close()
    closed = _chain(folder)
    await live_server.start()

    async def rested() -> dict[str, Any] | None:
        status, body = await api.call("GET", "/api/recordings")
        assert status == 200
        (entry,) = [r for r in body["recordings"] if r["hearing_id"] == hearing["id"]]
        return entry if entry["state"] == "incomplete" else None

    entry = await poll(rested, 20, "the record to rest incomplete")
    assert entry["segments"] == len(closed)
    # Closed segments verify (against the key the server publishes) and play.
    status, keys = await api.call("GET", "/api/keys")
    assert status == 200
    key_file = live_server.data_dir.parent / "court-key.pem"
    key_file.write_text(keys["keys"][0]["public_key_pem"])
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "verify", str(folder), "--public-key",
         str(key_file)], cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for segment in closed:
        with av.open(str(folder / str(segment["file"]))) as container:
            assert sum(1 for _ in container.decode(container.streams[0])) > 0
    # The incomplete record can still be downloaded and checked.
    async with http.get(api.url(f"/api/hearings/{hearing['id']}/recording"),
                        headers=api.auth) as r:
        assert r.status == 200
        (live_server.data_dir.parent / "incomplete.zip").write_bytes(await r.read())
    assert verify(live_server.data_dir.parent / "incomplete.zip").ok


async def test_full_disk_alerts_hosts_the_hearing_goes_on_and_the_timeline_shows_the_gap(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    server = await TinyDiskServer.replacing(live_server)
    try:
        api = Api(http, server.admin_token, server.base_url)
        hearing = await api.create_hearing()
        ws_url = api.url("/ws").replace("http", "ws", 1)
        judge = await AiortcParticipant.join(http, ws_url, await api.invite(hearing["id"],
                                                                            "judge"))
        try:
            alert = await judge.signaling.expect(
                "recorder_alert", lambda m: not m["resolved"], timeout=30
            )
            assert "No space left on device" in alert["reason"], alert
            assert alert["participant_id"] == judge.participant_id
            # The hearing goes on: chat works, the server answers, others can still join.
            await judge.signaling.send({"type": "chat", "text": "still here"})
            await judge.signaling.expect("chat", lambda m: m["text"] == "still here")
            async with http.get(server.base_url + "/healthz") as r:
                assert r.status == 200
            witness = await AiortcParticipant.join(http, ws_url, await api.invite(
                hearing["id"], "witness"))
            await witness.close()
            status, body = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
            assert status == 200
            faults = [e for e in body["events"] if e["kind"] == "recorder_fault"]
            assert faults and "No space left" in faults[0]["data"]["reason"]
            assert faults[0]["data"]["track"].startswith(judge.participant_id)
        finally:
            await judge.close()
    finally:
        await server.stop()

"""Downloading the record: who may, what is served, Range, and the audit of every download."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from server.config import Settings
from tests.fixtures.app_server import ADMIN_TOKEN_NAME, Api
from tests.fixtures.hearing_pages import joined_page
from tests.fixtures.polling import eventually
from tests.test_recording import wait_ready


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Short segments: the hearing lasts a couple of seconds."""
    return Settings(data_dir=tmp_path / "data", heartbeat_s=5.0, recording_segment_s=1)


async def _get(api: Api, path: str, token: str | None = None, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url: Any = api.url(path)
    if "%" in path:  # send the path exactly as written (no re-encoding, no normalising)
        url = URL(path, encoded=True)
    return api.http.get(url, headers=headers, allow_redirects=False)


async def record_a_hearing(api: Api, settings: Settings, hid: str) -> None:
    """A judge joins, two video segments are closed, the hearing ends, the record is ready."""
    judge = await joined_page(api, await api.invite(hid, "judge"))
    folder = settings.data_dir / "recordings" / hid
    try:
        await eventually(
            lambda: len(list((folder / "tracks").glob("*-video-*"))) >= 2,
            what="two closed video segments",
        )
        await judge.signaling.send({"type": "end"})
        await judge.signaling.expect("ended")
    finally:
        await judge.close()
    await wait_ready(api, hid)


async def test_only_admins_and_the_hearings_clerks_download_and_every_download_is_audited(
    api: Api, settings: Settings
) -> None:
    hearing = await api.create_hearing()
    hid = hearing["id"]
    clerk = await api.invite(hid, "clerk", "Хатшы Дана")
    plaintiff = await api.invite(hid, "plaintiff")
    other_hearing = await api.create_hearing()
    other_clerk = await api.invite(other_hearing["id"], "clerk")
    await record_a_hearing(api, settings, hid)
    folder = settings.data_dir / "recordings" / hid
    composite = (folder / "composite.mp4").read_bytes()
    manifest_sha = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()

    # The public key is public; it is the key in the recording.
    async with await _get(api, "/api/keys") as r:
        assert r.status == 200
        keys = (await r.json())["keys"]
    assert keys[0]["public_key_pem"] == (folder / "public_key.pem").read_text()

    zip_path = f"/api/hearings/{hid}/recording"
    async with await _get(api, zip_path) as r:
        assert r.status == 401
    async with await _get(api, zip_path, "qa_not-a-real-token") as r:
        assert r.status == 401
    async with await _get(api, zip_path, plaintiff["token"]) as r:
        assert r.status == 403 and (await r.json())["code"] == "forbidden"
    async with await _get(api, zip_path, other_clerk["token"]) as r:
        assert r.status == 403
    async with await _get(api, zip_path, clerk["token"]) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
        assert len(await r.read()) > len(composite)

    # Path tricks never leave the recording folder.
    for trick in (
        f"/api/hearings/{hid}/recording/..%2Fmanifest.json",
        f"/api/hearings/{hid}/recording/..%2F..%2F..%2Fqashyq.sqlite3",
        f"/api/hearings/{hid}/recording/%2Fetc%2Fpasswd",
        f"/api/hearings/{hid}/recording/.recorder%2Fstatus.json",
        f"/api/hearings/{hid}/recording/secrets.txt",
        "/api/hearings/..%2F..%2Fkeys/recording/manifest.json",
        f"/api/hearings/{hid}/recording/tracks%2F..%2F..%2F..%2Fkeys",
    ):
        async with await _get(api, trick, api.token) as r:
            assert r.status in (400, 404), (trick, r.status)
            assert b"PRIVATE KEY" not in await r.read()

    # Range requests, as a browser's video element makes them.
    composite_path = f"/api/hearings/{hid}/recording/composite.mp4"
    async with await _get(api, composite_path, clerk["token"], Range="bytes=0-99") as r:
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes 0-99/{len(composite)}"
        assert await r.read() == composite[:100]
    async with await _get(api, composite_path, api.token, Range="bytes=1000-") as r:
        assert r.status == 206 and await r.read() == composite[1000:]
    async with await _get(api, composite_path, api.token) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
        assert r.headers["Accept-Ranges"] == "bytes"

    status, body = await api.call("GET", f"/api/hearings/{hid}/events")
    assert status == 200
    downloads = [e for e in body["events"] if e["kind"] == "recording_downloaded"]
    assert [(e["actor"], e["data"]["what"]) for e in downloads] == [
        (clerk["id"], "zip"),
        (clerk["id"], "composite.mp4"),
        (ADMIN_TOKEN_NAME, "composite.mp4"),
        (ADMIN_TOKEN_NAME, "composite.mp4"),
    ]
    assert all(e["data"]["manifest_sha256"] == manifest_sha for e in downloads)
    assert downloads[0]["at"]


async def test_a_range_in_an_unknown_unit_is_ignored_and_the_audit_keeps_the_parsed_range(
    api: Api, settings: Settings
) -> None:
    hearing = await api.create_hearing()
    hid = hearing["id"]
    await record_a_hearing(api, settings, hid)
    composite = (settings.data_dir / "recordings" / hid / "composite.mp4").read_bytes()
    path = f"/api/hearings/{hid}/recording/composite.mp4"

    # RFC 9110: a server ignores a Range it does not understand and sends the whole file.
    for ignored in ("items=0-99", "bytes=0-9,20-29", "bytes=99-0", "bytes=" + "9" * 5000 + "-"):
        async with await _get(api, path, api.token, Range=ignored) as r:
            assert r.status == 200, (ignored, r.status)
            assert "Content-Range" not in r.headers
            assert await r.read() == composite
    async with await _get(api, path, api.token, Range="bytes=0-99") as r:
        assert r.status == 206 and await r.read() == composite[:100]
    async with await _get(api, path, api.token, Range="bytes=-500") as r:
        assert r.status == 206 and await r.read() == composite[-500:]
    async with await _get(api, path, api.token, Range="bytes=1000-") as r:
        assert r.status == 206 and await r.read() == composite[1000:]

    status, body = await api.call("GET", f"/api/hearings/{hid}/events")
    assert status == 200
    ranges = [e["data"]["range"] for e in body["events"] if e["kind"] == "recording_downloaded"]
    assert ranges == [None, None, None, None, {"first": 0, "last": 99}, {"suffix_length": 500},
                      {"first": 1000, "last": None}]

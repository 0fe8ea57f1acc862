"""Reconnection without losing the seat: a dropped page comes back straight into the hearing.

The cut is abrupt, as on a real network: the page's TCP connection is aborted (no WebSocket
close frame) and its ICE transport stops (no DTLS close). Others see "reconnecting"; media
flows again within 5 s of the return; the timeline records the gap. After the grace the
seat is lost and a return waits in the lobby.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import expect

from server.config import Settings
from server.state import STATE_KEY
from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener, playing_remote_videos
from tests.fixtures.hearing_pages import admitted_page, hearing_events, joined_page, roster_entry
from tests.fixtures.polling import eventually

RESTORE_DEADLINE_S = 5.0


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The in-process server; ``indirect`` parametrisation sets the reconnection grace."""
    grace = getattr(request, "param", 60.0)
    return Settings(data_dir=tmp_path / "data", heartbeat_s=5.0, reconnect_grace_s=grace)


async def _cut(page: AiortcParticipant) -> None:
    """Drop the page off the network: no goodbye on signaling, none on media."""
    # aiohttp offers no public abort for a client WebSocket; the connection's transport does.
    page.signaling.ws._conn.transport.abort()  # type: ignore[union-attr]
    ice = page.media.pc.getTransceivers()[0].sender.transport.transport
    await ice.stop()


async def test_dropped_participant_keeps_the_seat_and_media_returns(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    link = await api.invite(hearing["id"], "witness")
    witness = await admitted_page(api, judge, link)
    pages = [judge, witness]
    try:
        await eventually(lambda: judge.media.frames_from(link["id"], "video") > 10,
                         what="the judge sees the witness")

        await _cut(witness)
        roster = await judge.signaling.expect(
            "roster", lambda m: roster_entry(m, link["id"]).get("reconnecting") is True)
        entry = roster_entry(roster, link["id"])
        assert entry["state"] == "admitted" and entry["connected"] is False

        seen = judge.media.frames_from(link["id"], "video")
        restored = time.monotonic()
        witness = await joined_page(api, link)
        pages.append(witness)
        assert witness.signaling.frames[0]["you"]["state"] == "admitted"  # no lobby again

        def media_flows() -> bool:
            return (judge.media.frames_from(link["id"], "video") > seen + 5
                    and judge.media.frames_from(link["id"], "audio") > 5
                    and witness.media.frames_from(judge.participant_id, "video") > 5)

        await eventually(media_flows, timeout=RESTORE_DEADLINE_S - (time.monotonic() - restored),
                         what="media both ways within 5 s of the return")
        roster = await judge.signaling.expect(
            "roster", lambda m: roster_entry(m, link["id"]).get("connected") is True)
        assert roster_entry(roster, link["id"])["reconnecting"] is False

        kinds = [(e["kind"], e["data"]) for e in await hearing_events(api, hearing["id"])
                 if e["actor"] == link["id"]]
        assert ("disconnected", {"grace_s": 60.0}) in kinds
        [gap] = [data["gap_s"] for kind, data in kinds if kind == "reconnected"]
        assert 0 <= gap < 10
    finally:
        for page in pages:
            await page.close()


@pytest.mark.parametrize("settings", [1.0], indirect=True)
async def test_after_the_grace_the_seat_is_lost(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    link = await api.invite(hearing["id"], "witness")
    witness = await admitted_page(api, judge, link)
    pages = [judge, witness]
    try:
        await eventually(lambda: judge.media.frames_from(link["id"], "audio") > 5,
                         what="the judge hears the witness")
        await _cut(witness)
        await judge.signaling.expect(
            "roster", lambda m: roster_entry(m, link["id"]).get("reconnecting"))
        # The grace runs out: the witness disappears from the hearing...
        await judge.signaling.expect("roster", lambda m: roster_entry(m, link["id"]) == {})
        # ...and on return waits in the lobby for the judge again.
        witness = await joined_page(api, link)
        pages.append(witness)
        assert witness.signaling.frames[0]["you"]["state"] == "lobby"
        assert "seat_lost" in [e["kind"] for e in await hearing_events(api, hearing["id"])]
    finally:
        for page in pages:
            await page.close()


async def test_a_participant_who_leaves_gives_the_seat_up(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    link = await api.invite(hearing["id"], "witness")
    witness = await admitted_page(api, judge, link)
    pages = [judge, witness]
    try:
        await witness.signaling.send({"type": "leave"})
        assert await witness.signaling.closed() == 1000
        roster = await judge.signaling.expect("roster", lambda m: roster_entry(m, link["id"]) == {})
        assert roster["participants"]
        witness = await joined_page(api, link)
        pages.append(witness)
        assert witness.signaling.frames[0]["you"]["state"] == "lobby"
    finally:
        for page in pages:
            await page.close()


def _abort_sockets(app: web.Application, keep: set[web.WebSocketResponse]) -> int:
    """Kill the server's end of every other signaling socket without a close frame."""
    cut = 0
    for ws in list(app[STATE_KEY].sockets - keep):
        request = ws._req  # the only handle on the TCP transport
        assert request is not None and request.transport is not None
        request.transport.abort()
        cut += 1
    return cut


@pytest.mark.browser
async def test_chromium_page_rebuilds_its_connection_by_itself(
    api: Api, pages: PageOpener
) -> None:
    hearing = await api.create_hearing(language="en")
    judge_link = await api.invite(hearing["id"], "judge", "Judge")
    witness_link = await api.invite(hearing["id"], "witness", "Witness On 3G")
    judge_page = await pages.open(f"{api.base_url}/join#{judge_link['token']}", phone=False)
    await judge_page.click("#join")
    await expect(judge_page.locator("#screen-hearing")).to_be_visible(timeout=15_000)
    app = api.http.app  # type: ignore[union-attr]
    judge_socket = set(app[STATE_KEY].sockets)

    page = await pages.open(f"{api.base_url}/join#{witness_link['token']}")
    await page.click("#join")
    entry = judge_page.locator(f'#lobby-list [data-participant-id="{witness_link["id"]}"]')
    await entry.locator("[data-action=admit]").click()
    await playing_remote_videos(judge_page, 1)
    await playing_remote_videos(page, 1)

    # The phone goes through a tunnel: no network, and its connection dies without a word.
    await page.context.set_offline(True)
    assert _abort_sockets(app, judge_socket) == 1
    tile = judge_page.locator(f'.tile[data-tile-id="{witness_link["id"]}"]')
    await expect(tile).to_have_class("tile reconnecting", timeout=10_000)
    await expect(tile.locator(".net-reconnecting")).to_be_visible()

    await page.context.set_offline(False)
    restored = time.monotonic()
    await expect(tile).not_to_have_class("tile reconnecting", timeout=RESTORE_DEADLINE_S * 1000)
    assert await playing_remote_videos(
        judge_page, 1, timeout=RESTORE_DEADLINE_S - (time.monotonic() - restored)
    ) == [witness_link["id"]]
    await expect(page.locator("#screen-hearing")).to_be_visible()
    await expect(page.locator("#screen-lobby")).to_be_hidden()
    await pages.screenshot(judge_page, "reconnection-judge-after")

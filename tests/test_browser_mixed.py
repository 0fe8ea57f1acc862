"""A judge in Chromium with two aiortc participants: browsers and other WebRTC stacks mix."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import Api, LiveServer
from tests.fixtures.browser import PageOpener, playing_remote_videos
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.browser


async def test_chromium_judge_with_aiortc_parties(
    live_server: LiveServer, pages: PageOpener
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing(language="en")
        judge = await api.invite(hearing["id"], "judge", "Judge Bekova")
        parties: list[dict[str, Any]] = [
            await api.invite(hearing["id"], "plaintiff", "Plaintiff"),
            await api.invite(hearing["id"], "respondent", "Respondent"),
        ]

        judge_page = await pages.open(judge["join_url"])
        await expect(judge_page.locator("#join")).to_be_visible(timeout=15_000)
        await judge_page.click("#join")
        await expect(judge_page.locator("#screen-hearing")).to_be_visible(timeout=15_000)

        peers = [await AiortcParticipant.join(http, live_server.base_url + "/ws", p)
                 for p in parties]
        try:
            for party in parties:
                entry = judge_page.locator(
                    f'#lobby-list [data-participant-id="{party["id"]}"]')
                await expect(entry).to_be_visible(timeout=15_000)
                await entry.locator("[data-action=admit]").click()
            for peer in peers:
                await peer.signaling.expect("admitted", timeout=15)

            # Chromium plays both aiortc parties...
            playing = await playing_remote_videos(judge_page, 2)
            assert set(playing) == {p["id"] for p in parties}
            # ...and each aiortc party decodes the browser's camera and microphone.
            for peer in peers:
                for kind in ("video", "audio"):
                    await eventually(
                        lambda p=peer, k=kind: p.media.frames_from(judge["id"], k) > 10,
                        what=f"{peer.participant_id} decodes the judge's {kind}",
                    )
                other = next(p for p in peers if p is not peer)
                await eventually(
                    lambda p=peer, o=other: p.media.frames_from(o.participant_id, "video") > 10,
                    what="the aiortc parties see each other",
                )
            await pages.screenshot(judge_page, "mixed-judge-with-aiortc")
            assert pages.ws_errors(judge_page) == []
        finally:
            for peer in peers:
                await peer.close()

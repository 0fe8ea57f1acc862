"""Simulcast in an H.264 hearing, between real Chromium pages: the judge's 720p camera goes up
as layers, and each page gets the layer its tile shows, switching when the tile grows.

(VP8 hearings are covered by the weak-link tests, whose phone and judge run the same path.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from bench.chromium_pages import DESKTOP, PHONE, FakeMedia, fake_media, launch
from tests.fixtures.app_server import Api, LiveServer
from tests.fixtures.browser import playing_remote_videos
from tests.fixtures.page_rtc import RTC_INIT_SCRIPT, inbound_video, outbound_video
from tests.fixtures.polling import poll

pytestmark = pytest.mark.browser

CACHE = Path("/tmp/qashyq-test-media")

@pytest.fixture(scope="module")
def media() -> FakeMedia:
    """The 720p testsrc2 camera and a voice (made once with ffmpeg, cached)."""
    return fake_media(CACHE)


@pytest.fixture
async def browser(media: FakeMedia) -> AsyncIterator[Browser]:
    """Chromium capturing the 720p camera (both pages of a test share it)."""
    async with async_playwright() as pw:
        chromium = await launch(pw, camera=media.camera, microphone=media.speech)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _open(browser: Browser, base_url: str, link: dict[str, Any],
                device: dict[str, Any]) -> Page:
    context = await browser.new_context(**device, base_url=base_url, locale="en-US")
    await context.add_init_script(RTC_INIT_SCRIPT)
    page = await context.new_page()
    await page.goto(f"/join#{link['token']}")
    await page.click("#join", timeout=30_000)
    return page


async def test_h264_layers_go_to_each_page_at_the_size_of_its_tile(
    live_server: LiveServer, browser: Browser
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing(language="en", video_codec="h264")
        judge_link = await api.invite(hearing["id"], "judge", "Judge")
        witness_link = await api.invite(hearing["id"], "witness", "Witness")
        judge = await _open(browser, api.base_url, judge_link, DESKTOP)
        await expect(judge.locator("#screen-hearing")).to_be_visible(timeout=15_000)
        # The witness joins from a small phone held sideways: the judge's tile there is about
        # 200 pixels tall (1 device pixel per CSS pixel; tiles are measured in device pixels).
        witness = await _open(browser, api.base_url, witness_link,
                              {**PHONE, "viewport": {"width": 640, "height": 360},
                               "device_scale_factor": 1})
        await judge.locator(f'#lobby-list [data-participant-id="{witness_link["id"]}"]'
                            " [data-action=admit]").click(timeout=30_000)
        assert await playing_remote_videos(witness, 1) == [judge_link["id"]]
        assert await playing_remote_videos(judge, 1) == [witness_link["id"]]

        # The judge's browser sends H.264 in more than one layer, each smaller than the next
        # (their sizes follow the camera, which Chromium scales down when the CPU is short).
        async def layered() -> list[dict[str, Any]] | None:
            rows = await outbound_video(judge)
            sending = [r for r in rows if r["frames"] > 0 and r["width"] > 0]
            return rows if len(sending) >= 2 else None

        layers = await poll(layered, 30, "the judge's camera sent in two layers or more")
        assert {r["codec"] for r in layers} == {"video/H264"}, layers
        widths = [r["width"] for r in sorted(layers, key=lambda r: "qhf".index(r["rid"]))
                  if r["width"]]
        assert widths == sorted(set(widths)), layers

        async def received(condition: str, test: Any) -> dict[str, Any]:
            # The judge's video on the witness's page, once ``test(it, top)`` holds, where
            # ``top`` is the width of the judge's top layer as it is sent at that moment.
            seen: list[Any] = []

            async def check() -> dict[str, Any] | None:
                now: dict[str, Any] | None = await inbound_video(witness, judge_link["id"])
                sent = await outbound_video(judge)
                top = max((r["width"] for r in sent), default=0)
                seen.append((now, sent))
                return now if now and now["decoded"] > 0 and test(now, top) else None

            try:
                result: dict[str, Any] = await poll(check, 30, condition)
            except AssertionError as failed:
                raise AssertionError(f"{failed}; received, sent: {seen[-2:]}") from None
            return result

        # A phone-sized tile gets a layer below the top one (half its size or less), in H.264...
        small = await received("the judge below the top layer on the phone",
                               lambda it, top: it["width"] <= top // 2)
        assert small["codec"] == "video/H264", small
        # ...and when the tile grows (the phone turned into a desktop window), the top layer,
        # switched to at a keyframe with the picture going on.
        await witness.set_viewport_size(DESKTOP["viewport"])
        large = await received("the judge's top layer on the large tile",
                               lambda it, top: it["width"] == top > small["width"])
        assert large["decoded"] > small["decoded"] and large["codec"] == "video/H264"

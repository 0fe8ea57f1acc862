"""The clerk's page reads a long audit timeline a page at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener

pytestmark = pytest.mark.browser

PAGE = 200  # EVENTS_PAGE in admin_hearing.js


async def test_a_long_timeline_loads_in_pages_and_new_events_follow(
    live_server: Any, pages: PageOpener,
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing()
        # hearing_scheduled and one participant_invited each: a page and four more.
        for start in range(0, PAGE + 3, 20):
            await asyncio.gather(*(api.invite(hearing["id"], "witness", f"Witness {i}")
                                   for i in range(start, min(start + 20, PAGE + 3))))

        page = await pages.open(live_server.base_url + "/admin")
        await page.fill("#signin-token", live_server.admin_token)
        await page.click("#signin")
        await page.click(f'#hearings [data-hearing-id="{hearing["id"]}"] button')
        events = page.locator("#hearing-detail .event")
        more = page.locator("#hearing-detail .more-events")
        await expect(events).to_have_count(PAGE)
        await expect(events.first).to_have_attribute("data-kind", "hearing_scheduled")
        await expect(more).to_be_visible()

        await more.click()
        await expect(events).to_have_count(PAGE + 4)
        await expect(more).to_be_hidden()

        # Read to the end, the page picks up what happens next by itself.
        await api.call("DELETE", f"/api/hearings/{hearing['id']}/participants/"
                       f"{(await api.invite(hearing['id'], 'lawyer'))['id']}")
        await expect(events).to_have_count(PAGE + 6)
        await expect(events.last).to_have_attribute("data-kind", "link_revoked")

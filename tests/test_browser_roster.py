"""The judge's page keeps its roster from updates, and says when a message was refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener
from tests.fixtures.signaling_client import SignalingClient

pytestmark = pytest.mark.browser


@pytest.fixture
async def admin(live_server: Any) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, live_server.admin_token, live_server.base_url)


async def test_the_judges_page_follows_roster_updates_and_shows_a_refused_chat(
    admin: Api, pages: PageOpener,
) -> None:
    hearing = await admin.create_hearing(language="en")
    judge = await admin.invite(hearing["id"], "judge", "Judge Akhmetova")
    links = [await admin.invite(hearing["id"], role, name)
             for role, name in (("witness", "Ivanova"), ("lawyer", "Serikbayev"))]

    judge_page = await pages.open(judge["join_url"])
    await expect(judge_page.locator("#join")).to_be_visible(timeout=15_000)
    await judge_page.click("#join")
    await expect(judge_page.locator("#screen-hearing")).to_be_visible()

    # Two pages arrive after the judge: the judge's page learns of them from updates only.
    others = [await SignalingClient.connect(admin.http, admin.url("/ws"), link["token"])
              for link in links]
    for link, page in zip(links, others, strict=True):
        await page.expect("welcome")
        entry = judge_page.locator(f'#lobby-list [data-participant-id="{link["id"]}"]')
        await expect(entry).to_be_visible(timeout=15_000)
        await entry.locator("[data-action=admit]").click()
        await page.expect("admitted")
    witness, lawyer = others

    await judge_page.click("#btn-people")
    rows = judge_page.locator("#people-list [data-participant-id]")
    await expect(rows).to_have_count(3)
    await witness.send({"type": "hand", "raised": True})
    witness_row = judge_page.locator(f'#people-list [data-participant-id="{links[0]["id"]}"]')
    await expect(witness_row.locator(".ico-hand")).to_have_count(1)
    await lawyer.send({"type": "leave"})
    await expect(rows).to_have_count(2)

    # The judge types faster than chat allows: the line over the limit is refused, visibly.
    await judge_page.click("#btn-chat")
    for i in range(6):
        await judge_page.fill("#chat-input", f"line {i}")
        await judge_page.press("#chat-input", "Enter")
    await expect(judge_page.locator("#banner")).to_contain_text("Too many messages")
    await witness.close()

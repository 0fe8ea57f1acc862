"""The record on the participant page: the indicator, the host's switch, the recorder alert."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import expect

from tests.fixtures.app_server import Api, LiveServer
from tests.fixtures.browser import PageOpener, enter_hearing
from tests.fixtures.tiny_disk_server import TinyDiskServer

pytestmark = pytest.mark.browser


async def test_hosts_switch_the_record_and_everyone_sees_it(
    live_server: LiveServer, pages: PageOpener
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing(language="en")
        judge_link = await api.invite(hearing["id"], "judge")
        judge = await enter_hearing(pages, judge_link["join_url"])
        witness_link = await api.invite(hearing["id"], "witness")
        witness = await enter_hearing(pages, witness_link["join_url"])
        entry = judge.locator(f'#lobby-list [data-participant-id="{witness_link["id"]}"]')
        await entry.locator("[data-action=admit]").click(timeout=15_000)
        await expect(witness.locator("#screen-hearing")).to_be_visible(timeout=15_000)

        # A court hearing is on the record from the start, for everyone.
        for page in (judge, witness):
            await expect(page.locator("#record-indicator")).to_have_attribute("data-on", "true")
        await expect(witness.locator("#btn-record")).to_be_hidden()

        await judge.click("#btn-people")
        await judge.click("#btn-record")
        for page in (judge, witness):
            await expect(page.locator("#record-indicator")).to_have_attribute(
                "data-on", "false")
            await expect(page.locator("#record-indicator")).to_have_text("Off the record")
        await pages.screenshot(witness, "record-off-witness")
        _, timeline = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
        assert any("record" in e["kind"] for e in timeline["events"] if e["actor"] != "admin")


async def test_a_failing_recorder_alerts_the_judge_on_the_page(
    live_server: LiveServer, pages: PageOpener
) -> None:
    server = await TinyDiskServer.replacing(live_server)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, server.admin_token, server.base_url)
            hearing = await api.create_hearing(language="ru")
            judge_link = await api.invite(hearing["id"], "judge")
            judge = await enter_hearing(pages, judge_link["join_url"])
            alert = judge.locator("#recorder-alert")
            await expect(alert).to_be_visible(timeout=30_000)
            await expect(alert).to_contain_text("Сбой записи")
            # The hearing goes on: the page is still in the hearing.
            await expect(judge.locator("#screen-hearing")).to_be_visible()
            await pages.screenshot(judge, "record-fault-judge")
    finally:
        await server.stop()

"""The clerk's page lists a finished recording with its state, verification and downloads."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import expect

from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import Api, LiveServer
from tests.fixtures.browser import PageOpener
from tests.fixtures.polling import eventually
from tests.test_browser_admin import page_problems, sign_in
from tests.test_recording import wait_ready

pytestmark = pytest.mark.browser


async def test_admin_page_lists_a_ready_recording_with_downloads(
    live_server: LiveServer, pages: PageOpener
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        hearing = await api.create_hearing(case_number="2-900/2026", title="Мұрагерлік дауы")
        judge = await AiortcParticipant.join(http, api.url("/ws").replace("http", "ws", 1),
                                             await api.invite(hearing["id"], "judge"))
        folder = live_server.data_dir / "recordings" / hearing["id"] / ".recorder" / "open"
        try:
            await eventually(lambda: any(folder.glob("*-video-*")),
                             what="video being recorded")
            status, _ = await api.call("POST", f"/api/hearings/{hearing['id']}/end")
            assert status == 200
        finally:
            await judge.close()
        await wait_ready(api, hearing["id"])

    page = await pages.open(live_server.base_url + "/admin")
    await sign_in(page, live_server.admin_token)
    item = page.locator(f'#recording-list li[data-hearing-id="{hearing["id"]}"]')
    await expect(item).to_have_attribute("data-state", "ready")
    await expect(item).to_contain_text("2-900/2026")
    await expect(item.locator(".recording-verdict")).not_to_have_class("recording-verdict "
                                                                        "form-error")
    for action in ("zip", "composite", "verify"):
        await expect(item.locator(f'button[data-action="{action}"]')).to_be_visible()
    await page.select_option("#lang", "en")
    await expect(item).to_contain_text("Ready")
    await expect(item).to_contain_text("Signature and hashes verified")
    async with page.expect_download() as download_info:
        await item.locator('button[data-action="composite"]').click()
    download = await download_info.value
    assert download.suggested_filename == f"{hearing['id']}-composite.mp4"
    assert page_problems(pages, page) == []

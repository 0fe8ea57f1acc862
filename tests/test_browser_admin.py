"""The clerk's page in a real browser: sign in, schedule a hearing, issue a link with a QR."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener

pytestmark = pytest.mark.browser

CSP_WORDS = ("Content Security Policy", "Refused to", "pageerror")


def page_problems(pages: PageOpener, page: Page) -> list[str]:
    """Console lines that mean the page is broken (CSP violations, uncaught exceptions)."""
    return [m for m in pages.errors(page) if any(w in m for w in CSP_WORDS)]


async def sign_in(page: Page, token: str) -> None:
    await page.fill("#signin-token", token)
    await page.click("#signin")
    await expect(page.locator("#main-view")).to_be_visible()


async def create_hearing(page: Page, case_number: str, title: str) -> str:
    """Fill the form (the default start time is the next half hour) and create the hearing."""
    await page.fill("#hearing-case-number", case_number)
    await page.fill("#hearing-title", title)
    await page.select_option("#hearing-kind", "court")
    await page.select_option("#hearing-language", "kk")
    await page.fill("#hearing-duration", "45")
    await page.click("#hearing-create")
    detail = page.locator("#hearing-detail[data-hearing-id]")
    await expect(detail).to_have_count(1)
    hearing_id = await detail.get_attribute("data-hearing-id")
    assert hearing_id
    await expect(page.locator(f'#hearings [data-hearing-id="{hearing_id}"]')).to_be_visible()
    return hearing_id


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
async def test_clerk_schedules_a_hearing_and_issues_a_link(
    live_server: Any, pages: PageOpener, phone: bool
) -> None:
    base = live_server.base_url
    page = await pages.open(base + "/admin", phone=phone)

    await expect(page.locator("#signin-token")).to_be_visible()
    await sign_in(page, live_server.admin_token)
    assert live_server.admin_token not in page.url

    hearing_id = await create_hearing(page, "2-1045/2026", "Алимент өндіру туралы")
    await expect(page.locator("#hearing-detail")).to_contain_text("2-1045/2026")

    await page.fill("#participant-name", "Серікбаев Нұрлан")
    await page.select_option("#participant-role", "defendant")
    await page.click("#participant-add")

    link = page.locator(".join-url[data-participant-id]")
    await expect(link).to_have_count(1)
    url = (await link.text_content() or "").strip()
    assert url.startswith(base + "/join#"), url
    assert len(url) > len(base + "/join#") + 20

    pid = await link.get_attribute("data-participant-id")
    item = page.locator(f'#hearing-detail li[data-participant-id="{pid}"]')
    await expect(item).to_contain_text("Серікбаев Нұрлан")

    qr = page.locator("img.join-qr")
    await expect(qr).to_have_count(1)
    src = await qr.get_attribute("src")
    assert src and src.startswith("data:image/svg+xml;base64,")
    await expect(qr).to_have_js_property("complete", True)
    natural_width = await qr.evaluate("img => img.naturalWidth")
    assert natural_width > 0

    # The list shows the hearing with its live state.
    row = page.locator(f'#hearings [data-hearing-id="{hearing_id}"]')
    await expect(row).to_contain_text("2-1045/2026")

    await pages.screenshot(page, f"admin-{'phone' if phone else 'desktop'}")
    assert page_problems(pages, page) == []


async def test_wrong_token_shows_an_error(live_server: Any, pages: PageOpener) -> None:
    page = await pages.open(live_server.base_url + "/admin")
    await page.fill("#signin-token", "qa_not-a-real-token")
    await page.click("#signin")
    error = page.locator("#signin-error")
    await expect(error).to_be_visible()
    assert (await error.text_content() or "").strip()
    await expect(page.locator("#main-view")).to_be_hidden()
    await pages.screenshot(page, "admin-wrong-token")

    # The language switch applies at once and is remembered.
    await page.select_option("#lang", "kk")
    await expect(page.locator("#signin")).to_have_text("Кіру")
    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "kk")
    await expect(page.locator("#signin")).to_have_text("Кіру")
    assert page_problems(pages, page) == []


async def test_api_validation_message_is_shown(live_server: Any, pages: PageOpener) -> None:
    page = await pages.open(live_server.base_url + "/admin", phone=False)
    await sign_in(page, live_server.admin_token)
    await page.fill("#hearing-case-number", "2-7/2026")
    await page.fill("#hearing-title", "Duration check")
    await page.fill("#hearing-duration", "0")
    await page.click("#hearing-create")
    error = page.locator("#hearing-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("duration_minutes")


async def test_revoke_link_and_end_hearing(live_server: Any, pages: PageOpener) -> None:
    page = await pages.open(live_server.base_url + "/admin", phone=False)
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, live_server.admin_token)
    await create_hearing(page, "2-8/2026", "Revoke and end")
    await page.fill("#participant-name", "Witness One")
    await page.select_option("#participant-role", "witness")
    await page.click("#participant-add")
    await expect(page.locator(".join-url")).to_have_count(1)

    await page.click("button[data-action=revoke]")
    await expect(page.locator(".join-url")).to_have_count(0)
    await expect(page.locator("li.participant.revoked")).to_have_count(1)

    await page.click("#hearing-end")
    await expect(page.locator("#hearing-end")).to_be_hidden()
    await expect(page.locator('.event[data-kind="hearing_ended"]')).to_have_count(1)
    await expect(page.locator('.event[data-kind="link_revoked"]')).to_have_count(1)


async def test_clerk_places_and_lifts_a_legal_hold(live_server: Any, pages: PageOpener) -> None:
    page = await pages.open(live_server.base_url + "/admin", phone=True)
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, live_server.admin_token)
    hearing_id = await create_hearing(page, "2-9/2026", "Appealed")
    status = page.locator("#legal-hold-status")
    held = page.locator(".legal-hold.held")
    await expect(status).not_to_be_empty()
    await expect(held).to_have_count(0)

    await page.click("#legal-hold-place")  # no reason yet
    await expect(page.locator(".legal-hold .form-error")).to_be_visible()
    await page.fill("#legal-hold-reason", "appeal 3-12/2027")
    await page.click("#legal-hold-place")
    await expect(status).to_contain_text("appeal 3-12/2027")
    await expect(held).to_have_count(1)
    await expect(page.locator("#legal-hold-lift")).to_be_visible()
    await expect(page.locator("#legal-hold-reason")).to_be_hidden()
    await expect(page.locator('.event[data-kind="legal_hold_placed"]')).to_have_count(1)
    await pages.screenshot(page, "admin-legal-hold")

    async with aiohttp.ClientSession() as http:
        api = Api(http, live_server.admin_token, live_server.base_url)
        _, detail = await api.call("GET", f"/api/hearings/{hearing_id}")
    assert detail["legal_hold"]["reason"] == "appeal 3-12/2027"

    await page.click("#legal-hold-lift")
    await expect(page.locator("#legal-hold-lift")).to_be_hidden()
    await expect(held).to_have_count(0)
    await expect(status).not_to_contain_text("appeal 3-12/2027")
    await expect(page.locator('.event[data-kind="legal_hold_lifted"]')).to_have_count(1)
    assert page_problems(pages, page) == []

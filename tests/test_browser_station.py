"""A detention facility workstation in real Chromium: enrolment by the clerk's link, the
station page listing its hearings, one-click and automatic joining, a browser restart, and
revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener
from tests.test_browser_admin import page_problems, sign_in

pytestmark = pytest.mark.browser

CREDENTIAL_KEY = "qashyq.station.credential"


@pytest.fixture
async def admin(live_server: Any) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, live_server.admin_token, live_server.base_url)


async def scheduled(admin: Api, starts_in: timedelta, case_number: str) -> str:
    starts_at = (datetime.now(UTC) + starts_in).isoformat()
    hearing = await admin.create_hearing(starts_at=starts_at, case_number=case_number)
    return str(hearing["id"])


def midday_zone() -> str:
    """A time zone where it is about noon now: the clerk's and the workstation's pages list
    the local day's hearings, and one that starts in 10 minutes (or started a minute ago)
    must fall on it whatever time of day the test runs (near midnight UTC it would not)."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. 12 hours east of UTC
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs are inverted


async def assert_fits_without_scrolling(page: Page) -> None:
    for width, height in [(1280, 800), (1920, 1080)]:
        await page.set_viewport_size({"width": width, "height": height})
        overflow = await page.evaluate(
            "() => [document.documentElement.scrollHeight - innerHeight,"
            " document.documentElement.scrollWidth - innerWidth]")
        assert overflow[0] <= 0 and overflow[1] <= 0, (width, height, overflow)


async def test_clerk_enrols_a_workstation_that_lists_and_joins_its_hearing(
    live_server: Any, admin: Api, pages: PageOpener
) -> None:
    base = live_server.base_url
    ours = await scheduled(admin, timedelta(minutes=10), "1-501/2026")
    theirs = await scheduled(admin, timedelta(minutes=20), "1-502/2026")
    await admin.invite(ours, "judge", "Судья Ахметова")

    zone = midday_zone()
    # The clerk creates the workstation and gets its enrolment link with a QR code.
    clerk = await pages.open(base + "/admin", phone=False, timezone_id=zone)
    await sign_in(clerk, live_server.admin_token)
    await clerk.fill("#station-name", "Кабинет 3")
    await clerk.fill("#station-facility", "СИЗО-1, Алматы")
    await clerk.click("#station-create")
    link = clerk.locator(".enrol-url")
    await expect(link).to_have_count(1)
    enrol_url = (await link.text_content() or "").strip()
    station_id = await link.get_attribute("data-station-id")
    assert enrol_url.startswith(base + "/station#enrol=") and station_id
    await expect(clerk.locator("img.enrol-qr")).to_have_js_property("complete", True)
    item = clerk.locator(f'#station-list li[data-station-id="{station_id}"]')
    await expect(item).to_have_attribute("data-status", "awaiting_enrolment")

    # The clerk assigns the defendant to it while adding them to the hearing.
    await clerk.click(f'#hearings [data-hearing-id="{ours}"] button')
    await clerk.fill("#participant-name", "Серікбаев Нұрлан")
    await clerk.select_option("#participant-role", "defendant")
    await clerk.select_option("#participant-station", station_id)
    await clerk.click("#participant-add")
    await expect(clerk.locator(f'.participant-station[data-station-id="{station_id}"]')) \
        .to_contain_text("Кабинет 3")
    await admin.invite(theirs, "defendant", "Someone Else")  # not at this workstation

    # The workstation opens the link once: it is enrolled and lists today's hearing.
    kiosk = await pages.open(enrol_url, phone=False, timezone_id=zone)
    hearing_card = kiosk.locator(f'.station-hearing[data-hearing-id="{ours}"]')
    await expect(hearing_card).to_contain_text("1-501/2026")
    await expect(hearing_card).to_contain_text("Серікбаев Нұрлан")
    await expect(kiosk.locator(".station-hearing")).to_have_count(1)
    assert "#" not in kiosk.url
    credential = await kiosk.evaluate(f"() => localStorage.getItem('{CREDENTIAL_KEY}')")
    assert credential and credential.startswith("qs_")
    await assert_fits_without_scrolling(kiosk)
    await pages.screenshot(kiosk, "station-list")

    # A browser restart: a new context with the same storage, no new enrolment.
    storage = await kiosk.context.storage_state()
    await kiosk.context.close()
    kiosk = await pages.open(base + "/station", phone=False, storage_state=storage,
                             timezone_id=zone)
    join = kiosk.locator(f'.station-join[data-hearing-id="{ours}"]')
    await expect(join).to_be_enabled()
    _, events = await admin.call("GET", f"/api/stations/{station_id}/events")
    assert [e["kind"] for e in events["events"]].count("station_enrolled") == 1

    # One click on the big button: the participant page reaches the lobby as the defendant.
    await join.click()
    await expect(kiosk.locator("#screen-lobby")).to_be_visible(timeout=20_000)
    await expect(kiosk.locator("#lobby-you")).to_contain_text("Серікбаев Нұрлан")
    assert kiosk.url.startswith(base + "/join")
    _, detail = await admin.call("GET", f"/api/hearings/{ours}")
    [defendant] = [p for p in detail["participants"] if p["role"] == "defendant"]
    assert defendant["state"] == "lobby" and defendant["station_id"] == station_id
    await pages.screenshot(kiosk, "station-joined-lobby")
    assert page_problems(pages, kiosk) == []
    assert page_problems(pages, clerk) == []


async def test_workstation_joins_by_itself_and_shows_its_revocation(
    live_server: Any, admin: Api, pages: PageOpener
) -> None:
    base = live_server.base_url
    status, station = await admin.call(
        "POST", "/api/stations", json={"name": "Кабинет 7", "facility": "ИК-2"})
    assert status == 201
    # Started a minute ago: the station page joins at once, nobody clicks.
    hearing_id = await scheduled(admin, timedelta(minutes=-1), "1-503/2026")
    status, _ = await admin.call(
        "POST", f"/api/hearings/{hearing_id}/participants",
        json={"display_name": "Осуждённый К.", "role": "defendant",
              "station_id": station["id"]})
    assert status == 201

    kiosk = await pages.open(station["enrol_url"], phone=False, timezone_id=midday_zone())
    await expect(kiosk.locator("#screen-lobby")).to_be_visible(timeout=20_000)
    await expect(kiosk.locator("#lobby-you")).to_contain_text("Осуждённый К.")
    credential = await kiosk.evaluate(f"() => localStorage.getItem('{CREDENTIAL_KEY}')")

    # The clerk revokes the workstation on the clerk page.
    clerk = await pages.open(base + "/admin", phone=False, timezone_id=midday_zone())
    clerk.on("dialog", lambda dialog: dialog.accept())
    await sign_in(clerk, live_server.admin_token)
    item = clerk.locator(f'#station-list li[data-station-id="{station["id"]}"]')
    await expect(item).to_have_attribute("data-status", "enrolled")
    await item.locator("button[data-action=revoke-station]").click()
    await expect(item).to_have_attribute("data-status", "revoked")

    # The live page is closed at once and leads back to the station page's revoked screen.
    screen = kiosk.locator("#screen-error")
    await expect(screen).to_be_visible(timeout=15_000)
    await expect(screen).to_have_attribute("data-error-code", "station_revoked")
    await kiosk.click("#error-station")
    await expect(kiosk.locator("#screen-revoked")).to_be_visible()
    await expect(kiosk.locator("#screen-list")).to_be_hidden()
    await pages.screenshot(kiosk, "station-revoked")

    status, body = await admin.call("GET", "/api/station/hearings",
                                    headers={"Authorization": f"Bearer {credential}"})
    assert (status, body["code"]) == (403, "station_revoked")
    # Reloading (or restarting) shows the same screen, not an enrolment prompt.
    await kiosk.reload()
    await expect(kiosk.locator("#screen-revoked")).to_be_visible()
    assert page_problems(pages, kiosk) == []

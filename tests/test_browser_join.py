"""The participant page in a real browser: error screens, and three phones in one hearing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener, playing_remote_videos
from tests.fixtures.polling import poll

pytestmark = pytest.mark.browser


async def scheduled(admin: Api, starts_in: timedelta = timedelta(minutes=1),
                    **fields: Any) -> str:
    """Schedule a hearing starting ``starts_in`` from now; return its id."""
    starts_at = (datetime.now(UTC) + starts_in).isoformat()
    hearing = await admin.create_hearing(starts_at=starts_at, **fields)
    return str(hearing["id"])


@pytest.fixture
async def admin(live_server: Any) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, live_server.admin_token, live_server.base_url)


async def expect_error_screen(page: Page, close_code: int, error_code: str | None = None) -> None:
    screen = page.locator("#screen-error")
    await expect(screen).to_be_visible(timeout=15_000)
    await expect(screen).to_have_attribute("data-close-code", str(close_code))
    if error_code is not None:
        await expect(screen).to_have_attribute("data-error-code", error_code)
    assert (await page.locator("#error-text").text_content() or "").strip()
    # The token never stays in the address bar.
    assert "#" not in page.url


async def test_too_early_link_shows_the_start_time(
    admin: Api, pages: PageOpener, live_server: Any
) -> None:
    starts_in = timedelta(days=20)
    hearing_id = await scheduled(admin, starts_in=starts_in, language="ru")
    link = await admin.invite(hearing_id, "witness", "Петров П.П.")
    page = await pages.open(link["join_url"])
    await expect_error_screen(page, 4408, "too_early")
    # The start date is shown in local time (the browser's zone): its year and day appear.
    start = (datetime.now(UTC) + starts_in).astimezone()
    text = await page.locator("#error-text").text_content() or ""
    assert str(start.day) in text, text
    await pages.screenshot(page, "join-too-early")


async def test_revoked_link(admin: Api, pages: PageOpener) -> None:
    hearing_id = await scheduled(admin, language="kk")
    link = await admin.invite(hearing_id, "lawyer", "Revoked Person")
    status, _ = await admin.call("DELETE", f"/api/hearings/{hearing_id}/participants/{link['id']}")
    assert status == 200
    page = await pages.open(link["join_url"])
    await expect_error_screen(page, 4403, "link_revoked")
    await pages.screenshot(page, "join-revoked")


async def test_link_of_an_ended_hearing(admin: Api, pages: PageOpener) -> None:
    hearing_id = await scheduled(admin, language="en")
    link = await admin.invite(hearing_id, "witness", "Late Witness")
    status, _ = await admin.call("POST", f"/api/hearings/{hearing_id}/end")
    assert status == 200
    page = await pages.open(link["join_url"])
    await expect_error_screen(page, 4410, "hearing_ended")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("kind", ["expired", "garbage"])
async def test_invalid_or_expired_link(live_server: Any, pages: PageOpener, kind: str) -> None:
    """An expired (or forged) token and plain garbage both show the invalid-link screen.

    A truly expired link cannot be made through the API (hearings cannot be scheduled in
    the past), so the expired case is a well-formed token with ``exp`` in the past that the
    server must refuse before anything else.
    """
    if kind == "expired":
        now = int(time.time())
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = _b64(
            json.dumps(
                {
                    "iss": "qashyq",
                    "hid": "h_x",
                    "sub": "p_x",
                    "role": "witness",
                    "lid": "l",
                    "iat": now - 7200,
                    "nbf": now - 7200,
                    "exp": now - 3600,
                }
            ).encode()
        )
        token = f"{header}.{claims}.{_b64(b'0' * 32)}"
    else:
        token = "not-a-token"
    page = await pages.open(f"{live_server.base_url}/join#{token}")
    await expect_error_screen(page, 4401, "link_invalid")
    await pages.screenshot(page, f"join-invalid-{kind}")


async def test_no_token_in_link(live_server: Any, pages: PageOpener) -> None:
    page = await pages.open(f"{live_server.base_url}/join")
    await expect(page.locator("#screen-error")).to_be_visible()
    await expect(page.locator("#error-text")).not_to_be_empty()


async def test_three_phones_in_one_hearing(admin: Api, pages: PageOpener) -> None:
    hearing_id = await scheduled(admin, language="kk")
    judge = await admin.invite(hearing_id, "judge", "Судья Ахметова А.")
    defendant = await admin.invite(hearing_id, "defendant", "Серікбаев Н.")
    witness = await admin.invite(hearing_id, "witness", "Иванова М.")

    judge_page = await pages.open(judge["join_url"])
    await expect(judge_page.locator("#join")).to_be_visible(timeout=15_000)
    assert "#" not in judge_page.url
    await expect(judge_page.locator("html")).to_have_attribute("lang", "kk")
    preview = judge_page.locator("#preview")
    await expect(preview).to_be_visible(timeout=15_000)
    await poll(
        lambda: preview.evaluate("v => v.videoWidth > 0 && !v.paused"), 15, "the camera preview"
    )
    await expect(judge_page.locator(".meter")).to_be_visible()
    await pages.screenshot(judge_page, "join-prejoin-judge")
    await judge_page.click("#join")
    await expect(judge_page.locator("#screen-hearing")).to_be_visible()

    others = []
    for person in (defendant, witness):
        page = await pages.open(person["join_url"])
        await expect(page.locator("#join")).to_be_visible(timeout=15_000)
        await page.click("#join")
        await expect(page.locator("#screen-lobby")).to_be_visible()
        others.append((person, page))
    await pages.screenshot(others[0][1], "join-lobby")

    await expect(judge_page.locator("#lobby-list [data-participant-id]")).to_have_count(
        2, timeout=15_000
    )
    await pages.screenshot(judge_page, "join-judge-lobby-strip")
    for person, _ in others:
        entry = judge_page.locator(f'#lobby-list [data-participant-id="{person["id"]}"]')
        await expect(entry).to_be_visible(timeout=15_000)
        await entry.locator("[data-action=admit]").click()

    for _, page in others:
        await expect(page.locator("#screen-hearing")).to_be_visible(timeout=15_000)

    everyone = [(judge, judge_page), *others]
    for person, page in everyone:
        playing = await playing_remote_videos(page, 2)
        expected = {p["id"] for p, _ in everyone if p is not person}
        assert set(playing) == expected, (person["display_name"], playing)

    # Chat reaches everyone; a raised hand shows in the judge's participant list.
    defendant_page = others[0][1]
    await defendant_page.click("#btn-chat")
    await defendant_page.fill("#chat-input", "Сәлеметсіз бе")
    await defendant_page.press("#chat-input", "Enter")
    await expect(judge_page.locator("#chat-unread")).to_have_text("1")
    await judge_page.click("#btn-chat")
    await expect(judge_page.locator("#chat-messages")).to_contain_text("Сәлеметсіз бе")
    await others[1][1].click("#btn-hand")
    await judge_page.click("#btn-people")
    witness_row = judge_page.locator(f'#people-list [data-participant-id="{witness["id"]}"]')
    await expect(witness_row.locator(".ico-hand")).to_have_count(1)
    await expect(witness_row.locator("[data-action=mute]")).to_be_visible()
    await pages.screenshot(judge_page, "join-judge-people")

    # The judge mutes the defendant: the defendant is told and cannot unmute.
    defendant_row = judge_page.locator(f'#people-list [data-participant-id="{defendant["id"]}"]')
    await defendant_row.locator("[data-action=mute]").click()
    await expect(defendant_page.locator("#btn-mic")).to_be_disabled()
    await expect(defendant_page.locator("#banner")).to_be_visible()
    await pages.screenshot(defendant_page, "join-defendant-muted")

    for person, page in everyone:
        await pages.screenshot(page, f"join-hearing-{person['role']}")
        assert not [m for m in pages.errors(page) if "pageerror" in m or "Content Security" in m]

    # When someone leaves, the others lose that tile after the renegotiation.
    witness_page = others[1][1]
    witness_page.on("dialog", lambda dialog: dialog.accept())
    await witness_page.click("#btn-leave")
    await expect(witness_page.locator("#screen-error")).to_have_attribute("data-error-code", "left")
    for page in (judge_page, defendant_page):
        gone = page.locator(f'video[data-participant-id="{witness["id"]}"]')
        await expect(gone).to_have_count(0, timeout=15_000)
        await expect(page.locator("video[data-participant-id]")).to_have_count(1)
    # Every answer, including those after the witness left, was accepted.
    for _, page in everyone:
        assert pages.ws_errors(page) == []


async def test_denied_participant_is_told_why(admin: Api, pages: PageOpener) -> None:
    hearing_id = await scheduled(admin, language="ru")
    judge = await admin.invite(hearing_id, "judge", "Судья Омарова")
    witness = await admin.invite(hearing_id, "witness", "Посторонний")

    judge_page = await pages.open(judge["join_url"])
    await judge_page.click("#join")
    await expect(judge_page.locator("#screen-hearing")).to_be_visible(timeout=15_000)

    page = await pages.open(witness["join_url"])
    await page.click("#join")
    await expect(page.locator("#screen-lobby")).to_be_visible(timeout=15_000)

    entry = judge_page.locator(f'#lobby-list [data-participant-id="{witness["id"]}"]')
    await entry.locator("[data-action=deny]").click()
    await expect_error_screen(page, 4403, "denied")
    await expect(entry).to_have_count(0)

    # The page speaks the hearing's language and can be switched.
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    before = await page.locator("#error-text").text_content()
    await page.select_option("#lang", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#error-text")).not_to_have_text(before or "")
    await pages.screenshot(page, "join-denied-en")


REFUSE_MEDIA = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
"""


async def test_refused_camera_and_microphone_can_still_join(
    admin: Api, pages: PageOpener
) -> None:
    hearing_id = await scheduled(admin, language="en")
    judge = await admin.invite(hearing_id, "judge", "Judge Refused")
    page = await pages.open()
    await page.add_init_script(REFUSE_MEDIA)
    await page.goto(judge["join_url"])

    message = page.locator("#media-message")
    await expect(message).to_be_visible(timeout=15_000)
    await expect(message).to_contain_text("refused")
    await expect(page.locator("#media-actions [data-mode=audio]")).to_have_count(0)
    await pages.screenshot(page, "join-media-refused")
    await page.locator("#media-actions [data-mode=receive]").click()
    await expect(page.locator("#screen-hearing")).to_be_visible()
    await expect(page.locator("#btn-mic")).to_be_disabled()
    await expect(page.locator("#btn-cam")).to_be_disabled()

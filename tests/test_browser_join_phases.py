"""The participant page's phases in a real browser: a lost link is retried with backoff.

A page in the hearing whose signaling dies keeps its seat and tries again on the
RECONNECT_DELAYS_MS schedule of web_client/join.js, also when the first tries find no
server (a restart, a tunnel): it only shows the error screen when the tries are used up.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from playwright.async_api import WebSocketRoute, expect

from server.state import STATE_KEY
from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener

pytestmark = pytest.mark.browser

REFUSED_TRIES = 2


def _abort_page_sockets(app: web.Application) -> int:
    """Kill the server's end of every signaling socket without a close frame."""
    cut = 0
    for ws in list(app[STATE_KEY].sockets):
        request = ws._req  # the only handle on the TCP transport
        assert request is not None and request.transport is not None
        request.transport.abort()
        cut += 1
    return cut


async def test_page_keeps_trying_while_the_server_is_unreachable(
    api: Api, pages: PageOpener
) -> None:
    hearing = await api.create_hearing(language="en")
    link = await api.invite(hearing["id"], "judge", "Judge")
    page = await pages.open(f"{api.base_url}/join#{link['token']}", phone=False)
    await page.click("#join")
    await expect(page.locator("#screen-hearing")).to_be_visible(timeout=15_000)

    # From now on the first tries meet a server that hangs up before any welcome (1001,
    # as a server going down does); the ones after reach the real server again.
    tries: list[int] = []

    async def route(ws: WebSocketRoute) -> None:
        tries.append(len(tries))
        if len(tries) <= REFUSED_TRIES:
            await ws.close(code=1001, reason="going away")
        else:
            ws.connect_to_server()

    await page.route_web_socket(re.compile(r"/ws$"), route)
    assert _abort_page_sockets(api.http.app) == 1  # type: ignore[union-attr]

    banner = page.locator("#banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_have_text("The connection was lost. Reconnecting…")
    await expect(page.locator("#screen-hearing")).to_be_visible()

    # 0.5 + 1 + 2 s of backoff, then the welcome puts the page back in the hearing.
    await expect(banner).to_be_hidden(timeout=15_000)
    assert len(tries) == REFUSED_TRIES + 1
    await expect(page.locator("#screen-hearing")).to_be_visible()
    await expect(page.locator(f'.tile.self[data-tile-id="{link["id"]}"]')).to_have_count(1)
    # The error screen was never drawn: it would carry the close code.
    assert await page.locator("#screen-error").get_attribute("data-close-code") is None
    assert not pages.errors(page)

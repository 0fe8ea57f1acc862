"""TURN through a firewall: a page that may use only TURN over TCP still joins the hearing.

A real coturn (``turn_server`` fixture) with coturn's ``use-auth-secret`` scheme; the server
issues each participant its own time-limited credential in the welcome and tells pages to
use relay only (``QASHYQ_ICE_TRANSPORT_POLICY=relay``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from playwright.async_api import expect

from server.config import Settings
from server.ice import sfu_ice_servers
from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener, playing_remote_videos
from tests.fixtures.hearing_pages import joined_page
from tests.fixtures.page_rtc import RTC_INIT_SCRIPT, latest_pc_stats
from tests.fixtures.polling import eventually, poll
from tests.fixtures.signaling_client import SignalingClient
from tests.fixtures.turn_server import TurnServer


@pytest.fixture
def settings(tmp_path: Path, turn_server: TurnServer) -> Settings:
    """Pages get only TURN over TCP and must relay; the SFU itself needs no TURN here."""
    return Settings(
        data_dir=tmp_path / "data",
        heartbeat_s=5.0,
        turn_urls=(turn_server.url("tcp"),),
        turn_secret=turn_server.secret,
        ice_transport_policy="relay",
    )


async def test_welcome_carries_a_per_participant_turn_credential(
    api: Api, turn_server: TurnServer
) -> None:
    hearing = await api.create_hearing()
    link = await api.invite(hearing["id"], "witness")
    client = await SignalingClient.connect(api.http, api.url("/ws"), link["token"])
    try:
        welcome = await client.expect("welcome")
    finally:
        await client.close()
    assert welcome["ice_transport_policy"] == "relay"
    [turn] = welcome["ice_servers"]
    assert turn["urls"] == [turn_server.url("tcp")]
    expiry, user = turn["username"].split(":", 1)
    assert user == link["id"]
    assert time.time() < int(expiry) <= time.time() + 4 * 3600 + 5
    expected = hmac.new(turn_server.secret.encode(), turn["username"].encode(), hashlib.sha1)
    assert turn["credential"] == base64.b64encode(expected.digest()).decode()


async def test_sfu_credential_is_accepted_by_coturn(
    turn_server: TurnServer, tmp_path: Path
) -> None:
    """The server's own aiortc side gets a relayed candidate from the same coturn (UDP)."""
    settings = Settings(data_dir=tmp_path, turn_urls=(turn_server.url("tcp"),
                                                      turn_server.url("udp")),
                        turn_secret=turn_server.secret)
    [server] = sfu_ice_servers(settings)
    assert server.urls == (turn_server.url("udp"),)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[
        RTCIceServer(urls=list(server.urls), username=server.username,
                     credential=server.credential)]))
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        assert " typ relay " in pc.localDescription.sdp, turn_server.log_text()[-2000:]
    finally:
        await pc.close()


@pytest.mark.browser
async def test_chromium_behind_a_tcp_only_firewall_joins_through_turn(
    api: Api, pages: PageOpener, turn_server: TurnServer
) -> None:
    hearing = await api.create_hearing(language="en")
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    witness = await api.invite(hearing["id"], "witness", "Witness Behind Walls")
    page = await pages.open(phone=False)
    await page.context.add_init_script(RTC_INIT_SCRIPT)
    try:
        await page.goto(f"{api.base_url}/join#{witness['token']}")
        await expect(page.locator("#join")).to_be_visible(timeout=15_000)
        await page.click("#join")
        await judge.signaling.expect(
            "roster", lambda m: any(p["id"] == witness["id"] for p in m["participants"]))
        await judge.signaling.send({"type": "admit", "participant_id": witness["id"]})
        await expect(page.locator("#screen-hearing")).to_be_visible(timeout=15_000)

        # The witness sees and hears the judge...
        assert await playing_remote_videos(page, 1) == [judge.participant_id]
        # ...and the judge decodes the witness's camera and microphone.
        for kind in ("video", "audio"):
            await eventually(lambda k=kind: judge.media.frames_from(witness["id"], k) > 10,
                             what=f"the judge decodes the witness's {kind}")

        # All of it went through coturn over TCP: the page had no other way out.
        async def relayed() -> dict[str, Any] | None:
            stats = await latest_pc_stats(page)
            return stats if stats and stats["pair"] else None

        stats = await poll(relayed, 15, "a selected candidate pair")
        assert stats["config"]["iceTransportPolicy"] == "relay"
        assert stats["pair"] == {"type": "relay", "relayProtocol": "tcp", "protocol": "udp"}
        assert f":{witness['id']}" in turn_server.log_text()
        # Opus with in-band FEC both ways; the server asks the page for DTX.
        assert "useinbandfec=1" in stats["local"] and "usedtx=1" in stats["remote"]
    finally:
        await judge.close()

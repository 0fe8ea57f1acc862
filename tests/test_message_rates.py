"""Per-page message rates: a flood is refused and its sender removed; the hearing goes on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from server.config import Settings
from signaling.message_rates import DEFAULT_MESSAGE_RATES, PageAllowance
from tests.fixtures.app_server import Api
from tests.fixtures.hearing_pages import roster_entry
from tests.fixtures.polling import eventually, poll
from tests.fixtures.signaling_client import SignalingClient
from tests.fixtures.slow_reader import SlowReader


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The slow reader answers no pings: the heartbeat must outlast the test."""
    return dataclasses.replace(settings, heartbeat_s=120.0)


async def _page(api: Api, link: dict[str, Any]) -> SignalingClient:
    page = await SignalingClient.connect(api.http, api.url("/ws"), link["token"])
    await page.expect("welcome")
    return page


async def _admit(judge: SignalingClient, page_id: str) -> None:
    await judge.expect("roster", lambda m: any(
        p["id"] == page_id and p["state"] == "lobby" for p in m["participants"]))
    await judge.send({"type": "admit", "participant_id": page_id})
    await judge.expect("roster", lambda m: any(
        p["id"] == page_id and p["state"] == "admitted" for p in m["participants"]))


async def test_a_chat_flood_is_refused_its_sender_removed_and_a_weak_link_stays(
    api: Api,
) -> None:
    hearing = await api.create_hearing()
    judge_link = await api.invite(hearing["id"], "judge")
    witness_link = await api.invite(hearing["id"], "witness")
    weak_link = await api.invite(hearing["id"], "observer", "On 3G")
    judge = await _page(api, judge_link)
    url = api.http.make_url("/ws")  # type: ignore[union-attr]
    assert url.host is not None and url.port is not None
    # A phone reading about 40 KB/s, as in the report that found the flood.
    weak = await asyncio.to_thread(SlowReader, url.host, url.port, weak_link["token"], 40_000)
    try:
        await _admit(judge, weak_link["id"])
        witness = await _page(api, witness_link)
        await witness.send({"type": "ping"})  # the page is served before the judge admits it
        await witness.expect("pong")
        await _admit(judge, witness_link["id"])
        await witness.expect("admitted")

        frame = json.dumps({"type": "chat", "text": "x" * 2000})
        for _ in range(1000):
            await witness.ws.send_str(frame)

        refused = await witness.expect("error", lambda m: m["code"] == "rate_limited")
        assert refused["fatal"] is False
        assert refused["details"]["kind"] == "chat"
        assert 0 < refused["details"]["retry_after_s"] <= 1.0
        removed = await witness.expect("error", lambda m: m["fatal"])
        assert removed["code"] == "flooding"
        assert await witness.closed() == 4403
        # The judge's roster no longer lists the witness.
        await judge.expect("roster", lambda m: all(
            p["id"] != witness_link["id"] for p in m["participants"]))

        # The weak page reads everything the flood left it, and the judge's next line.
        await judge.send({"type": "chat", "text": "after-the-flood"})
        await eventually(lambda: weak.has_received("after-the-flood") or weak.closed_by_server,
                         timeout=30, what="the weak page to read the judge's line")
        assert not weak.closed_by_server
        _, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
        states = {p["id"]: p["state"] for p in detail["participants"]}
        assert states[weak_link["id"]] == "admitted"
        assert weak.received_bytes < 100_000

        # The timeline keeps the few chats that passed and the removal, not the flood.
        async with api.http.get(api.url(f"/api/hearings/{hearing['id']}/events"),
                                headers=api.auth) as r:
            assert r.status == 200
            body = await r.read()
        events = json.loads(body)["events"]
        chats = [e for e in events if e["kind"] == "chat" and e["actor"] == witness_link["id"]]
        assert 1 <= len(chats) <= DEFAULT_MESSAGE_RATES.rate("chat").burst + 1
        removal = [e for e in events if e["kind"] == "removed"]
        assert [(e["actor"], e["data"]) for e in removal] == [
            ("server", {"participant_id": witness_link["id"], "reason": "flooding",
                        "message_type": "chat"})]
        assert len(body) < 40_000
        await judge.close()
    finally:
        await asyncio.to_thread(weak.close)


async def test_a_brief_excess_is_refused_with_a_retry_time_and_the_page_stays(
    api: Api,
) -> None:
    hearing = await api.create_hearing()
    judge = await _page(api, await api.invite(hearing["id"], "judge"))
    burst = DEFAULT_MESSAGE_RATES.rate("hand").burst
    for i in range(burst + 3):
        await judge.send({"type": "hand", "raised": i % 2 == 0})
    errors = [await judge.expect("error") for _ in range(3)]
    assert {(e["code"], e["fatal"], e["details"]["kind"]) for e in errors} == {
        ("rate_limited", False, "hand")}
    retry_after_s = errors[-1]["details"]["retry_after_s"]
    assert 0 < retry_after_s <= 1.0
    assert "hand" in errors[-1]["message"]

    judge_id = judge.frames[0]["you"]["id"]

    def hand_shown() -> bool:
        roster = next(f for f in reversed(judge.frames) if f["type"] == "roster")
        return bool(roster_entry(roster, judge_id)["hand"])

    # The refusals came after the rosters of the toggles that passed; the last one lowered it.
    assert hand_shown() is False

    async def hand_passes() -> bool:
        # Tried no faster than the server said to; each try is answered by a roster or an error.
        before = len(judge.frames)
        await judge.send({"type": "hand", "raised": True})
        await eventually(lambda: len(judge.frames) > before, timeout=5, what="an answer")
        return hand_shown()

    assert await poll(hand_passes, 10, "a hand raised once the rate allows",
                      interval=retry_after_s)
    await judge.send({"type": "ping"})
    await judge.expect("pong")
    assert not judge.ws.closed
    await judge.close()


def test_the_web_clients_own_cadence_never_meets_a_limit() -> None:
    """An hour of what join.js sends at its fastest, on a clock of its own."""
    now = 0.0
    allowance = PageAllowance(DEFAULT_MESSAGE_RATES, clock=lambda: now)
    # (kind, seconds between messages): pings at the shortest heartbeat (2 s), link figures
    # every 4 s, the view at most twice a second (view_report.js), a renegotiation per
    # second while a hearing fills, and a person pressing buttons all the time.
    cadence = [("ping", 2.0), ("quality", 4.0), ("view", 0.5), ("answer", 1.0),
               ("hand", 1.5), ("media_state", 1.0), ("chat", 1.5), ("admit", 0.5)]
    due = {kind: 0.0 for kind, _ in cadence}
    period = dict(cadence)
    while now < 3600:
        for kind in due:
            if due[kind] <= now:
                assert allowance.take(kind) == 0, (kind, now)
                due[kind] = now + period[kind]
        now += 0.05

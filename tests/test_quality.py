"""Network quality in the record: pages report their link, hosts see it, the timeline keeps it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import Api
from tests.fixtures.hearing_pages import admitted_page, hearing_events, joined_page, roster_entry
from tests.fixtures.polling import eventually

GOOD = {"type": "quality", "loss_pct": 0.5, "rtt_ms": 80, "down_kbps": 900, "up_kbps": 450}
POOR = {"type": "quality", "loss_pct": 14, "rtt_ms": 700, "down_kbps": 120, "up_kbps": 40}


async def _report_until(page: AiortcParticipant, report: dict[str, Any],
                        seen: Any, what: str) -> dict[str, Any]:
    """Report every 0.5 s (the server takes one per 2 s) until ``seen()`` returns a frame."""
    deadline = time.monotonic() + 15
    while True:
        await page.signaling.send(report)
        frame = seen()
        if frame is not None:
            return dict(frame)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.5)


def _last_roster(page: AiortcParticipant) -> dict[str, Any]:
    return next(f for f in reversed(page.signaling.frames) if f["type"] == "roster")


async def test_quality_reaches_hosts_with_numbers_and_others_as_a_level(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    link = await api.invite(hearing["id"], "defendant")
    villager = await admitted_page(api, judge, link)
    lawyer = await admitted_page(api, judge, await api.invite(hearing["id"], "lawyer"))
    try:
        await eventually(lambda: villager.media.frames_from(judge.participant_id, "audio") > 20,
                         what="media flows, so the server has RTCP of its own")
        await villager.signaling.send(GOOD)
        roster = await judge.signaling.expect(
            "roster", lambda m: "quality_stats" in roster_entry(m, link["id"]))
        entry = roster_entry(roster, link["id"])
        assert entry["quality"] == "good"
        assert entry["quality_stats"]["loss_pct"] == 0.5
        assert entry["quality_stats"]["down_kbps"] == 900
        assert "server_loss_pct" in entry["quality_stats"]  # the server's RTCP view too

        def judge_sees_poor() -> dict[str, Any] | None:
            frame = _last_roster(judge)
            return frame if roster_entry(frame, link["id"]).get("quality") == "poor" else None

        await _report_until(villager, POOR, judge_sees_poor, "the judge sees a poor link")
        # Everyone sees the level next to the name; only hosts get the numbers.
        roster = await lawyer.signaling.expect(
            "roster", lambda m: roster_entry(m, link["id"]).get("quality") == "poor")
        assert "quality_stats" not in roster_entry(roster, link["id"])

        # Bad figures are refused with a clear error and change nothing.
        await villager.signaling.send({**GOOD, "loss_pct": 150})
        error = await villager.signaling.expect("error")
        assert error["code"] == "bad_message" and "loss_pct" in error["message"]
        assert error["fatal"] is False

        # The timeline keeps samples on a change of level, not every message.
        samples = [e for e in await hearing_events(api, hearing["id"])
                   if e["kind"] == "network_quality" and e["actor"] == link["id"]]
        assert [s["data"]["level"] for s in samples] == ["good", "poor"]
        assert samples[1]["data"]["loss_pct"] == 14
    finally:
        for page in (lawyer, villager, judge):
            await page.close()

"""The right to participate: the judge is told at once when a party cannot hear the hearing,
and the timeline keeps the interval so the court can repeat what was missed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import Api
from tests.fixtures.hearing_pages import admitted_page, hearing_events, joined_page, roster_entry
from tests.fixtures.polling import eventually

QUALITY = {"type": "quality", "loss_pct": 0.0, "rtt_ms": 90, "down_kbps": 300, "up_kbps": 200}


async def _report(page: AiortcParticipant, concealed_pct: float, count: int) -> None:
    """``count`` reports of this much concealed audio, as far apart as the server takes them
    (one per 2 s; a page sends one every 4 s)."""
    for _ in range(count):
        await asyncio.sleep(2.1)  # pacing a page's reports, not waiting for a result
        await page.signaling.send({**QUALITY, "concealed_pct": concealed_pct})


async def _cut(page: AiortcParticipant) -> None:
    """Drop the page off the network: no goodbye on signaling, none on media."""
    page.signaling.ws._conn.transport.abort()  # type: ignore[union-attr]
    ice = page.media.pc.getTransceivers()[0].sender.transport.transport
    await ice.stop()


async def test_a_defendant_who_cannot_hear_is_named_to_the_judge_with_the_interval(
    api: Api,
) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    link = await api.invite(hearing["id"], "defendant", "Villager")
    defendant = await admitted_page(api, judge, link)
    observer = await admitted_page(api, judge, await api.invite(hearing["id"], "observer"))
    try:
        # An observer who hears badly is nobody's concern but their own.
        await _report(observer, 40, 3)
        # The defendant's page lost a third of the audio for three reports (~12 s).
        await _report(defendant, 35, 3)
        alert = await judge.signaling.expect("participation_alert")
        assert alert["participant_id"] == link["id"] and alert["display_name"] == "Villager"
        assert alert["role"] == "defendant" and alert["reason"] == "cannot_hear"
        assert alert["resolved"] is False and alert["since"] and alert["until"] is None
        roster = await judge.signaling.expect(
            "roster", lambda m: roster_entry(m, link["id"]).get("participation_alert"))
        assert roster_entry(roster, link["id"])["participation_alert"] == "cannot_hear"
        # Others are not shown who cannot hear: it is for the court to handle.
        assert not any(f["type"] == "participation_alert" for f in defendant.signaling.frames)

        started = time.monotonic()
        await _report(defendant, 2, 2)
        restored = await judge.signaling.expect(
            "participation_alert", lambda m: m["resolved"] is True)
        assert restored["since"] == alert["since"] and restored["until"] > alert["since"]
        events = await hearing_events(api, hearing["id"])
        lost = [e for e in events if e["kind"] == "participation_lost"]
        back = [e for e in events if e["kind"] == "participation_restored"]
        assert [e["data"]["participant_id"] for e in lost] == [link["id"]]
        assert lost[0]["data"]["reason"] == "cannot_hear"
        assert back[0]["data"]["participant_id"] == link["id"]
        assert 0 < back[0]["data"]["missed_s"] <= time.monotonic() - started + 30
    finally:
        for page in (observer, defendant, judge):
            await page.close()


async def test_a_witness_who_drops_off_is_named_until_they_are_back(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    link = await api.invite(hearing["id"], "witness", "Witness")
    witness = await admitted_page(api, judge, link)
    back: AiortcParticipant | None = None
    try:
        await eventually(lambda: judge.media.frames_from(link["id"], "audio") > 5,
                         what="the judge hears the witness")
        await _cut(witness)
        alert = await judge.signaling.expect("participation_alert")
        assert (alert["participant_id"], alert["reason"], alert["resolved"]) == (
            link["id"], "disconnected", False)
        back = await joined_page(api, link)  # the page reconnects by itself
        restored = await judge.signaling.expect(
            "participation_alert", lambda m: m["resolved"] is True)
        assert restored["participant_id"] == link["id"]
        kinds: list[Any] = [e["kind"] for e in await hearing_events(api, hearing["id"])]
        assert kinds.index("participation_lost") < kinds.index("participation_restored")
    finally:
        for page in (back, judge):
            if page is not None:
                await page.close()
        await witness.media.close()

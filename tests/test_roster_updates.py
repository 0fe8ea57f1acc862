"""A page gets the whole roster once, then only what changed (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.app_server import Api
from tests.fixtures.signaling_client import SignalingClient


async def _page(api: Api, link: dict[str, Any]) -> SignalingClient:
    page = await SignalingClient.connect(api.http, api.url("/ws"), link["token"])
    await page.expect("welcome")
    return page


def _raw(page: SignalingClient, kind: str) -> list[dict[str, Any]]:
    return [f for f in page.frames if f["type"] == kind and not f.get("from_update")]


async def test_a_change_reaches_each_page_as_that_entry_alone(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await _page(api, await api.invite(hearing["id"], "judge"))
    links = [await api.invite(hearing["id"], role) for role in ("lawyer", "witness", "observer")]
    pages = []
    for link in links:
        page = await _page(api, link)
        await judge.expect("roster", lambda m, pid=link["id"]: any(
            p["id"] == pid and p["state"] == "lobby" for p in m["participants"]))
        await judge.send({"type": "admit", "participant_id": link["id"]})
        await page.expect("admitted")
        # Admitted, the page starts holding the roster: everyone, in full.
        full = await page.expect("roster", lambda m: not m.get("from_update"))
        assert {p["id"] for p in full["participants"]} >= {link["id"]}
        pages.append(page)
    lawyer, witness, observer = pages

    await witness.send({"type": "hand", "raised": True})
    for page in (judge, lawyer, observer):
        update = await page.expect("roster_update", lambda m: any(
            p["id"] == links[1]["id"] and p["hand"] for p in m["participants"]))
        assert [p["id"] for p in update["participants"]] == [links[1]["id"]]
        assert update["left"] == []
        # What the page holds now: everyone, the witness's hand up.
        held = {p["id"]: p["hand"] for p in page.roster}
        assert held == {judge.frames[0]["you"]["id"]: False, links[0]["id"]: False,
                        links[1]["id"]: True, links[2]["id"]: False}
    assert len(_raw(observer, "roster")) == 1  # the whole roster went to it once

    await lawyer.send({"type": "leave"})
    update = await observer.expect("roster_update", lambda m: m["left"])
    assert update == {"type": "roster_update", "participants": [], "left": [links[0]["id"]]}
    assert {p["id"] for p in observer.roster} == {
        judge.frames[0]["you"]["id"], links[1]["id"], links[2]["id"]}
    for page in (judge, witness, observer):
        await page.close()

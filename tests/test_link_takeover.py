"""A link opened on a second device leaves a trace: where each page came from, and who
took the seat over from whom; the hosts are told at once."""

from __future__ import annotations

from tests.fixtures.app_server import Api
from tests.fixtures.hearing_pages import hearing_events
from tests.fixtures.signaling_client import SignalingClient

PHONE = "Mozilla/5.0 (Linux; Android 13) Chrome/131 Mobile"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128"


async def test_a_second_page_on_the_same_link_is_recorded_and_hosts_are_told(api: Api) -> None:
    hearing = await api.create_hearing()
    judge_link = await api.invite(hearing["id"], "judge")
    witness_link = await api.invite(hearing["id"], "witness")
    ws_url = api.url("/ws")
    judge = await SignalingClient.connect(api.http, ws_url, judge_link["token"])
    await judge.expect("welcome")
    first = await SignalingClient.connect(api.http, ws_url, witness_link["token"],
                                          headers={"User-Agent": PHONE})
    await first.expect("welcome")
    await judge.send({"type": "admit", "participant_id": witness_link["id"]})
    await first.expect("admitted")

    second = await SignalingClient.connect(api.http, ws_url, witness_link["token"],
                                           headers={"User-Agent": LAPTOP + "x" * 5000})
    assert (await second.expect("welcome"))["you"]["state"] == "admitted"
    assert (await first.expect("error"))["code"] == "replaced"
    told = await judge.expect("page_replaced")
    assert told["participant_id"] == witness_link["id"]
    assert told["display_name"] == witness_link["display_name"]

    events = [e for e in await hearing_events(api, hearing["id"])
              if e["actor"] == witness_link["id"]]
    joined = next(e for e in events if e["kind"] == "joined")
    assert joined["data"]["user_agent"] == PHONE
    assert joined["data"]["address"] == "127.0.0.1"
    [replaced] = [e for e in events if e["kind"] == "replaced"]
    assert replaced["data"]["previous"]["user_agent"] == PHONE
    # The new page's own claim, cut to a sane length in the trail.
    assert replaced["data"]["user_agent"].startswith(LAPTOP)
    assert len(replaced["data"]["user_agent"]) == 200
    rejoined = next(e for e in events if e["kind"] == "rejoined")
    assert rejoined["data"]["user_agent"].startswith(LAPTOP)
    for page in (judge, first, second):
        await page.close()

"""A hearing as a judge runs it: the lobby, admission, hands, chat, mute, removal, the end."""

from __future__ import annotations

from tests.fixtures.app_server import Api
from tests.fixtures.signaling_client import SignalingClient


async def test_lobby_flow_with_several_clients(api: Api) -> None:
    hearing = await api.create_hearing(kind="court")
    links = {role: await api.invite(hearing["id"], role)
             for role in ["judge", "plaintiff", "defendant", "witness", "observer"]}
    ids = {role: link["id"] for role, link in links.items()}

    async def join(role: str) -> SignalingClient:
        return await SignalingClient.connect(api.http, api.url("/ws"), links[role]["token"])

    # A party arriving before the judge waits; the hearing is not open yet.
    plaintiff = await join("plaintiff")
    welcome = await plaintiff.expect("welcome")
    assert welcome["you"]["state"] == "lobby"
    assert welcome["hearing"]["state"] == "scheduled"
    assert welcome["roster"] == []

    judge = await join("judge")
    welcome = await judge.expect("welcome")
    assert judge.frames[0] is welcome  # the welcome always comes first
    assert welcome["hearing"]["state"] == "open"
    assert {e["id"]: e["state"] for e in welcome["roster"]} == {
        ids["plaintiff"]: "lobby", ids["judge"]: "admitted"}

    defendant, witness, observer = await join("defendant"), await join("witness"), await join(
        "observer")
    for page in (defendant, witness, observer):
        assert (await page.expect("welcome"))["you"]["state"] == "lobby"
    # The judge sees the whole lobby live.
    await judge.expect("roster", lambda m: sum(e["state"] == "lobby"
                                               for e in m["participants"]) == 4)

    for role in ["plaintiff", "defendant", "observer"]:
        await judge.send({"type": "admit", "participant_id": ids[role]})
    await plaintiff.expect("admitted")
    await defendant.expect("admitted")
    observed = await observer.expect("admitted")
    assert observed == {"type": "admitted"}
    await judge.send({"type": "deny", "participant_id": ids["witness"]})
    denied = await witness.expect("error")
    assert denied["code"] == "denied"
    assert await witness.closed() == 4403

    # Admitted parties see each other but never the lobby.
    roster = await plaintiff.expect(
        "roster", lambda m: {e["id"] for e in m["participants"]} ==
        {ids["judge"], ids["plaintiff"], ids["defendant"], ids["observer"]})
    assert all(e["state"] == "admitted" for e in roster["participants"])

    await defendant.send({"type": "hand", "raised": True})
    await judge.expect("roster", lambda m: any(e["id"] == ids["defendant"] and e["hand"]
                                               for e in m["participants"]))
    await plaintiff.send({"type": "chat", "text": "Прошу слова"})
    for page in (judge, plaintiff, defendant, observer):
        chat = await page.expect("chat")
        assert (chat["from"], chat["text"], chat["role"]) == (
            ids["plaintiff"], "Прошу слова", "plaintiff")

    await judge.send({"type": "mute", "participant_id": ids["defendant"], "muted": True})
    muted = await defendant.expect("muted")
    assert muted["muted"] is True and muted["by"] == ids["judge"]
    await plaintiff.expect("roster", lambda m: any(e["id"] == ids["defendant"] and e["muted"]
                                                   for e in m["participants"]))

    await judge.send({"type": "remove", "participant_id": ids["observer"]})
    assert (await observer.expect("error"))["code"] == "removed"
    assert await observer.closed() == 4403
    # Removed means the seat is gone: coming back means the lobby again.
    observer = await join("observer")
    assert (await observer.expect("welcome"))["you"]["state"] == "lobby"

    _, live = await api.call("GET", f"/api/hearings/{hearing['id']}")
    states = {p["id"]: p["state"] for p in live["participants"]}
    assert states == {ids["judge"]: "admitted", ids["plaintiff"]: "admitted",
                      ids["defendant"]: "admitted", ids["witness"]: "offline",
                      ids["observer"]: "lobby"}
    _, listing = await api.call("GET", "/api/hearings")
    assert (listing["hearings"][0]["connected"], listing["hearings"][0]["lobby"]) == (4, 1)

    await judge.send({"type": "end"})
    for page in (judge, plaintiff, defendant, observer):
        await page.expect("ended")
        assert await page.closed() == 4410
    _, ended = await api.call("GET", f"/api/hearings/{hearing['id']}")
    assert ended["state"] == "ended" and ended["ended_at"]

    _, timeline = await api.call("GET", f"/api/hearings/{hearing['id']}/events")
    kinds = [e["kind"] for e in timeline["events"]]
    for expected in ["joined", "hearing_opened", "admitted", "denied", "hand_raised", "chat",
                     "muted", "removed", "hearing_ended"]:
        assert expected in kinds, expected
    assert kinds.index("hearing_opened") < kinds.index("admitted") < kinds.index("hearing_ended")


async def test_reconnect_keeps_the_seat(api: Api) -> None:
    hearing = await api.create_hearing(kind="mediation")
    mediator = await api.invite(hearing["id"], "mediator")
    party = await api.invite(hearing["id"], "respondent")
    host = await SignalingClient.connect(api.http, api.url("/ws"), mediator["token"])
    await host.expect("welcome")
    page = await SignalingClient.connect(api.http, api.url("/ws"), party["token"])
    await page.expect("welcome")
    await host.send({"type": "admit", "participant_id": party["id"]})
    await page.expect("admitted")
    await page.close()
    again = await SignalingClient.connect(api.http, api.url("/ws"), party["token"])
    assert (await again.expect("welcome"))["you"]["state"] == "admitted"
    await again.close()
    await host.close()


async def test_clerk_is_a_host_and_admits(api: Api) -> None:
    hearing = await api.create_hearing()
    clerk = await api.invite(hearing["id"], "clerk")
    interpreter = await api.invite(hearing["id"], "interpreter")
    host = await SignalingClient.connect(api.http, api.url("/ws"), clerk["token"])
    assert (await host.expect("welcome"))["you"]["state"] == "admitted"
    page = await SignalingClient.connect(api.http, api.url("/ws"), interpreter["token"])
    await page.expect("welcome")
    await host.send({"type": "admit", "participant_id": interpreter["id"]})
    await page.expect("admitted")
    await host.send({"type": "admit", "participant_id": "p_nobody"})
    assert (await host.expect("error"))["code"] == "not_found"
    await page.close()
    await host.close()

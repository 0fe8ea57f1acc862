"""A hearing's room (its media, tasks and timers) lives only while someone is in it.

Released when the hearing ends, or when its last page has gone and the reconnection grace is
over; a later return takes the seats back up from the store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.config import Settings
from server.state import STATE_KEY
from tests.fixtures.app_server import Api
from tests.fixtures.hearing_pages import admitted_page, joined_page
from tests.fixtures.polling import eventually, poll

GRACE_S = 1.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A short reconnection grace, so a dropped page's room is released soon."""
    return Settings(data_dir=tmp_path / "data", heartbeat_s=5.0, reconnect_grace_s=GRACE_S)


async def _live_hearings(api: Api) -> int:
    async with api.http.get(api.url("/metrics"), headers=api.auth) as r:
        assert r.status == 200
        text = await r.text()
    [line] = [x for x in text.splitlines() if x.startswith("qashyq_live_hearings ")]
    return int(line.split()[1])


async def _count_is(api: Api, expected: int, what: str) -> None:
    async def check() -> bool:
        return await _live_hearings(api) == expected

    await poll(check, 20, what)


def _room_tasks() -> int:
    """Tasks of the server's rooms and their media still running in this process."""
    names = ("reconnect-grace-", "release-", "link of ", "recording watch of ")
    return sum(1 for t in asyncio.all_tasks() if t.get_name().startswith(names))


async def test_rooms_are_released_when_hearings_end_or_empty(api: Api) -> None:
    rooms = api.http.app[STATE_KEY].rooms  # type: ignore[union-attr]
    ended, left, dropped = [await api.create_hearing() for _ in range(3)]
    judges = {h["id"]: await joined_page(api, await api.invite(h["id"], "judge"))
              for h in (ended, left, dropped)}
    witness_link = await api.invite(left["id"], "witness")
    witness = await admitted_page(api, judges[left["id"]], witness_link)
    medias = {hid: rooms.get(hid).media for hid in judges}
    await _count_is(api, 3, "three live hearings")
    assert _room_tasks() >= 3 + 4  # a recording watch per hearing, a media link per page

    # The clerk ends one: its room goes at once.
    status, _ = await api.call("POST", f"/api/hearings/{ended['id']}/end")
    assert status == 200
    await _count_is(api, 2, "the ended hearing's room released")
    assert rooms.get(ended["id"]) is None

    # Everyone leaves another on purpose: its room goes too, though the hearing stays open.
    for page in (witness, judges[left["id"]]):
        await page.signaling.send({"type": "leave"})
        await page.signaling.closed()
    await _count_is(api, 1, "the emptied hearing's room released")
    status, body = await api.call("GET", f"/api/hearings/{left['id']}")
    assert status == 200 and body["state"] == "open"

    # The last page of the third drops without a word: released once the grace is over.
    judges[dropped["id"]].signaling.ws._conn.transport.abort()  # type: ignore[union-attr]
    await _count_is(api, 0, "the dropped hearing's room released after the grace")
    assert all(media is not None and not media.participant_ids for media in medias.values())

    # A return takes the seats back up: the witness was admitted and left, so the lobby;
    # the judge opens the room again.
    judge = await joined_page(api, await api.invite(left["id"], "judge", "Second judge"))
    try:
        assert judge.signaling.frames[0]["hearing"]["state"] == "open"
        await _count_is(api, 1, "the hearing's room opened again")
    finally:
        await judge.close()
        for page in (*judges.values(), witness):
            await page.close()
    await _count_is(api, 0, "no room left")
    await eventually(lambda: _room_tasks() == 0, what="every room task to end")

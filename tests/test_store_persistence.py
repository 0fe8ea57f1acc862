"""Everything a store accepted is still there after it is closed and opened again.

For SQLite also after the process is killed outright right after a write returned: a write
that returned is committed, not waiting in a buffer or an open transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from signaling.admin_token import AdminToken
from signaling.model import (
    AuditEvent,
    Hearing,
    HearingKind,
    Language,
    Participant,
    Role,
    VideoCodec,
)
from signaling.station import Station
from signaling.store import HearingStore
from signaling.store_embedded import DB_FILE_NAME, EmbeddedStore
from signaling.store_opening import open_store
from signaling.store_redis import RedisStore

StoreOpener = Callable[[], Awaitable[HearingStore]]

ALMATY = timezone(timedelta(hours=5))
REPO_ROOT = Path(__file__).resolve().parent.parent
CHILD_DEADLINE_SECONDS = 60


@pytest.fixture(params=["embedded", "redis"])
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens a store of the parametrized backend; every call opens the same database."""
    if request.param == "embedded":
        data_dir = tmp_path / "data"

        async def open_embedded() -> HearingStore:
            return await open_store(data_dir, None)

        return open_embedded
    url: str = request.getfixturevalue("fresh_redis_url")

    async def open_redis() -> HearingStore:
        return await open_store(tmp_path / "unused", url)

    return open_redis


def _hearing(hearing_id: str, hour: int) -> Hearing:
    return Hearing(
        id=hearing_id,
        case_number=f"2-{hour}/2025",
        title="Медиация по трудовому спору",
        kind=HearingKind.MEDIATION,
        starts_at=datetime(2025, 5, 20, hour, 15, tzinfo=ALMATY),
        duration_minutes=45,
        language=Language.RU,
        video_codec=VideoCodec.H264,
        created_at=datetime(2025, 5, 1, 10, 0, tzinfo=UTC),
    )


async def test_everything_survives_close_and_reopen(open_backend: StoreOpener) -> None:
    first = _hearing("h_first", 10)
    ended = _hearing("h_ended", 9).ended(datetime(2025, 5, 20, 9, 50, tzinfo=ALMATY))
    mediator = Participant(
        id="p_mediator",
        hearing_id=first.id,
        display_name="Медиатор",
        role=Role.MEDIATOR,
        created_at=datetime(2025, 5, 2, tzinfo=UTC),
    )
    party = Participant(
        id="p_party",
        hearing_id=first.id,
        display_name="Сторона",
        role=Role.RESPONDENT,
        created_at=datetime(2025, 5, 2, tzinfo=UTC),
    )
    revoked = dataclasses.replace(party, revoked_at=datetime(2025, 5, 3, tzinfo=UTC))
    events = [
        AuditEvent(first.id, datetime(2025, 5, 20, 10, 15, tzinfo=ALMATY), "opened", "system"),
        AuditEvent(first.id, datetime(2025, 5, 20, 10, 16, tzinfo=ALMATY), "joined", "p_party"),
    ]

    store = await open_backend()
    try:
        await store.add_hearing(first)
        await store.add_hearing(_hearing("h_ended", 9))
        await store.save_hearing(ended)
        await store.add_participant(mediator)
        await store.add_participant(party)
        await store.save_participant(revoked)
        for event in events:
            await store.append_event(event)
        await store.add_admin_token(
            AdminToken("f" * 64, "clerk-1", datetime(2025, 5, 1, tzinfo=UTC)))
        secret = await store.secret("link-signing")
    finally:
        await store.close()

    reopened = await open_backend()
    try:
        assert await reopened.get_hearing(first.id) == first
        assert await reopened.list_hearings() == [ended, first]
        assert await reopened.list_hearings(
            starts_from=datetime(2025, 5, 20, 5, 0, tzinfo=UTC)
        ) == [first]
        assert await reopened.list_participants(first.id) == [mediator, revoked]
        got = await reopened.get_participant(first.id, party.id)
        assert got is not None and got.revoked
        assert await reopened.list_events(first.id) == events
        assert await reopened.get_admin_token("f" * 64) == AdminToken(
            "f" * 64, "clerk-1", datetime(2025, 5, 1, tzinfo=UTC))
        assert await reopened.secret("link-signing") == secret
    finally:
        await reopened.close()


async def test_stations_and_assignments_survive_close_and_reopen(
    open_backend: StoreOpener,
) -> None:
    hearing = _hearing("h_station", 12)
    pending, _code = Station.create("s_pending", "Кабинет 1", "СИЗО-1", hearing.created_at,
                                    timedelta(hours=24))
    awaiting, code = Station.create("s_enrolled", "Кабинет 2", "СИЗО-1", hearing.created_at,
                                    timedelta(hours=24))
    enrolled, _credential = awaiting.enrolled(code, hearing.created_at)
    defendant = Participant(
        id="p_defendant", hearing_id=hearing.id, display_name="Подсудимый",
        role=Role.DEFENDANT, created_at=hearing.created_at, station_id=enrolled.id,
    )

    store = await open_backend()
    try:
        await store.add_hearing(hearing)
        await store.add_participant(defendant)
        await store.add_station(pending)
        await store.add_station(awaiting)
        await store.save_station(enrolled)
    finally:
        await store.close()

    reopened = await open_backend()
    try:
        assert await reopened.list_stations() == [pending, enrolled]
        got = await reopened.get_participant(hearing.id, defendant.id)
        assert got is not None and got.station_id == "s_enrolled"
    finally:
        await reopened.close()


async def test_a_data_file_from_before_stations_opens_with_its_data(tmp_path: Path) -> None:
    """Schema 1 had no stations table and participants without station_id."""
    data_dir = tmp_path / "data"
    hearing = _hearing("h_old", 10)
    old_participant = {
        "id": "p_old", "hearing_id": hearing.id, "display_name": "Свидетель",
        "role": "witness", "created_at": "2025-05-02T00:00:00+00:00", "link_id": "abc",
        "revoked_at": None,
    }
    store = await EmbeddedStore.open(data_dir)
    await store.add_hearing(hearing)
    await store.close()
    # Turn the file into what version 1 wrote.
    with closing(sqlite3.connect(data_dir / DB_FILE_NAME)) as conn:
        conn.execute("DROP TABLE stations")
        conn.execute(
            "INSERT INTO participants (hearing_id, id, json) VALUES (?, ?, ?)",
            (hearing.id, "p_old", json.dumps(old_participant)),
        )
        conn.execute("PRAGMA user_version=1")
        conn.commit()

    reopened = await EmbeddedStore.open(data_dir)
    try:
        assert await reopened.get_hearing(hearing.id) == hearing
        got = await reopened.get_participant(hearing.id, "p_old")
        assert got is not None and got.station_id is None and got.display_name == "Свидетель"
        assert await reopened.list_stations() == []
        station, _code = Station.create("s_new", "Кабинет", "СИЗО-2", hearing.created_at,
                                        timedelta(hours=1))
        await reopened.add_station(station)
        assert await reopened.list_stations() == [station]
    finally:
        await reopened.close()


async def test_admin_tokens_from_before_names_are_called_admin(tmp_path: Path) -> None:
    """Schema 2 kept only the hash and creation time of each admin token."""
    data_dir = tmp_path / "data"
    store = await EmbeddedStore.open(data_dir)
    await store.close()
    with closing(sqlite3.connect(data_dir / DB_FILE_NAME)) as conn:
        conn.execute("DROP TABLE admin_tokens")
        conn.execute("CREATE TABLE admin_tokens (hash TEXT PRIMARY KEY, created_at TEXT NOT NULL)")
        conn.execute("INSERT INTO admin_tokens VALUES (?, ?)",
                     ("e" * 64, "2025-05-01T00:00:00+00:00"))
        conn.execute("PRAGMA user_version=2")
        conn.commit()

    reopened = await EmbeddedStore.open(data_dir)
    try:
        legacy = AdminToken("e" * 64, "admin", datetime(2025, 5, 1, tzinfo=UTC))
        assert await reopened.get_admin_token("e" * 64) == legacy
        await reopened.save_admin_token(legacy.revoked_now(datetime(2025, 6, 1, tzinfo=UTC)))
        got = await reopened.get_admin_token("e" * 64)
        assert got is not None and got.revoked and got.name == "admin"
    finally:
        await reopened.close()


async def test_redis_admin_tokens_from_before_names_are_called_admin(fresh_redis_url: str) -> None:
    store = await RedisStore.open(fresh_redis_url, prefix="qashyq-legacy-token:")
    try:
        # What the Redis store wrote before names: the creation time as the hash's value.
        await store._commands.hset("qashyq-legacy-token:admin_tokens", "e" * 64,
                                   "2025-05-01T00:00:00+00:00")
        assert await store.list_admin_tokens() == [
            AdminToken("e" * 64, "admin", datetime(2025, 5, 1, tzinfo=UTC))]
    finally:
        await store._commands.delete("qashyq-legacy-token:admin_tokens")
        await store.close()


async def test_open_store_picks_the_backend(tmp_path: Path, redis_url: str) -> None:
    embedded = await open_store(tmp_path / "data", None)
    redis = await open_store(tmp_path / "data", redis_url)
    try:
        assert isinstance(embedded, EmbeddedStore)
        assert isinstance(redis, RedisStore)
        assert (tmp_path / "data" / DB_FILE_NAME).is_file()
    finally:
        await embedded.close()
        await redis.close()


# Runs in a child process: write one hearing, report it, then wait to be killed.
_WRITE_THEN_WAIT = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from signaling.model import AuditEvent
from signaling.store_embedded import EmbeddedStore
from tests.test_store_persistence import _hearing

async def main() -> None:
    store = await EmbeddedStore.open(Path(sys.argv[1]))
    await store.add_hearing(_hearing("h_killed", 11))
    await store.append_event(
        AuditEvent("h_killed", datetime(2025, 5, 20, tzinfo=UTC), "opened", "system")
    )
    sys.stdout.write("written\\n")
    sys.stdout.flush()
    # Never closes the store: the parent kills us while the connection is open.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


async def test_embedded_write_survives_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WRITE_THEN_WAIT,
        str(data_dir),
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_DEADLINE_SECONDS)
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        _, stderr = await child.communicate()
    assert line == b"written\n", stderr.decode(errors="replace")
    assert child.returncode == -signal.SIGKILL

    store = await EmbeddedStore.open(data_dir)
    try:
        assert await store.get_hearing("h_killed") == _hearing("h_killed", 11)
        assert [event.kind for event in await store.list_events("h_killed")] == ["opened"]
    finally:
        await store.close()

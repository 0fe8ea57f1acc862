"""The ``HearingStore`` contract, run against every backend (SQLite and a real Redis)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from signaling.admin_token import AdminToken
from signaling.errors import Conflict, NotFound
from signaling.live_hearing import LiveHearing
from signaling.model import (
    AuditEvent,
    Hearing,
    HearingKind,
    Language,
    Participant,
    Role,
    VideoCodec,
    new_id,
)
from signaling.retention import LegalHold
from signaling.station import Station
from signaling.store import COURT_TIMELINE, HearingStore
from signaling.store_embedded import EmbeddedStore
from signaling.store_redis import RedisStore

StoreOpener = Callable[[], Awaitable[HearingStore]]

ALMATY = timezone(timedelta(hours=5))
BASE = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["embedded", "redis"])
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens a store of the parametrized backend; every call opens the same database."""
    if request.param == "embedded":
        data_dir = tmp_path / "data"

        async def open_embedded() -> HearingStore:
            return await EmbeddedStore.open(data_dir)

        return open_embedded
    # Requested only for the Redis case, so the SQLite half runs without a redis-server.
    url: str = request.getfixturevalue("fresh_redis_url")

    async def open_redis() -> HearingStore:
        return await RedisStore.open(url, prefix="qashyq-test:")

    return open_redis


@pytest.fixture
async def store(open_backend: StoreOpener) -> AsyncIterator[HearingStore]:
    """A fresh, empty store of each backend, closed after the test."""
    opened = await open_backend()
    try:
        yield opened
    finally:
        await opened.close()


def make_hearing(
    starts_at: datetime = BASE, *, hearing_id: str | None = None, **changes: object
) -> Hearing:
    """A valid hearing; ``changes`` override any field."""
    hearing = Hearing(
        id=hearing_id or new_id("h"),
        case_number="2-1234/2025",
        title="Иск о взыскании — Талапкер Н.",
        kind=HearingKind.COURT,
        starts_at=starts_at,
        duration_minutes=90,
        language=Language.KK,
        created_at=datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    )
    return dataclasses.replace(hearing, **changes)  # type: ignore[arg-type]


def make_participant(
    hearing_id: str, name: str = "Айгерим", role: Role = Role.LAWYER
) -> Participant:
    """A valid participant of ``hearing_id``."""
    return Participant(
        id=new_id("p"),
        hearing_id=hearing_id,
        display_name=name,
        role=role,
        created_at=datetime(2025, 3, 2, 8, 0, tzinfo=ALMATY),
    )


def make_event(hearing_id: str, kind: str, minute: int = 0) -> AuditEvent:
    """An audit event of ``hearing_id``."""
    return AuditEvent(
        hearing_id=hearing_id,
        at=BASE + timedelta(minutes=minute),
        kind=kind,
        actor="clerk",
        data={"minute": minute, "note": "сот отырысы"},
    )


# Hearings


async def test_hearing_roundtrip_keeps_every_field(store: HearingStore) -> None:
    hearing = make_hearing(
        datetime(2025, 3, 10, 14, 0, 0, 500, tzinfo=ALMATY),
        kind=HearingKind.MEDIATION,
        language=Language.RU,
        video_codec=VideoCodec.H264,
        ended_at=datetime(2025, 3, 10, 15, 45, tzinfo=ALMATY),
    )
    await store.add_hearing(hearing)

    got = await store.get_hearing(hearing.id)

    assert got == hearing
    assert got is not None
    assert got.starts_at.utcoffset() == timedelta(hours=5)
    assert got.ended_at is not None and got.ended_at.utcoffset() == timedelta(hours=5)


async def test_get_unknown_hearing_is_none(store: HearingStore) -> None:
    assert await store.get_hearing("h_missing") is None


async def test_adding_a_hearing_twice_is_a_conflict(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)

    with pytest.raises(Conflict):
        await store.add_hearing(dataclasses.replace(hearing, title="Another title"))

    assert await store.get_hearing(hearing.id) == hearing
    assert await store.list_hearings() == [hearing]


async def test_list_hearings_filters_start_in_half_open_range_earliest_first(
    store: HearingStore,
) -> None:
    before = make_hearing(BASE - timedelta(microseconds=1))
    at_start = make_hearing(BASE)
    inside = make_hearing(BASE + timedelta(hours=2))
    at_end = make_hearing(BASE + timedelta(hours=4))
    # Added out of order so the ordering comes from the store, not from insertion.
    for hearing in (inside, at_end, before, at_start):
        await store.add_hearing(hearing)

    listed = await store.list_hearings(BASE, BASE + timedelta(hours=4))

    assert listed == [at_start, inside]
    assert await store.list_hearings() == [before, at_start, inside, at_end]
    assert await store.list_hearings(starts_from=BASE + timedelta(hours=2)) == [inside, at_end]
    assert await store.list_hearings(starts_before=BASE) == [before]


async def test_list_hearings_compares_instants_not_local_clock_times(
    store: HearingStore,
) -> None:
    # 12:00 at +05:00 is 07:00 UTC: before a 09:00 UTC bound although "12" > "09".
    almaty_noon = make_hearing(datetime(2025, 3, 10, 12, 0, tzinfo=ALMATY))
    utc_eight = make_hearing(datetime(2025, 3, 10, 8, 0, tzinfo=UTC))
    await store.add_hearing(utc_eight)
    await store.add_hearing(almaty_noon)

    assert await store.list_hearings() == [almaty_noon, utc_eight]
    assert await store.list_hearings(starts_before=BASE) == [almaty_noon, utc_eight]
    assert await store.list_hearings(starts_from=datetime(2025, 3, 10, 7, 30, tzinfo=UTC)) == [
        utc_eight
    ]
    # Bounds given in an offset are instants too: 12:00+05:00 is exactly the hearing's start.
    assert await store.list_hearings(
        starts_from=datetime(2025, 3, 10, 12, 0, tzinfo=ALMATY),
        starts_before=datetime(2025, 3, 10, 13, 0, 0, 1, tzinfo=ALMATY),
    ) == [almaty_noon, utc_eight]


async def test_list_hearings_on_empty_store_and_empty_range(store: HearingStore) -> None:
    assert await store.list_hearings() == []
    await store.add_hearing(make_hearing())
    assert await store.list_hearings(BASE + timedelta(days=1), BASE + timedelta(days=2)) == []


async def test_save_hearing_replaces_and_moves_it_in_the_range_index(
    store: HearingStore,
) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)
    moved = dataclasses.replace(hearing, starts_at=BASE + timedelta(days=1))
    ended = moved.ended(BASE + timedelta(days=1, hours=1))

    await store.save_hearing(ended)

    assert await store.get_hearing(hearing.id) == ended
    assert await store.list_hearings(BASE, BASE + timedelta(hours=1)) == []
    assert await store.list_hearings(starts_from=BASE + timedelta(days=1)) == [ended]


async def test_save_unknown_hearing_is_not_found(store: HearingStore) -> None:
    with pytest.raises(NotFound):
        await store.save_hearing(make_hearing())

    assert await store.list_hearings() == []


# Participants


async def test_participants_are_listed_in_the_order_added(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)
    # Ids are random, so the order cannot come from sorting them.
    people = [
        make_participant(hearing.id, "Судья", Role.JUDGE),
        make_participant(hearing.id, "Истец", Role.PLAINTIFF),
        make_participant(hearing.id, "Адвокат", Role.LAWYER),
        make_participant(hearing.id, "Наблюдатель", Role.OBSERVER),
    ]
    for person in people:
        await store.add_participant(person)

    assert await store.list_participants(hearing.id) == people
    assert await store.get_participant(hearing.id, people[2].id) == people[2]


async def test_participant_roundtrip_keeps_link_and_revocation(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)
    person = make_participant(hearing.id)
    await store.add_participant(person)
    revoked = dataclasses.replace(person, revoked_at=datetime(2025, 3, 10, 9, 30, tzinfo=ALMATY))

    await store.save_participant(revoked)

    got = await store.get_participant(hearing.id, person.id)
    assert got == revoked
    assert got is not None and got.revoked and got.link_id == person.link_id
    assert await store.list_participants(hearing.id) == [revoked]


async def test_saving_keeps_the_participant_in_place(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)
    first, second, third = (make_participant(hearing.id, name) for name in ("А", "Б", "В"))
    for person in (first, second, third):
        await store.add_participant(person)
    revoked = dataclasses.replace(second, revoked_at=BASE)

    await store.save_participant(revoked)

    assert await store.list_participants(hearing.id) == [first, revoked, third]


async def test_add_participant_to_unknown_hearing_is_not_found(store: HearingStore) -> None:
    with pytest.raises(NotFound):
        await store.add_participant(make_participant("h_missing"))

    assert await store.list_participants("h_missing") == []


async def test_adding_a_participant_twice_is_a_conflict(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)
    person = make_participant(hearing.id)
    await store.add_participant(person)

    with pytest.raises(Conflict):
        await store.add_participant(dataclasses.replace(person, display_name="Someone else"))

    assert await store.list_participants(hearing.id) == [person]


async def test_save_unknown_participant_is_not_found(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)

    with pytest.raises(NotFound):
        await store.save_participant(make_participant(hearing.id))

    assert await store.list_participants(hearing.id) == []


async def test_participants_belong_to_their_hearing(store: HearingStore) -> None:
    one, other = make_hearing(), make_hearing()
    await store.add_hearing(one)
    await store.add_hearing(other)
    person = make_participant(one.id)
    await store.add_participant(person)

    assert await store.get_participant(other.id, person.id) is None
    assert await store.get_participant(one.id, "p_missing") is None
    assert await store.list_participants(other.id) == []
    # The same id in another hearing is a different participant, not a conflict.
    twin = dataclasses.replace(person, hearing_id=other.id, display_name="Twin")
    await store.add_participant(twin)
    assert await store.get_participant(one.id, person.id) == person
    assert await store.get_participant(other.id, person.id) == twin


# Audit events


async def test_events_are_listed_in_the_order_appended_per_hearing(
    store: HearingStore,
) -> None:
    one, other = make_hearing(), make_hearing()
    await store.add_hearing(one)
    await store.add_hearing(other)
    # Later-timestamped first: the timeline order is append order, not time order.
    one_events = [make_event(one.id, "hearing.opened", 5), make_event(one.id, "joined", 1)]
    other_events = [make_event(other.id, "hearing.opened", 0)]
    await store.append_event(one_events[0])
    await store.append_event(other_events[0])
    await store.append_event(one_events[1])
    await store.append_event(one_events[0])

    assert await store.list_events(one.id) == [*one_events, one_events[0]]
    assert await store.list_events(other.id) == other_events
    assert await store.list_events("h_missing") == []


async def test_events_are_listed_in_pages_from_a_position(store: HearingStore) -> None:
    one, other = make_hearing(), make_hearing()
    await store.add_hearing(one)
    await store.add_hearing(other)
    events = [make_event(one.id, f"kind_{i}", i) for i in range(7)]
    for i, event in enumerate(events):
        await store.append_event(event)
        if i % 2:  # another hearing's events in between take no place in this one's pages
            await store.append_event(make_event(other.id, "joined", i))

    pages = [await store.list_events(one.id, start, 3) for start in (0, 3, 6, 7)]
    assert pages == [events[0:3], events[3:6], events[6:7], []]
    assert await store.list_events(one.id, 2) == events[2:]
    assert await store.list_events(one.id, 0, 0) == []
    assert await store.list_events(one.id, 100, 3) == []
    assert await store.list_events("h_missing", 0, 3) == []


# Admin tokens and secrets


async def test_admin_tokens_are_remembered_by_hash(store: HearingStore) -> None:
    assert await store.get_admin_token("a" * 64) is None

    first = AdminToken("a" * 64, "judge-office", BASE, expires_at=BASE + timedelta(days=30))
    await store.add_admin_token(first)
    await store.add_admin_token(AdminToken("a" * 64, "other", BASE + timedelta(days=1)))

    assert await store.get_admin_token("a" * 64) == first
    assert await store.get_admin_token("b" * 64) is None


async def test_admin_tokens_are_listed_oldest_first_and_revoked_in_place(
    store: HearingStore,
) -> None:
    older = AdminToken("a" * 64, "clerk-1", BASE)
    newer = AdminToken("b" * 64, "clerk-2", BASE + timedelta(hours=1))
    await store.add_admin_token(newer)
    await store.add_admin_token(older)
    assert await store.list_admin_tokens() == [older, newer]

    revoked = older.revoked_now(BASE + timedelta(days=2))
    await store.save_admin_token(revoked)
    assert await store.get_admin_token(older.token_hash) == revoked
    assert revoked in await store.list_admin_tokens()
    with pytest.raises(NotFound):
        await store.save_admin_token(AdminToken("c" * 64, "nobody", BASE))


# Deleting a hearing (retention)


async def test_deleting_a_hearing_removes_its_data_and_keeps_the_record(
    store: HearingStore,
) -> None:
    doomed, kept = make_hearing(), make_hearing()
    for hearing in (doomed, kept):
        await store.add_hearing(hearing)
        await store.add_participant(make_participant(hearing.id))
        await store.append_event(make_event(hearing.id, "hearing.opened", 0))
    record = AuditEvent(COURT_TIMELINE, BASE, "hearing_deleted", "retention",
                        {"hearing_id": doomed.id})

    assert await store.delete_hearing(doomed.id, record)

    assert await store.get_hearing(doomed.id) is None
    assert doomed.id not in [h.id for h in await store.list_hearings()]
    assert await store.list_participants(doomed.id) == []
    assert await store.list_events(doomed.id) == []
    assert await store.list_events(COURT_TIMELINE) == [record]
    assert [h.id for h in await store.list_hearings()] == [kept.id]
    assert len(await store.list_participants(kept.id)) == 1
    assert len(await store.list_events(kept.id)) == 1
    # Deleting again finds nothing and records nothing.
    assert not await store.delete_hearing(doomed.id, record)
    assert await store.list_events(COURT_TIMELINE) == [record]


async def test_a_hearing_under_legal_hold_is_never_deleted(store: HearingStore) -> None:
    held, other = make_hearing(), make_hearing()
    await store.add_hearing(held)
    await store.add_hearing(other)
    hold = LegalHold(held.id, BASE, "court-clerk", "appeal 2-77/2026")
    await store.place_legal_hold(hold)
    assert await store.get_legal_hold(held.id) == hold
    assert await store.get_legal_hold(other.id) is None
    assert await store.list_legal_holds() == [hold]
    record = AuditEvent(COURT_TIMELINE, BASE, "hearing_deleted", "retention",
                        {"hearing_id": held.id})

    with pytest.raises(Conflict):
        await store.delete_hearing(held.id, record)
    assert await store.get_hearing(held.id) == held
    assert await store.list_events(COURT_TIMELINE) == []

    assert await store.lift_legal_hold(held.id)
    assert not await store.lift_legal_hold(held.id)
    assert await store.list_legal_holds() == []
    assert await store.delete_hearing(held.id, record)
    with pytest.raises(NotFound):
        await store.place_legal_hold(hold)


async def test_secret_is_created_once_and_stays(store: HearingStore) -> None:
    first = await store.secret("link-signing")
    again = await store.secret("link-signing")
    other = await store.secret("cookie")

    assert len(first) == 32
    assert isinstance(first, bytes)
    assert again == first
    assert other != first
    assert len(await store.secret("short", factory_bytes=16)) == 16
    # The size only matters on creation; an existing secret is returned as it is.
    assert await store.secret("link-signing", factory_bytes=64) == first


# Stations


def make_station(name: str = "Кабинет 3", facility: str = "СИЗО-1, Алматы") -> Station:
    """A station awaiting enrolment (with a code hash and expiry, as the API creates it)."""
    station, _code = Station.create(
        new_id("s"), name, facility, datetime(2025, 3, 1, 9, 0, tzinfo=ALMATY),
        timedelta(hours=24),
    )
    return station


async def test_station_lifecycle_roundtrips_every_field(store: HearingStore) -> None:
    station = make_station()
    await store.add_station(station)
    assert await store.get_station(station.id) == station

    enrolled = dataclasses.replace(
        station, credential_hash="c" * 64, enrolled_at=datetime(2025, 3, 1, 10, 0, tzinfo=ALMATY),
        enrolment_code_hash=None, enrolment_expires_at=None,
    )
    await store.save_station(enrolled)
    got = await store.get_station(station.id)
    assert got == enrolled
    assert got is not None and got.enrolled_at is not None
    assert got.enrolled_at.utcoffset() == timedelta(hours=5)

    revoked = enrolled.revoked_now(datetime(2025, 3, 2, 8, 0, tzinfo=UTC))
    await store.save_station(revoked)
    assert await store.get_station(station.id) == revoked
    assert await store.list_stations() == [revoked]


async def test_stations_are_listed_in_the_order_added(store: HearingStore) -> None:
    assert await store.list_stations() == []
    stations = [make_station(f"Кабинет {n}") for n in range(4)]
    for station in stations:
        await store.add_station(station)
    # Saving one does not move it.
    renamed = dataclasses.replace(stations[1], name="Кабинет 1А")
    await store.save_station(renamed)

    assert await store.list_stations() == [stations[0], renamed, stations[2], stations[3]]
    assert await store.get_station("s_missing") is None


async def test_adding_a_station_twice_is_a_conflict(store: HearingStore) -> None:
    station = make_station()
    await store.add_station(station)

    with pytest.raises(Conflict):
        await store.add_station(dataclasses.replace(station, name="Другой"))

    assert await store.list_stations() == [station]


async def test_save_unknown_station_is_not_found(store: HearingStore) -> None:
    with pytest.raises(NotFound):
        await store.save_station(make_station())

    assert await store.list_stations() == []


async def test_replacing_a_station_compares_and_sets(store: HearingStore) -> None:
    station = make_station()
    await store.add_station(station)
    read = await store.get_station(station.id)
    assert read is not None
    enrolled = dataclasses.replace(read, credential_hash="c" * 64, enrolment_code_hash=None,
                                   enrolment_expires_at=None,
                                   enrolled_at=datetime(2025, 3, 1, 10, 0, tzinfo=ALMATY))
    other = dataclasses.replace(read, credential_hash="d" * 64, enrolment_code_hash=None,
                                enrolment_expires_at=None,
                                enrolled_at=datetime(2025, 3, 1, 10, 0, tzinfo=ALMATY))

    # What was read (and round-tripped through the store) is what is compared.
    assert await store.replace_station(read, enrolled) is True
    # A second writer that read the same version loses, and changes nothing.
    assert await store.replace_station(read, other) is False
    assert await store.get_station(station.id) == enrolled
    # Compared as stations, not as stored text: the same instants in another offset match.
    in_utc = dataclasses.replace(enrolled, created_at=enrolled.created_at.astimezone(UTC))
    assert same_station_other_text(in_utc, enrolled)
    revoked = enrolled.revoked_now(datetime(2025, 3, 2, 8, 0, tzinfo=UTC))
    assert await store.replace_station(in_utc, revoked) is True
    assert await store.get_station(station.id) == revoked
    # An absent station is never created by a replacement.
    ghost = make_station()
    assert await store.replace_station(ghost, ghost) is False
    assert await store.get_station(ghost.id) is None
    assert await store.list_stations() == [revoked]


def same_station_other_text(a: Station, b: Station) -> bool:
    """True if ``a`` and ``b`` are equal stations whose stored JSON differs."""
    return a == b and a.to_json() != b.to_json()


async def test_participant_keeps_its_station(store: HearingStore) -> None:
    hearing = make_hearing()
    await store.add_hearing(hearing)
    station = make_station()
    await store.add_station(station)
    person = dataclasses.replace(make_participant(hearing.id, role=Role.DEFENDANT),
                                 station_id=station.id)
    plain = make_participant(hearing.id)
    await store.add_participant(person)
    await store.add_participant(plain)

    assert await store.list_participants(hearing.id) == [person, plain]
    moved = dataclasses.replace(person, station_id=None)
    await store.save_participant(moved)
    got = await store.get_participant(hearing.id, person.id)
    assert got is not None and got.station_id is None


async def test_station_events_live_beside_hearing_events(store: HearingStore) -> None:
    station = make_station()
    await store.add_station(station)
    hearing = make_hearing()
    await store.add_hearing(hearing)
    await store.append_event(make_event(station.id, "station_enrolled"))
    await store.append_event(make_event(hearing.id, "station_join"))

    assert [e.kind for e in await store.list_events(station.id)] == ["station_enrolled"]
    assert [e.kind for e in await store.list_events(hearing.id)] == ["station_join"]


# Hearings in progress (what a restart resumes)


async def test_live_hearing_is_kept_replaced_and_forgotten(
    open_backend: StoreOpener,
) -> None:
    first = LiveHearing("h_a", BASE, frozenset({"p_judge", "p_party"}), frozenset({"p_judge"}),
                        on_record=True, alive_at=BASE + timedelta(minutes=5))
    other = LiveHearing("h_b", BASE, frozenset({"p_mediator"}), frozenset(), on_record=False,
                        alive_at=BASE)
    opened = await open_backend()
    try:
        await opened.save_live_hearing(first)
        await opened.save_live_hearing(other)
        later = dataclasses.replace(first, admitted=frozenset({"p_judge"}),
                                    alive_at=BASE + timedelta(minutes=6))
        await opened.save_live_hearing(later)
    finally:
        await opened.close()

    # A new process (the restart) reads what the last one kept.
    reopened = await open_backend()
    try:
        assert await reopened.list_live_hearings() == [later, other]
        await reopened.delete_live_hearing("h_b")
        await reopened.delete_live_hearing("h_never_kept")
        assert await reopened.list_live_hearings() == [later]
    finally:
        await reopened.close()


# Lifecycle


async def test_close_is_idempotent(open_backend: StoreOpener) -> None:
    opened = await open_backend()
    await opened.add_hearing(make_hearing())

    await opened.close()
    await opened.close()

    with pytest.raises(RuntimeError):
        await opened.list_hearings()

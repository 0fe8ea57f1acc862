"""``EmbeddedStore``: the hearing store in one SQLite file under the data directory.

A single node needs nothing installed: the standard library's ``sqlite3`` keeps hearings,
participants, the audit timeline, admin token hashes and server secrets in
``<data_dir>/qashyq.sqlite3``.

SQLite calls block, so every call runs on one worker thread the store owns; the event loop
only awaits. One thread also means one connection, used by one thread at a time, so no
lock is needed around it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from .errors import Conflict, NotFound
from .model import AuditEvent, Hearing, Participant
from .station import Station

DB_FILE_NAME = "qashyq.sqlite3"

_T = TypeVar("_T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# 2: the stations table. Every statement below is CREATE ... IF NOT EXISTS, so opening a
# version 1 file adds what is missing and keeps its data; participants stored by version 1
# simply have no station_id.
_SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hearings (
    id TEXT PRIMARY KEY,
    starts_at_us INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hearings_by_start ON hearings (starts_at_us, id);
CREATE TABLE IF NOT EXISTS participants (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hearing_id TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (hearing_id, id)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hearing_id TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_hearing ON events (hearing_id, seq);
CREATE TABLE IF NOT EXISTS admin_tokens (
    hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS stations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    json TEXT NOT NULL
);
"""


def epoch_microseconds(value: datetime) -> int:
    """``value`` as whole microseconds since the Unix epoch, whatever its UTC offset.

    Integer microseconds compare exactly (no float rounding, no string comparison of
    ISO texts in different offsets), which is what range queries need.
    """
    return (value - _EPOCH) // timedelta(microseconds=1)


def _dumps(body: object) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so a check-then-write cannot interleave
    # with another process that opened the same file.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves instead of relying on the
    # module's implicit transactions, so every write is committed when the call returns.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL fsyncs the WAL on every commit: a returned write survives a crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"{path} has schema version {version}; this Qashyq knows {_SCHEMA_VERSION}"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


class EmbeddedStore:
    """The ``HearingStore`` contract on a durable SQLite file; open with :meth:`open`."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        """Wrap an open connection and the single thread that may use it (see :meth:`open`)."""
        self._conn = conn
        self._executor = executor
        self._closed = False

    @classmethod
    async def open(cls, data_dir: Path) -> EmbeddedStore:
        """Open (creating if needed) ``data_dir/qashyq.sqlite3`` in WAL mode."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qashyq-sqlite")
        try:
            loop = asyncio.get_running_loop()
            data_dir = Path(data_dir)
            await loop.run_in_executor(
                executor, lambda: data_dir.mkdir(parents=True, exist_ok=True)
            )
            conn = await loop.run_in_executor(executor, _connect, data_dir / DB_FILE_NAME)
        except BaseException:
            executor.shutdown(wait=True)
            raise
        return cls(conn, executor)

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise RuntimeError("the store is closed")
        conn = self._conn
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: work(conn))

    async def add_hearing(self, hearing: Hearing) -> None:
        """Store a new hearing; raise ``Conflict`` if its id exists."""

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO hearings (id, starts_at_us, json) VALUES (?, ?, ?)",
                    (hearing.id, epoch_microseconds(hearing.starts_at), _dumps(hearing.to_json())),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"hearing {hearing.id} already exists", hearing_id=hearing.id
                ) from exc

        await self._run(work)

    async def get_hearing(self, hearing_id: str) -> Hearing | None:
        """The hearing, or None."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT json FROM hearings WHERE id = ?", (hearing_id,)).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(work)
        return None if body is None else Hearing.from_json(json.loads(body))

    async def list_hearings(
        self, starts_from: datetime | None = None, starts_before: datetime | None = None
    ) -> list[Hearing]:
        """Hearings whose start lies in ``[starts_from, starts_before)``, earliest first."""
        clauses: list[str] = []
        params: list[int] = []
        if starts_from is not None:
            clauses.append("starts_at_us >= ?")
            params.append(epoch_microseconds(starts_from))
        if starts_before is not None:
            clauses.append("starts_at_us < ?")
            params.append(epoch_microseconds(starts_before))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        # Ties on the start are broken by id, the same order the Redis backend gives.
        query = f"SELECT json FROM hearings {where} ORDER BY starts_at_us, id"

        def work(conn: sqlite3.Connection) -> list[str]:
            return [str(row[0]) for row in conn.execute(query, params)]

        return [Hearing.from_json(json.loads(body)) for body in await self._run(work)]

    async def save_hearing(self, hearing: Hearing) -> None:
        """Replace an existing hearing (e.g. when it ends); raise ``NotFound`` if absent."""

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE hearings SET starts_at_us = ?, json = ? WHERE id = ?",
                (epoch_microseconds(hearing.starts_at), _dumps(hearing.to_json()), hearing.id),
            )
            return cursor.rowcount

        if await self._run(work) == 0:
            raise NotFound(f"no hearing {hearing.id}", hearing_id=hearing.id)

    async def add_participant(self, participant: Participant) -> None:
        """Store a new participant; raise ``NotFound`` if the hearing is absent.

        Raises ``Conflict`` if the hearing already has a participant with that id.
        """

        def work(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                exists = conn.execute(
                    "SELECT 1 FROM hearings WHERE id = ?", (participant.hearing_id,)
                ).fetchone()
                if exists is None:
                    raise NotFound(
                        f"no hearing {participant.hearing_id}",
                        hearing_id=participant.hearing_id,
                    )
                try:
                    conn.execute(
                        "INSERT INTO participants (hearing_id, id, json) VALUES (?, ?, ?)",
                        (participant.hearing_id, participant.id, _dumps(participant.to_json())),
                    )
                except sqlite3.IntegrityError as exc:
                    raise Conflict(
                        f"participant {participant.id} already exists",
                        participant_id=participant.id,
                    ) from exc

        await self._run(work)

    async def get_participant(self, hearing_id: str, participant_id: str) -> Participant | None:
        """The participant of that hearing, or None."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT json FROM participants WHERE hearing_id = ? AND id = ?",
                (hearing_id, participant_id),
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(work)
        return None if body is None else Participant.from_json(json.loads(body))

    async def list_participants(self, hearing_id: str) -> list[Participant]:
        """The hearing's participants in the order they were added."""

        def work(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT json FROM participants WHERE hearing_id = ? ORDER BY seq", (hearing_id,)
            )
            return [str(row[0]) for row in rows]

        return [Participant.from_json(json.loads(body)) for body in await self._run(work)]

    async def save_participant(self, participant: Participant) -> None:
        """Replace an existing participant (e.g. when revoked); raise ``NotFound`` if absent."""

        def work(conn: sqlite3.Connection) -> int:
            # seq stays as it is, so a revoked participant keeps their place in the list.
            cursor = conn.execute(
                "UPDATE participants SET json = ? WHERE hearing_id = ? AND id = ?",
                (_dumps(participant.to_json()), participant.hearing_id, participant.id),
            )
            return cursor.rowcount

        if await self._run(work) == 0:
            raise NotFound(
                f"no participant {participant.id} in hearing {participant.hearing_id}",
                participant_id=participant.id,
            )

    async def add_station(self, station: Station) -> None:
        """Store a new facility workstation; raise ``Conflict`` if its id exists."""

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO stations (id, json) VALUES (?, ?)",
                    (station.id, _dumps(station.to_json())),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"station {station.id} already exists", station_id=station.id
                ) from exc

        await self._run(work)

    async def get_station(self, station_id: str) -> Station | None:
        """The station, or None."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT json FROM stations WHERE id = ?", (station_id,)).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(work)
        return None if body is None else Station.from_json(json.loads(body))

    async def list_stations(self) -> list[Station]:
        """Every station, revoked ones included, in the order they were added."""

        def work(conn: sqlite3.Connection) -> list[str]:
            return [str(row[0]) for row in conn.execute("SELECT json FROM stations ORDER BY seq")]

        return [Station.from_json(json.loads(body)) for body in await self._run(work)]

    async def save_station(self, station: Station) -> None:
        """Replace an existing station (enrolled, revoked); raise ``NotFound`` if absent."""

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE stations SET json = ? WHERE id = ?", (_dumps(station.to_json()), station.id)
            )
            return cursor.rowcount

        if await self._run(work) == 0:
            raise NotFound(f"no station {station.id}", station_id=station.id)

    async def append_event(self, event: AuditEvent) -> None:
        """Append to the hearing's audit timeline; events are never changed or removed."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO events (hearing_id, json) VALUES (?, ?)",
                (event.hearing_id, _dumps(event.to_json())),
            )

        await self._run(work)

    async def list_events(
        self, hearing_id: str, start: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        """The hearing's audit timeline in the order appended: at most ``limit`` events
        (None: all) from position ``start``."""

        def work(conn: sqlite3.Connection) -> list[str]:
            # LIMIT -1: no limit. The index on (hearing_id, seq) serves the offset.
            rows = conn.execute(
                "SELECT json FROM events WHERE hearing_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (hearing_id, -1 if limit is None else limit, max(0, start)),
            )
            return [str(row[0]) for row in rows]

        return [AuditEvent.from_json(json.loads(body)) for body in await self._run(work)]

    async def add_admin_token(self, token_hash: str, created_at: datetime) -> None:
        """Remember the hash of an admin token (never the token itself)."""

        def work(conn: sqlite3.Connection) -> None:
            # Re-adding a known hash keeps the first creation time.
            conn.execute(
                "INSERT OR IGNORE INTO admin_tokens (hash, created_at) VALUES (?, ?)",
                (token_hash, created_at.isoformat()),
            )

        await self._run(work)

    async def has_admin_token(self, token_hash: str) -> bool:
        """True if an admin token with this hash was issued."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM admin_tokens WHERE hash = ?", (token_hash,)
            ).fetchone()
            return row is not None

        return await self._run(work)

    async def secret(self, name: str, factory_bytes: int = 32) -> bytes:
        """The named server secret, created at random on first use and kept for ever."""

        def work(conn: sqlite3.Connection) -> bytes:
            # INSERT OR IGNORE then SELECT: whoever inserts first wins, even across
            # processes sharing the file, and everyone reads the winner's bytes.
            with _transaction(conn):
                conn.execute(
                    "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)",
                    (name, os.urandom(factory_bytes)),
                )
                row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
            return bytes(row[0])

        return await self._run(work)

    async def close(self) -> None:
        """Close the connection and stop the worker thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        conn = self._conn
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        finally:
            # The only queued work was the close above, so the thread is idle and this
            # returns at once.
            self._executor.shutdown(wait=True)

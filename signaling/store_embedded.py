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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from .admin_token import AdminToken
from .errors import Conflict, NotFound
from .live_hearing import LiveHearing
from .model import AuditEvent, Hearing, Participant
from .retention import LegalHold
from .sqlite_file import DB_FILE_NAME as DB_FILE_NAME
from .sqlite_file import connect, private_database, transaction
from .sqlite_file import epoch_microseconds as epoch_microseconds
from .station import Station

_T = TypeVar("_T")


def _dumps(body: object) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _admin_token(token_hash: str, created_at: str, body: str | None) -> AdminToken:
    if body is None:  # stored by schema version 2 or earlier
        return AdminToken.legacy(token_hash, datetime.fromisoformat(created_at))
    return AdminToken.from_json(json.loads(body))


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
            path = await loop.run_in_executor(executor, private_database, data_dir)
            conn = await loop.run_in_executor(executor, connect, path)
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

    async def delete_hearing(self, hearing_id: str, record: AuditEvent) -> bool:
        """Delete the hearing, its participants and its timeline, and append ``record`` in
        the same transaction; False, and nothing appended, if there is no such hearing;
        ``Conflict`` if it is under a legal hold."""

        def work(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                held = conn.execute(
                    "SELECT 1 FROM legal_holds WHERE hearing_id = ?", (hearing_id,)
                ).fetchone()
                if held is not None:
                    raise Conflict(f"hearing {hearing_id} is under a legal hold",
                                   hearing_id=hearing_id)
                cursor = conn.execute("DELETE FROM hearings WHERE id = ?", (hearing_id,))
                if cursor.rowcount == 0:
                    return False
                conn.execute("DELETE FROM participants WHERE hearing_id = ?", (hearing_id,))
                conn.execute("DELETE FROM events WHERE hearing_id = ?", (hearing_id,))
                conn.execute("DELETE FROM live_hearings WHERE hearing_id = ?", (hearing_id,))
                conn.execute(
                    "INSERT INTO events (hearing_id, json) VALUES (?, ?)",
                    (record.hearing_id, _dumps(record.to_json())),
                )
            return True

        return await self._run(work)

    async def place_legal_hold(self, hold: LegalHold) -> None:
        """Keep the hearing whatever its retention; raise ``NotFound`` if it is absent."""

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if conn.execute("SELECT 1 FROM hearings WHERE id = ?",
                                (hold.hearing_id,)).fetchone() is None:
                    raise NotFound(f"no hearing {hold.hearing_id}", hearing_id=hold.hearing_id)
                conn.execute(
                    "INSERT OR REPLACE INTO legal_holds (hearing_id, json) VALUES (?, ?)",
                    (hold.hearing_id, _dumps(hold.to_json())),
                )

        await self._run(work)

    async def lift_legal_hold(self, hearing_id: str) -> bool:
        """Lift the hearing's legal hold; False if it had none."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM legal_holds WHERE hearing_id = ?", (hearing_id,))
            return cursor.rowcount > 0

        return await self._run(work)

    async def get_legal_hold(self, hearing_id: str) -> LegalHold | None:
        """The hearing's legal hold, or None."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT json FROM legal_holds WHERE hearing_id = ?", (hearing_id,)
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(work)
        return None if body is None else LegalHold.from_json(json.loads(body))

    async def list_legal_holds(self) -> list[LegalHold]:
        """Every legal hold in place."""

        def work(conn: sqlite3.Connection) -> list[str]:
            return [str(r[0]) for r in conn.execute("SELECT json FROM legal_holds")]

        return [LegalHold.from_json(json.loads(body)) for body in await self._run(work)]

    async def add_participant(self, participant: Participant) -> None:
        """Store a new participant; raise ``NotFound`` if the hearing is absent.

        Raises ``Conflict`` if the hearing already has a participant with that id.
        """

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
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

    async def replace_station(self, expected: Station, station: Station) -> bool:
        """Replace the stored station by ``station`` only if it is still ``expected``."""
        if expected.id != station.id:
            return False

        def work(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                row = conn.execute(
                    "SELECT json FROM stations WHERE id = ?", (expected.id,)
                ).fetchone()
                # Compared as stations, not as text: a row an older version wrote matches.
                if row is None or Station.from_json(json.loads(row[0])) != expected:
                    return False
                conn.execute("UPDATE stations SET json = ? WHERE id = ?",
                             (_dumps(station.to_json()), station.id))
                return True

        return await self._run(work)

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

    async def add_admin_token(self, token: AdminToken) -> None:
        """Remember an admin token by its hash (never the token itself); re-adding a known
        hash keeps the first."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO admin_tokens (hash, created_at, json) VALUES (?, ?, ?)",
                (token.token_hash, token.created_at.isoformat(), _dumps(token.to_json())),
            )

        await self._run(work)

    async def get_admin_token(self, token_hash: str) -> AdminToken | None:
        """The admin token with this hash, or None."""

        def work(conn: sqlite3.Connection) -> tuple[str, str, str | None] | None:
            row = conn.execute(
                "SELECT hash, created_at, json FROM admin_tokens WHERE hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]), row[2])

        row = await self._run(work)
        return None if row is None else _admin_token(*row)

    async def list_admin_tokens(self) -> list[AdminToken]:
        """Every admin token ever issued, revoked and expired ones included, oldest first."""

        def work(conn: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
            rows = conn.execute("SELECT hash, created_at, json FROM admin_tokens")
            return [(str(r[0]), str(r[1]), r[2]) for r in rows]

        tokens = [_admin_token(*row) for row in await self._run(work)]
        return sorted(tokens, key=lambda t: (t.created_at, t.name, t.token_hash))

    async def save_admin_token(self, token: AdminToken) -> None:
        """Replace a known admin token (e.g. when revoked); raise ``NotFound`` if absent."""

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE admin_tokens SET json = ? WHERE hash = ?",
                (_dumps(token.to_json()), token.token_hash),
            )
            return cursor.rowcount

        if await self._run(work) == 0:
            raise NotFound(f"no admin token named {token.name}")

    async def save_live_hearing(self, live: LiveHearing) -> None:
        """Keep (create or replace) the live state of an open hearing."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO live_hearings (hearing_id, json) VALUES (?, ?)",
                (live.hearing_id, _dumps(live.to_json())),
            )

        await self._run(work)

    async def list_live_hearings(self) -> list[LiveHearing]:
        """Every kept live state: the hearings a restarted server resumes."""

        def work(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute("SELECT json FROM live_hearings ORDER BY hearing_id")
            return [str(row[0]) for row in rows]

        return [LiveHearing.from_json(json.loads(body)) for body in await self._run(work)]

    async def delete_live_hearing(self, hearing_id: str) -> None:
        """Forget a hearing's live state (it ended); absent is fine."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM live_hearings WHERE hearing_id = ?", (hearing_id,))

        await self._run(work)

    async def secret(self, name: str, factory_bytes: int = 32) -> bytes:
        """The named server secret, created at random on first use and kept for ever."""

        def work(conn: sqlite3.Connection) -> bytes:
            # INSERT OR IGNORE then SELECT: whoever inserts first wins, even across
            # processes sharing the file, and everyone reads the winner's bytes.
            with transaction(conn):
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

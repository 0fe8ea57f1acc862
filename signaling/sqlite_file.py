"""The embedded store's SQLite file: its schema, how it is opened, and that it is private.

The file holds the link-signing secret, so it is created 0600 in a 0700 folder whatever the
umask (SQLite gives its -wal and -shm files the database file's mode).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

DB_FILE_NAME = "qashyq.sqlite3"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# 2: the stations table. Every statement below is CREATE ... IF NOT EXISTS, so opening a
# version 1 file adds what is missing and keeps its data; participants stored by version 1
# simply have no station_id.
# 3: admin_tokens.json (name, expiry, revocation); rows from before have none and are the
# legacy token "admin" (see signaling.admin_token), added by ALTER TABLE on open. The
# legal_holds table; the live_hearings table (a restart resumes the hearings in progress).
_SCHEMA_VERSION = 3

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
    created_at TEXT NOT NULL,
    json TEXT
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS live_hearings (
    hearing_id TEXT PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS legal_holds (
    hearing_id TEXT PRIMARY KEY,
    json TEXT NOT NULL
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


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block as one write transaction, rolled back if it raises."""
    # IMMEDIATE takes the write lock up front, so a check-then-write cannot interleave
    # with another process that opened the same file.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def private_database(data_dir: Path) -> Path:
    """The database file, created 0600 in a 0700 folder whatever the umask: it holds the
    link-signing secret, with which anyone who reads it could mint a judge's link."""
    if not data_dir.is_dir():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
    path = data_dir / DB_FILE_NAME
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    _private_files(path)
    return path


def _private_files(path: Path) -> None:
    # SQLite gives its -wal and -shm files the database file's mode; set it again anyway,
    # since files left by an older version may predate that.
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            os.chmod(name, 0o600)


def connect(path: Path) -> sqlite3.Connection:
    """Open the database in WAL mode, creating or upgrading its schema."""
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
        columns = {row[1] for row in conn.execute("PRAGMA table_info(admin_tokens)")}
        if "json" not in columns:
            conn.execute("ALTER TABLE admin_tokens ADD COLUMN json TEXT")
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        _private_files(path)
    except BaseException:
        conn.close()
        raise
    return conn

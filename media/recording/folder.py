"""One hearing's recording folder: its layout, its state, and the journal of closed segments.

Layout (``<recordings dir>/<hearing id>/``)::

    tracks/<participant>-<kind>-<n>.webm|.mkv   closed segments, each playable on its own
    timeline.jsonl                              every event, wall-clock time + media offset
    composite.mp4                               rendered after the hearing
    manifest.json, public_key.pem               the signed list of everything above
    .recorder/status.json                       ``RecordingStatus`` (not part of the record)
    .recorder/chain.jsonl                       one line per closed segment, fsynced
    .recorder/open/                             segments being written (lost on a crash)

Files are node-local, so the state lives here rather than in the hearing store. Every
method is safe to call from the event loop and from recorder threads at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .private_files import open_private, private_dir
from .status import RecordingStatus

STATE_DIR = ".recorder"
TRACKS_DIR = "tracks"
TIMELINE = "timeline.jsonl"
COMPOSITE = "composite.mp4"
MANIFEST = "manifest.json"
PUBLIC_KEY = "public_key.pem"
_HEARING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ClosedSegment:
    """A finished, fsynced segment of one track, as entered in the chain journal."""

    track: str
    participant_id: str
    kind: str
    index: int
    file: str
    codec: str
    start_offset_s: float
    duration_s: float
    frames: int
    size: int
    sha256: str


def canonical_json(value: Any) -> bytes:
    """The byte form that hashes and signatures are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def valid_hearing_id(hearing_id: str) -> bool:
    """Whether the id can name a folder (no separators, dots or empty names)."""
    return bool(_HEARING_ID.match(hearing_id))


class RecordingFolder:
    """The files of one hearing's recording."""

    def __init__(self, root: Path, hearing_id: str) -> None:
        if not valid_hearing_id(hearing_id):
            raise ValueError(f"hearing id {hearing_id!r} cannot name a recording folder")
        self.hearing_id = hearing_id
        self.path = root / hearing_id
        self._lock = threading.Lock()
        self._pending_timeline: list[bytes] = []

    # ---- layout ----------------------------------------------------------------------------

    @property
    def tracks(self) -> Path:
        """Closed segments."""
        return self.path / TRACKS_DIR

    @property
    def open_dir(self) -> Path:
        """Segments still being written."""
        return self.path / STATE_DIR / "open"

    @property
    def status_path(self) -> Path:
        """The state file."""
        return self.path / STATE_DIR / "status.json"

    @property
    def chain_path(self) -> Path:
        """The journal of closed segments."""
        return self.path / STATE_DIR / "chain.jsonl"

    def exists(self) -> bool:
        """Whether anything was ever recorded for this hearing."""
        return self.status_path.is_file()

    def create(self) -> None:
        """Make the folders (idempotent)."""
        private_dir(self.open_dir)
        private_dir(self.tracks)

    # ---- state -----------------------------------------------------------------------------

    def status(self) -> RecordingStatus | None:
        """The stored state (None before the first recording, or if it is unreadable)."""
        try:
            value = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(value, dict):
            value.setdefault("hearing_id", self.hearing_id)
        return RecordingStatus.from_json(value)

    def update_status(self, **changes: Any) -> RecordingStatus:
        """Change fields of the state (``RecordingStatus``'s names), written atomically
        (rename) and fsynced."""
        with self._lock:
            status = dataclasses.replace(
                self.status() or RecordingStatus(self.hearing_id), **changes,
                updated_at=time.time(),
            )
            tmp = self.status_path.with_suffix(".tmp")
            private_dir(tmp.parent)
            with open_private(tmp) as f:
                f.write(json.dumps(status.to_json(), indent=1, sort_keys=True).encode())
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.status_path)
            return status

    # ---- the chain of closed segments -------------------------------------------------------

    def chain(self) -> list[dict[str, Any]]:
        """Journal entries in the order segments were closed (a torn last line is ignored)."""
        entries: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), self.chain_path.open("rb") as f:
            for line in f:
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    break  # a crash mid-append; the segment it named is not in tracks/
        return entries

    def next_index(self, track: str) -> int:
        """The number of a track's next segment (numbers continue across rejoins)."""
        with self._lock:
            used = [e["index"] for e in self.chain() if e.get("track") == track]
            taken = {p.name for p in self.open_dir.glob(f"{track}-*")} if self.open_dir.exists() \
                else set()
            index = max(used, default=-1) + 1
            while any(name.startswith(f"{track}-{index:05d}.") for name in taken):
                index += 1
            return index

    def add_segment(self, segment: ClosedSegment) -> dict[str, Any]:
        """Enter a closed segment in its track's chain; the entry names the previous one."""
        with self._lock:
            previous = [e for e in self.chain() if e.get("track") == segment.track]
            entry = asdict(segment)
            entry["prev"] = previous[-1]["hash"] if previous else None
            entry["hash"] = hashlib.sha256(canonical_json(entry)).hexdigest()
            with open_private(self.chain_path, append=True) as f:
                f.write(canonical_json(entry) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            return entry

    # ---- the timeline ------------------------------------------------------------------------

    def append_timeline(self, event: dict[str, Any]) -> bool:
        """Append one event; on a write error it is kept and retried with the next one."""
        with self._lock:
            self._pending_timeline.append(canonical_json(event) + b"\n")
            try:
                with open_private(self.path / TIMELINE, append=True) as f:
                    f.write(b"".join(self._pending_timeline))
                    f.flush()
            except OSError:
                return False
            self._pending_timeline.clear()
            return True

    def sync_timeline(self) -> None:
        """Flush the timeline to disk (at the end of a recording)."""
        path = self.path / TIMELINE
        if path.exists():
            fsync_path(path)

    # ---- what is in the folder ------------------------------------------------------------

    def record_files(self) -> Iterator[Path]:
        """Every file that is part of the record (everything but the state folder)."""
        for path in sorted(self.path.rglob("*")):
            if path.is_file() and STATE_DIR not in path.relative_to(self.path).parts:
                yield path

    def size_bytes(self) -> int:
        """Bytes of the record on disk."""
        return sum(p.stat().st_size for p in self.record_files())

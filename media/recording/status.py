"""The state of one hearing's recording: where it is in its life, and what is known about it.

Kept in ``.recorder/status.json`` beside the record (not part of it): recording files are
node-local, so their state lives with them rather than in the hearing store. Clerks see it in
the API and on ``/admin``; a restart reads it to continue or finish a recording.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RecordingState(StrEnum):
    """Where a hearing's recording is in its life."""

    RECORDING = "recording"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class CompositeInfo:
    """The rendered composite video: its size and where it sits on the media clock."""

    width: int
    height: int
    duration_s: float
    start_offset_s: float


@dataclass
class VerifyReport:
    """What ``manifest.verify`` found; ``problems`` name each missing, added or altered file."""

    ok: bool = True
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    key_id: str | None = None
    manifest_sha256: str | None = None
    # Wall-clock time of the check, once it is kept in the recording's state.
    checked_at: float | None = None

    def fail(self, problem: str) -> None:
        """Record one problem."""
        self.ok = False
        self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the recording's state and shown to clerks."""
        data = dataclasses.asdict(self)
        if self.checked_at is None:
            del data["checked_at"]
        return data


@dataclass(frozen=True)
class RecordingStatus:
    """The stored state of a recording; unknown values are None (the API shows null)."""

    hearing_id: str
    state: RecordingState = RecordingState.RECORDING
    case_number: str | None = None
    title: str | None = None
    on_record: bool | None = None
    # Wall-clock time of the first start: offsets on the media clock count from it, across
    # restarts of the server.
    origin_wall: float | None = None
    progress: float | None = None
    error: str | None = None
    size_bytes: int | None = None
    duration_s: float | None = None
    segments: int | None = None
    has_composite: bool | None = None
    composite: CompositeInfo | None = None
    verification: VerifyReport | None = None
    manifest_sha256: str | None = None
    # Segments that were being written when the server stopped (lost with it).
    lost_open_segments: tuple[str, ...] | None = None
    updated_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to the state file and served to clerks."""
        data: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self)
        }
        data["state"] = self.state.value
        data["composite"] = None if self.composite is None else dataclasses.asdict(
            self.composite
        )
        data["verification"] = None if self.verification is None else \
            self.verification.to_json()
        if self.lost_open_segments is not None:
            data["lost_open_segments"] = list(self.lost_open_segments)
        return data

    @classmethod
    def from_json(cls, data: object) -> RecordingStatus | None:
        """Read a stored state; None when it is not one (a torn or foreign file)."""
        if not isinstance(data, dict) or not isinstance(data.get("hearing_id"), str):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["state"] = RecordingState(values.get("state", RecordingState.RECORDING))
            if isinstance(values.get("composite"), dict):
                values["composite"] = CompositeInfo(**values["composite"])
            if isinstance(values.get("verification"), dict):
                values["verification"] = VerifyReport(**values["verification"])
            if isinstance(values.get("lost_open_segments"), list):
                values["lost_open_segments"] = tuple(values["lost_open_segments"])
            return cls(**values)
        except (TypeError, ValueError):
            return None

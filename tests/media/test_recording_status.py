"""The recording's state is typed, and a state file written by an earlier version still reads."""

from __future__ import annotations

import json
from pathlib import Path

from media.recording.folder import RecordingFolder
from media.recording.status import CompositeInfo, RecordingState, VerifyReport

# As the previous release wrote it (a dict merged key by key), with a key we no longer know.
EARLIER_STATUS = {
    "hearing_id": "h_old", "case_number": "2-117/2026", "title": "Aliyev v. Bekov",
    "state": "ready", "origin_wall": 1795000000.5, "on_record": False, "progress": 1.0,
    "error": None, "size_bytes": 123456, "duration_s": 61.2, "segments": 4,
    "has_composite": True,
    "composite": {"width": 1280, "height": 720, "duration_s": 61.0, "start_offset_s": 0.2},
    "manifest_sha256": "ab" * 32,
    "verification": {"ok": True, "problems": [], "files_checked": 9, "key_id": "k1",
                     "manifest_sha256": "ab" * 32, "checked_at": 1795000100.0},
    "lost_open_segments": ["judge-video-00003.webm"],
    "updated_at": 1795000100.1, "a_field_of_a_later_version": 7,
}


def test_an_earlier_state_file_reads_typed_and_nothing_is_lost(tmp_path: Path) -> None:
    folder = RecordingFolder(tmp_path, "h_old")
    folder.status_path.parent.mkdir(parents=True)
    folder.status_path.write_text(json.dumps(EARLIER_STATUS))
    status = folder.status()
    assert status is not None
    assert status.state is RecordingState.READY
    assert status.composite == CompositeInfo(1280, 720, 61.0, 0.2)
    assert isinstance(status.verification, VerifyReport) and status.verification.ok
    assert status.lost_open_segments == ("judge-video-00003.webm",)
    known = {k: v for k, v in EARLIER_STATUS.items() if k != "a_field_of_a_later_version"}
    assert status.to_json() == known


def test_updates_are_typed_written_and_read_back(tmp_path: Path) -> None:
    folder = RecordingFolder(tmp_path, "h_new")
    assert folder.status() is None
    folder.update_status(case_number="1-5/2026", title="T", state=RecordingState.RECORDING,
                         origin_wall=10.0, on_record=True)
    folder.update_status(state=RecordingState.PROCESSING, progress=0.0, on_record=False)
    status = folder.status()
    assert status is not None
    assert (status.hearing_id, status.state, status.progress, status.on_record) == (
        "h_new", RecordingState.PROCESSING, 0.0, False)
    assert status.case_number == "1-5/2026" and status.updated_at is not None
    on_disk = json.loads(folder.status_path.read_text())
    assert on_disk["state"] == "processing" and on_disk["origin_wall"] == 10.0


def test_a_torn_state_file_reads_as_none(tmp_path: Path) -> None:
    folder = RecordingFolder(tmp_path, "h_torn")
    folder.status_path.parent.mkdir(parents=True)
    folder.status_path.write_text('{"hearing_id": "h_torn", "state": "rec')
    assert folder.status() is None
    folder.status_path.write_text('{"hearing_id": "h_torn", "state": "no such state"}')
    assert folder.status() is None

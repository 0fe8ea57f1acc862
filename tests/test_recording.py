"""The court record end to end: real aiortc pages through the real server, real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av
import pytest

from media.recording.manifest import verify
from server.config import Settings
from server.recordings import COMPOSITE_NICENESS
from tests.fixtures.app_server import REPO, Api
from tests.fixtures.hearing_pages import admitted_page, joined_page
from tests.fixtures.polling import eventually, poll

RECORDED_S = 5.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Two-second segments, so a five-second hearing has several per track."""
    return Settings(data_dir=tmp_path / "data", heartbeat_s=5.0, recording_segment_s=2)


async def recording_state(api: Api, hearing_id: str) -> dict[str, Any]:
    """The hearing's entry in the clerk's list of recordings (empty if none)."""
    status, body = await api.call("GET", "/api/recordings")
    assert status == 200, body
    return next((r for r in body["recordings"] if r["hearing_id"] == hearing_id), {})


async def wait_ready(api: Api, hearing_id: str) -> dict[str, Any]:
    """Poll the clerk's list until the recording is ready (or failed)."""
    found: dict[str, Any] = {}

    async def settled() -> bool:
        nonlocal found
        found = await recording_state(api, hearing_id)
        return found.get("state") in ("ready", "failed")

    await poll(settled, 60, f"hearing {hearing_id}'s recording to be ready", interval=0.2)
    assert found["state"] == "ready", found
    return found


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _verify_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", "verify", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


async def test_three_party_hearing_is_recorded_composited_signed_and_verifiable(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    hearing = await api.create_hearing(case_number="2-77/2026", title="Алимент дауы")
    judge_link = await api.invite(hearing["id"], "judge", "Судья Әлия Серікқызы")
    judge = await joined_page(api, judge_link)
    welcome = judge.signaling.frames[0]
    # A court hearing goes on the record as soon as it opens; hosts may switch it.
    assert welcome["hearing"]["on_record"] is True and "record" in welcome["permissions"]
    plaintiff = await admitted_page(api, judge, await api.invite(hearing["id"], "plaintiff",
                                                            "Асқар Нұрланұлы"))
    defendant = await admitted_page(api, judge, await api.invite(hearing["id"], "defendant",
                                                            "Иван Петров"))
    pages = [judge, plaintiff, defendant]
    try:
        for page in pages:
            viewer = plaintiff if page is judge else judge
            for kind in ("audio", "video"):
                await eventually(
                    lambda v=viewer, p=page, k=kind: v.media.frames_from(p.participant_id, k) > 5,
                    what=f"{page.participant_id} {kind} flows",
                )
        started = time.monotonic()
        await eventually(lambda: time.monotonic() - started >= RECORDED_S, timeout=30,
                         what="five seconds of hearing")
        await judge.signaling.send({"type": "chat", "text": "Сот отырысы жабылды"})
        await judge.signaling.send({"type": "end"})
        await judge.signaling.expect("ended")
    finally:
        for page in pages:
            await page.close()

    state = await wait_ready(api, hearing["id"])
    assert state["verification"]["ok"] is True, state["verification"]
    # The composite was rendered at a lower CPU priority than the live hearings on this
    # node (the renderer's thread stays, idle, for the next one).
    renderers = [t.native_id for t in threading.enumerate() if t.name.startswith("composite")]
    assert renderers, [t.name for t in threading.enumerate()]
    assert all(os.getpriority(os.PRIO_PROCESS, tid or 0) - os.getpriority(os.PRIO_PROCESS, 0)
               == COMPOSITE_NICENESS for tid in renderers)
    folder = settings.data_dir / "recordings" / hearing["id"]
    chain = _jsonl(folder / ".recorder" / "chain.jsonl")
    timeline = _jsonl(folder / "timeline.jsonl")
    ended_at = next(e["offset_s"] for e in timeline if e["kind"] == "hearing_ended")

    spans = []
    for pid, kind in ((p.participant_id, k) for p in pages for k in ("audio", "video")):
        entries = [e for e in chain if e["participant_id"] == pid and e["kind"] == kind]
        assert len(entries) >= 2, f"{pid} {kind}: {len(entries)} segments"
        # The server's arrival clock from the track's first frame to the end of the hearing
        # is the reference; the files' durations come from the publisher's RTP clock.
        span = ended_at - entries[0]["start_offset_s"]
        spans.append(span)
        assert span >= RECORDED_S
        recorded = 0.0
        for entry in entries:
            with av.open(str(folder / entry["file"])) as container:
                stream = container.streams[0]
                assert stream.type == kind
                assert stream.codec_context.name == ("vp8" if kind == "video" else "opus")
                # Every closed segment plays on its own from its first frame.
                decoded = list(container.decode(stream))
                assert decoded, entry["file"]
                recorded += float(container.duration or 0) / 1e6
        assert abs(recorded - span) <= 0.1 * span, f"{pid} {kind}: {recorded} s vs {span} s"

    with av.open(str(folder / "composite.mp4")) as composite:
        video, audio = composite.streams.video[0], composite.streams.audio[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 1280, 720)
        assert audio.codec_context.name == "aac"
        longest = max(spans)
        assert abs(float(composite.duration or 0) / 1e6 - longest) <= 0.1 * longest + 0.3
        assert sum(1 for _ in composite.decode(video=0)) > 3 * 15

    kinds = [e["kind"] for e in timeline]
    for kind in ("record_on", "joined", "admitted", "chat", "hearing_ended", "record_off"):
        assert kind in kinds, kinds
    assert all("at" in e and e["offset_s"] is not None for e in timeline)

    # Offline verification: the folder, then the downloaded zip.
    result = _verify_cli(folder)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr
    async with api.http.get(api.url(f"/api/hearings/{hearing['id']}/recording"),
                            headers=api.auth) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
        (tmp_path / "record.zip").write_bytes(await r.read())
    assert verify(tmp_path / "record.zip").ok

    # One flipped byte in any file, or a deleted segment, fails and names the file.
    segment = entries[0]["file"]
    for name in (segment, "timeline.jsonl", "composite.mp4", "manifest.json",
                 "public_key.pem"):
        copy = tmp_path / f"tampered-{name.replace('/', '_')}"
        shutil.copytree(folder, copy)
        _flip_byte(copy / name)
        report = verify(copy)
        assert not report.ok and any(name in p for p in report.problems), (name, report)
    copy = tmp_path / "deleted"
    shutil.copytree(folder, copy)
    (copy / segment).unlink()
    result = _verify_cli(copy)
    assert result.returncode != 0
    assert f"missing: {segment}" in result.stdout, result.stdout


async def test_h264_hearing_is_recorded_to_matroska(api: Api, settings: Settings) -> None:
    hearing = await api.create_hearing(video_codec="h264")
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    witness = await admitted_page(api, judge, await api.invite(hearing["id"], "witness"))
    try:
        await eventually(lambda: judge.media.frames_from(witness.participant_id, "video") > 60,
                         what="two seconds of the witness's H.264 video")
        await judge.signaling.send({"type": "end"})
        await judge.signaling.expect("ended")
    finally:
        for page in (judge, witness):
            await page.close()
    state = await wait_ready(api, hearing["id"])
    assert state["verification"]["ok"] is True, state["verification"]
    folder = settings.data_dir / "recordings" / hearing["id"]
    videos = [e for e in _jsonl(folder / ".recorder" / "chain.jsonl") if e["kind"] == "video"]
    assert videos, (_jsonl(folder / ".recorder" / "chain.jsonl"), state)
    for entry in videos:
        assert entry["file"].endswith(".mkv"), entry["file"]
        with av.open(str(folder / entry["file"])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert list(container.decode(stream)), entry["file"]


async def test_mediation_starts_off_the_record_until_a_host_switches_it_on(api: Api) -> None:
    hearing = await api.create_hearing(kind="mediation")
    mediator = await joined_page(api, await api.invite(hearing["id"], "mediator"))
    party = await admitted_page(api, mediator, await api.invite(hearing["id"], "respondent"))
    try:
        assert mediator.signaling.frames[0]["hearing"]["on_record"] is False
        await party.signaling.send({"type": "record", "on": True})
        assert (await party.signaling.expect("error"))["code"] == "forbidden"
        await mediator.signaling.send({"type": "record", "on": True})
        for page in (mediator, party):
            switched = await page.signaling.expect("record")
            assert switched["on"] is True and switched["by"] == mediator.participant_id
        assert (await recording_state(api, hearing["id"])).get("state") == "recording"
    finally:
        for page in (mediator, party):
            await page.close()

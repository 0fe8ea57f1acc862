"""Secrets and the record are private on disk: 0700 folders, 0600 files, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from server.config import Settings
from tests.fixtures.app_server import REPO, Api, LiveServer, free_port
from tests.fixtures.hearing_pages import admitted_page, joined_page
from tests.fixtures.polling import eventually
from tests.test_recording import wait_ready


def _modes(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (and root itself) with its permission bits, as octal."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def _not_private(root: Path) -> dict[str, str]:
    return {name: mode for name, mode in _modes(root).items()
            if mode not in ("0o700" if (root / name).is_dir() else "0o600",)}


def _admin_token(env: dict[str, str]) -> str:
    made = subprocess.run([sys.executable, "-m", "server.cli", "admin-token", "--name", "clerk"],
                          cwd=REPO, env=env, capture_output=True, text=True, check=True,
                          umask=0o022)
    return made.stdout.strip().splitlines()[-1]


def _env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "QASHYQ_DATA_DIR": str(data_dir), "QASHYQ_LOG_LEVEL": "INFO"}
    env.pop("REDIS_URL", None)
    return env


async def test_a_fresh_server_under_umask_022_keeps_everything_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    server = LiveServer(data_dir, free_port(), _admin_token(env), tmp_path / "server.log", env,
                        umask=0o022)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, server.admin_token, server.base_url)
            hearing = await api.create_hearing()
            await api.invite(hearing["id"], "judge")
        modes = _modes(data_dir)
        # While it runs: the database and the WAL and shared-memory files beside it.
        assert {"qashyq.sqlite3", "qashyq.sqlite3-wal", "qashyq.sqlite3-shm",
                "keys/recording-ed25519.pem", "recordings"} <= set(modes), modes
        assert _not_private(data_dir) == {}
    finally:
        await server.stop()


async def test_an_existing_open_data_dir_is_tightened_and_the_log_says_so(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    token = _admin_token(env)
    # What an older Qashyq left under umask 022.
    (data_dir / "recordings" / "h_old").mkdir(parents=True)
    (data_dir / "recordings" / "h_old" / "timeline.jsonl").write_text("{}\n")
    for path in (data_dir, data_dir / "recordings", data_dir / "recordings" / "h_old"):
        path.chmod(0o755)
    for path in (data_dir / "qashyq.sqlite3", data_dir / "recordings/h_old/timeline.jsonl"):
        path.chmod(0o644)

    server = LiveServer(data_dir, free_port(), token, tmp_path / "server.log", env, umask=0o022)
    await server.start()
    try:
        assert _not_private(data_dir) == {}
        assert f"QASHYQ_DATA_DIR {data_dir} was readable by others (mode 0755): tightened" \
            in server.log_text()
    finally:
        await server.stop()


def test_a_data_dir_that_cannot_be_made_private_stops_the_server(tmp_path: Path) -> None:
    # A file where the folder should be: root cannot make that private either.
    data_dir = tmp_path / "data"
    data_dir.write_text("not a folder")
    result = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port",
                             str(free_port())], cwd=REPO, env=_env(data_dir),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"QASHYQ_DATA_DIR {data_dir} cannot be made private" in result.stderr
    assert "Qashyq is running" not in result.stdout


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask for the in-process server of one test."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Two-second segments, so the short hearing closes several."""
    return Settings(data_dir=tmp_path / "data", heartbeat_s=5.0, recording_segment_s=2)


async def test_every_recording_file_and_folder_is_private(
    umask_022: None, api: Api, settings: Settings
) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    witness = await admitted_page(api, judge, await api.invite(hearing["id"], "witness"))
    try:
        await eventually(lambda: judge.media.frames_from(witness.participant_id, "video") > 90,
                         what="three seconds of the witness's video")
        await judge.signaling.send({"type": "end"})
        await judge.signaling.expect("ended")
    finally:
        for page in (judge, witness):
            await page.close()
    await wait_ready(api, hearing["id"])
    folder = settings.data_dir / "recordings" / hearing["id"]
    names = set(_modes(folder))
    assert {"composite.mp4", "manifest.json", "public_key.pem", "timeline.jsonl", "tracks",
            ".recorder/status.json", ".recorder/chain.jsonl"} <= names, names
    assert any(n.startswith("tracks/") and n.endswith(".webm") for n in names), names
    assert _not_private(settings.data_dir) == {}

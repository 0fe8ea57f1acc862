"""Qashyq under load: start ``server.cli serve``, schedule hearings, join participants over /ws."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from .load import LoadStats
from .media_files import EncodedMedia
from .peer import LoadPeer
from .proc_stats import pin_command
from .subprocesses import free_port, start_process, stop_process, wait_http

REPO = Path(__file__).resolve().parent.parent
# Publishing roles after the judge (any role but observer may publish).
_ROLES = ("lawyer", "defendant", "plaintiff", "witness", "interpreter", "prosecutor")


class QashyqParticipant:
    """One page's stand-in: the /ws protocol plus a ``LoadPeer`` answering the server's offers."""

    def __init__(
        self,
        name: str,
        token: str,
        names: dict[str, str],
        stats: LoadStats,
        media: dict[str, EncodedMedia],
        *,
        judge: bool,
    ) -> None:
        self.name = name
        self._token = token
        self._names = names  # server participant id -> load name
        self._stats = stats
        self._judge = judge
        self.peer = LoadPeer(name, stats, media)
        stats.participant(name)  # known to the harness at once: it waits for this join
        self._admitted: set[str] = set()
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def run(self, http: aiohttp.ClientSession, ws_url: str) -> None:
        """Join and answer offers until the socket closes (the harness closes it)."""
        self._stats.participant(self.name).signaling_start = time.monotonic()
        async with http.ws_connect(ws_url, max_msg_size=1 << 20) as ws:
            self._ws = ws
            await ws.send_json({"type": "hello", "token": self._token, "protocol": 1})
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                await self._handle(ws, message.json())

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "welcome":
            await self._admit_lobby(ws, message.get("roster", []))
        elif kind in ("roster", "roster_update"):
            await self._admit_lobby(ws, message.get("participants", []))
        elif kind == "offer":
            await self._answer(ws, message["sdp"], message["streams"])
        elif kind == "error" and message.get("fatal"):
            raise RuntimeError(f"{self.name}: fatal error from Qashyq: {message}")

    async def _admit_lobby(
        self, ws: aiohttp.ClientWebSocketResponse, roster: list[dict[str, Any]]
    ) -> None:
        if not self._judge:
            return
        for entry in roster:
            pid = entry.get("id", "")
            waiting = entry.get("state") == "lobby" and entry.get("connected")
            if waiting and pid not in self._admitted:
                self._admitted.add(pid)
                await ws.send_json({"type": "admit", "participant_id": pid})

    async def _answer(
        self, ws: aiohttp.ClientWebSocketResponse, sdp: str, streams: dict[str, dict[str, str]]
    ) -> None:
        milestones = self._stats.participant(self.name)
        if milestones.first_offer is None:
            milestones.first_offer = time.monotonic()

            @self.peer.pc.on("connectionstatechange")
            def on_state() -> None:
                if self.peer.pc.connectionState == "connected" and milestones.connected is None:
                    milestones.connected = time.monotonic()

        await self.peer.set_remote(sdp, "offer")
        for transceiver in self.peer.pc.getTransceivers():
            info = streams.get(transceiver.mid or "")
            if info is None:
                continue
            if info.get("role") == "publish":
                self.peer.publish_on(transceiver, info["kind"])
            else:
                publisher = self._names.get(info["participant_id"], info["participant_id"])
                self.peer.subscribe_on(transceiver, publisher, info["kind"])
        await ws.send_json({"type": "answer", "sdp": await self.peer.answer()})
        if milestones.answered is None:
            milestones.answered = time.monotonic()

    async def close(self) -> None:
        """Close the socket and the peer connection."""
        if self._ws is not None:
            await self._ws.close()
        await self.peer.close()


class QashyqSystem:
    """The Qashyq server process and the load's participants in its hearings."""

    name = "qashyq"

    def __init__(
        self, work_dir: Path, core: int, *, record: bool = False, host: str = "127.0.0.1"
    ) -> None:
        self._work_dir = work_dir
        self._host = host  # another address of this machine lets a network namespace in
        self.hearing_ids: list[str] = []
        self._core = core
        # Janus records nothing, so by default Qashyq's hearings are mediations, which start
        # off the record; `--record` measures court hearings recorded from the start.
        self._hearing_kind = "court" if record else "mediation"
        self._tmp = tempfile.TemporaryDirectory(prefix="qashyq-bench-")
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._base = ""
        self._participants: list[QashyqParticipant] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._hearing_count = 0

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None
        return self._process.pid

    def _env(self) -> dict[str, str]:
        return {**os.environ, "QASHYQ_DATA_DIR": self._tmp.name, "QASHYQ_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(REPO)}

    async def start(self) -> None:
        """Create an admin token, start the server on a free port, wait for /healthz."""
        token_proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "admin-token", cwd=REPO, env=self._env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(token_proc.communicate(), 30)
        self._admin_token = out.decode().strip().splitlines()[-1]
        port = free_port()
        self._base = f"http://{self._host}:{port}"
        command = pin_command(
            [sys.executable, "-m", "server.cli", "serve", "--host", self._host,
             "--port", str(port)], self._core,
        )
        self._process = await start_process(
            command, cwd=REPO, env=self._env(), log=self._work_dir / "qashyq.log"
        )
        # No pool limit: every participant holds a websocket on this session, and aiohttp's
        # default of 100 connections would make the next admin request wait forever.
        self._http = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._admin_token}"},
            connector=aiohttp.TCPConnector(limit=0),
        )
        await wait_http(self._http, f"{self._base}/healthz", self._process, timeout=30)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._http is not None
        async with self._http.post(f"{self._base}{path}", json=body) as response:
            data: dict[str, Any] = await response.json()
            if response.status >= 300:
                raise RuntimeError(f"POST {path}: {response.status} {data}")
            return data

    async def join(
        self, hearings: int, participants: int, stats: LoadStats, media: dict[str, EncodedMedia]
    ) -> None:
        """Schedule the hearings, then start every participant's join at the same moment."""
        starts = dt.datetime.now(dt.UTC).isoformat()
        names: dict[str, str] = {}
        tokens: list[tuple[str, str, bool]] = []
        first = self._hearing_count
        self._hearing_count += hearings
        for h in range(first, first + hearings):
            hearing = await self._post("/api/hearings", {
                "case_number": f"BENCH-{h}", "title": f"Bench hearing {h}",
                "kind": self._hearing_kind,
                "starts_at": starts, "duration_minutes": 120, "language": "en",
                "video_codec": "vp8",
            })
            self.hearing_ids.append(hearing["id"])
            for p in range(participants):
                role = "judge" if p == 0 else _ROLES[(p - 1) % len(_ROLES)]
                link = await self._post(f"/api/hearings/{hearing['id']}/participants",
                                        {"display_name": f"h{h}p{p}", "role": role})
                names[link["id"]] = f"h{h}p{p}"
                tokens.append((f"h{h}p{p}", link["join_url"].split("#", 1)[1], p == 0))
        ws_url = self._base.replace("http", "ws", 1) + "/ws"
        assert self._http is not None
        for name, token, judge in tokens:
            participant = QashyqParticipant(name, token, names, stats, media, judge=judge)
            self._participants.append(participant)
            self._tasks.append(asyncio.create_task(participant.run(self._http, ws_url)))

    @property
    def ws_url(self) -> str:
        """The server's signaling WebSocket URL."""
        return self._base.replace("http", "ws", 1) + "/ws"

    async def invite(self, hearing_id: str, display_name: str, role: str) -> str:
        """A new participant's join token, for a participant this driver does not run."""
        link = await self._post(f"/api/hearings/{hearing_id}/participants",
                                {"display_name": display_name, "role": role})
        return str(link["join_url"].split("#", 1)[1])

    def failures(self) -> list[BaseException]:
        """Exceptions of participants whose session ended with an error."""
        return [t.exception() for t in self._tasks  # type: ignore[misc]
                if t.done() and not t.cancelled() and t.exception() is not None]

    async def close(self) -> None:
        """Leave, close every socket and peer, stop the server; idempotent."""
        for participant in self._participants:
            await participant.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._participants.clear()
        self._tasks.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._process is not None:
            await stop_process(self._process)
            self._process = None
        self._tmp.cleanup()

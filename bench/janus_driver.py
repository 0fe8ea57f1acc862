"""Janus under load: start ``janus`` from ``bench/janus/``, drive the videoroom over HTTP.

Each load participant has one Janus session with two handles: a publisher (our offer, one
audio and one video m-line) and a multistream subscriber to every other feed of its room
(Janus offers; we answer with ``start``). Events arrive by HTTP long-poll on the session, which
also keeps it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from .load import LoadStats
from .media_files import EncodedMedia
from .peer import LoadPeer
from .proc_stats import pin_command
from .subprocesses import free_port, start_process, stop_process, wait_http

CONFIG_DIR = Path(__file__).resolve().parent / "janus"
_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=20)


class JanusSession:
    """A Janus session over the HTTP transport, with its long-poll event loop."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self._http = http
        self._base = base
        self._url = ""
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._closed = False

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        transaction = f"t{next(self._ids)}"
        async with self._http.post(
            url, json={**body, "transaction": transaction}, timeout=_REQUEST_TIMEOUT
        ) as response:
            reply: dict[str, Any] = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {body.get('janus')}: {reply['error']}")
        return reply

    async def create(self) -> None:
        """Create the session and start long-polling its events."""
        reply = await self._post(self._base, {"janus": "create"})
        self._url = f"{self._base}/{reply['data']['id']}"
        self._poller = asyncio.create_task(self._poll())

    async def attach(self) -> int:
        """Attach a videoroom handle; its id."""
        reply = await self._post(self._url, {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle: int = reply["data"]["id"]
        self.events[handle] = asyncio.Queue()
        return handle

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Send a plugin request; the synchronous reply or the asynchronous event."""
        transaction = f"m{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            async with self._http.post(
                f"{self._url}/{handle}", json=request, timeout=_REQUEST_TIMEOUT
            ) as response:
                reply: dict[str, Any] = await response.json(content_type=None)
            if reply.get("janus") == "error":
                raise RuntimeError(f"janus: {body.get('request')}: {reply['error']}")
            if reply.get("janus") == "success":
                return reply
            return await asyncio.wait_for(future, 20)
        finally:
            self._pending.pop(transaction, None)

    async def _poll(self) -> None:
        # Each GET waits at most ~30 s (Janus then sends a keepalive); ends when closed.
        while not self._closed:
            try:
                async with self._http.get(
                    f"{self._url}?maxev=20", timeout=aiohttp.ClientTimeout(total=40)
                ) as response:
                    events = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError):
                if self._closed:
                    return
                await asyncio.sleep(0.2)
                continue
            for event in events if isinstance(events, list) else [events]:
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        future = self._pending.get(event.get("transaction", ""))
        if future is not None and not future.done() and event.get("janus") == "event":
            future.set_result(event)
            return
        queue = self.events.get(event.get("sender", 0))
        if queue is not None and event.get("janus") == "event":
            queue.put_nowait(event)

    async def destroy(self) -> None:
        """Destroy the session and stop polling; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._url:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, RuntimeError):
                await self._post(self._url, {"janus": "destroy"})
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller


def _plugin_data(reply: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
    if "error" in data:
        raise RuntimeError(f"janus videoroom: {data['error']}")
    return data


class JanusParticipant:
    """A publisher and a multistream subscriber in one videoroom."""

    def __init__(
        self,
        name: str,
        feed: int,
        room: int,
        feeds: dict[int, str],
        stats: LoadStats,
        media: dict[str, EncodedMedia],
    ) -> None:
        self.name = name
        self._feed = feed
        self._room = room
        self._feeds = feeds  # feed id -> load name
        self._stats = stats
        self.publisher = LoadPeer(name, stats, media)
        self.subscriber = LoadPeer(name, stats, media)
        stats.participant(name)  # known to the harness at once: it waits for this join
        self._session: JanusSession | None = None
        self._subscribed: set[int] = set()
        self._sub_handle = 0
        self._sub_joined = False

    async def run(self, http: aiohttp.ClientSession, base: str) -> None:
        """Join, publish, and subscribe to every other feed as it appears."""
        self._stats.participant(self.name).signaling_start = time.monotonic()
        session = self._session = JanusSession(http, base)
        await session.create()
        pub, self._sub_handle = await session.attach(), await session.attach()
        self.publisher.add_publishing_transceivers()
        offer = await self.publisher.offer()
        reply = await session.message(pub, {
            "request": "joinandconfigure", "room": self._room, "ptype": "publisher",
            "id": self._feed, "display": self.name, "audio": True, "video": True,
        }, {"type": "offer", "sdp": offer})
        joined = _plugin_data(reply)
        if not reply.get("jsep"):
            raise RuntimeError(f"janus: {self.name}'s join carried no SDP answer: {joined}")
        await self.publisher.set_remote(reply["jsep"]["sdp"], "answer")
        await self._subscribe(joined.get("publishers", []))
        # Bounded by the run: the harness cancels this task when it closes the participant.
        while True:
            event = await session.events[pub].get()
            await self._subscribe(_plugin_data(event).get("publishers", []))

    async def _subscribe(self, publishers: list[dict[str, Any]]) -> None:
        feeds = [p["id"] for p in publishers
                 if p.get("id") != self._feed and p.get("id") not in self._subscribed]
        if not feeds:
            return
        assert self._session is not None
        self._subscribed.update(feeds)
        streams = [{"feed": feed} for feed in feeds]
        if not self._sub_joined:
            self._sub_joined = True
            body = {"request": "join", "room": self._room, "ptype": "subscriber",
                    "streams": streams}
        else:
            body = {"request": "subscribe", "streams": streams}
        reply = await self._session.message(self._sub_handle, body)
        if reply.get("jsep") is not None:
            await self._answer(reply)

    async def _answer(self, reply: dict[str, Any]) -> None:
        assert self._session is not None
        data = _plugin_data(reply)
        await self.subscriber.set_remote(reply["jsep"]["sdp"], "offer")
        sources = {str(s["mid"]): (self._feeds.get(s.get("feed_id", 0), "?"), s.get("type", ""))
                   for s in data.get("streams", []) if s.get("active", True)}
        for transceiver in self.subscriber.pc.getTransceivers():
            source = sources.get(transceiver.mid or "")
            if source is not None and source[1] in ("audio", "video"):
                self.subscriber.subscribe_on(transceiver, *source)
        sdp = await self.subscriber.answer()
        _plugin_data(await self._session.message(
            self._sub_handle, {"request": "start"}, {"type": "answer", "sdp": sdp}
        ))

    async def close(self) -> None:
        """Destroy the session and close both peer connections."""
        if self._session is not None:
            await self._session.destroy()
        await self.publisher.close()
        await self.subscriber.close()


def _library(folder: str, name: str) -> Path:
    for candidate in sorted(glob.glob(f"/usr/lib/*/janus/{folder}/{name}")) + sorted(
        glob.glob(f"/usr/lib/janus/{folder}/{name}")
    ):
        return Path(candidate)
    raise RuntimeError(f"janus: {folder}/{name} not found under /usr/lib")


def render_config(target: Path, http_port: int) -> Path:
    """Write ``bench/janus/`` with the port and folders filled in; the config folder."""
    conf, plugins, transports, empty = (target / d for d in ("conf", "plugins", "transports",
                                                               "empty"))
    for folder in (conf, plugins, transports, empty):
        folder.mkdir(parents=True, exist_ok=True)
    # Only these two libraries are visible to Janus, so nothing else is loaded.
    for folder, name in ((plugins, "libjanus_videoroom.so"), (transports, "libjanus_http.so")):
        link = folder / name
        if not link.exists():
            link.symlink_to(_library(folder.name, name))
    values = {"configs_folder": conf, "plugins_folder": plugins,
              "transports_folder": transports, "empty_folder": empty, "http_port": http_port}
    for source in CONFIG_DIR.iterdir():
        text = source.read_text()
        if source.suffix == ".in":
            for key, value in values.items():
                text = text.replace("{" + key + "}", str(value))
            (conf / source.stem).write_text(text)
        elif source.suffix == ".jcfg":
            (conf / source.name).write_text(text)
    return conf


class JanusSystem:
    """The ``janus`` process and the load's participants in its videorooms."""

    name = "janus"

    def __init__(self, work_dir: Path, core: int) -> None:
        self._work_dir = work_dir
        self._core = core
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._admin: JanusSession | None = None
        self._admin_handle = 0
        self._base = ""
        self._participants: list[JanusParticipant] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._rooms = 0

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None
        return self._process.pid

    async def start(self) -> None:
        """Render the config, start janus on a free port, wait for /janus/info."""
        janus = shutil.which("janus")
        if janus is None:
            raise RuntimeError("janus: not installed (Debian package `janus`)")
        port = free_port()
        conf = render_config(self._work_dir / "janus-run", port)
        self._base = f"http://127.0.0.1:{port}/janus"
        self._process = await start_process(
            pin_command([janus, "-F", str(conf), "-C", str(conf / "janus.jcfg")], self._core),
            cwd=self._work_dir, env=None, log=self._work_dir / "janus.log",
        )
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        await wait_http(self._http, f"{self._base}/info", self._process, timeout=30)
        self._admin = JanusSession(self._http, self._base)
        await self._admin.create()
        self._admin_handle = await self._admin.attach()

    async def join(
        self, hearings: int, participants: int, stats: LoadStats, media: dict[str, EncodedMedia]
    ) -> None:
        """Create the rooms, then start every participant's join at the same moment."""
        assert self._admin is not None and self._http is not None
        feeds: dict[int, str] = {}
        joining: list[JanusParticipant] = []
        first = self._rooms
        self._rooms += hearings
        for h in range(first, first + hearings):
            room = 1000 + h
            _plugin_data(await self._admin.message(self._admin_handle, {
                "request": "create", "room": room, "publishers": participants,
                "audiocodec": "opus", "videocodec": "vp8", "bitrate": 0, "fir_freq": 0,
                "notify_joining": False, "is_private": False,
            }))
            for p in range(participants):
                feed = room * 100 + p + 1
                feeds[feed] = f"h{h}p{p}"
                joining.append(JanusParticipant(f"h{h}p{p}", feed, room, feeds, stats, media))
        for participant in joining:
            self._participants.append(participant)
            self._tasks.append(asyncio.create_task(participant.run(self._http, self._base)))

    def failures(self) -> list[BaseException]:
        """Exceptions of participants whose session ended with an error."""
        return [t.exception() for t in self._tasks  # type: ignore[misc]
                if t.done() and not t.cancelled() and t.exception() is not None]

    async def close(self) -> None:
        """Leave, close every peer and session, stop janus; idempotent."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for participant in self._participants:
            await participant.close()
        self._participants.clear()
        self._tasks.clear()
        if self._admin is not None:
            await self._admin.destroy()
            self._admin = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._process is not None:
            await stop_process(self._process)
            self._process = None

"""Real aiortc clients talking to a real ``HearingMedia`` through an in-test signaling hub."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCBundlePolicy
from av import VideoFrame

from media import HearingMedia

DEADLINE = 20.0


async def eventually(
    predicate: Callable[[], bool], *, timeout: float = DEADLINE, what: str = "condition"
) -> None:
    """Poll until ``predicate()`` holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


class MovingVideoTrack(VideoStreamTrack):
    """Small frames whose content changes, so the encoder produces real delta frames."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self._width = width
        self._height = height
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._count += 1
        image = np.zeros((self._height, self._width, 3), dtype=np.uint8)
        x = (self._count * 3) % self._width
        image[:, x : x + 10, :] = 255
        image[:, :, 1] = (self._count * 5) % 256
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


@dataclass
class ReceivedTrack:
    """What one client decoded from one remote track."""

    participant_id: str
    kind: str
    mid: str
    msid_stream_id: str | None
    frame_times: list[float] = field(default_factory=list)
    ended: bool = False

    @property
    def frames(self) -> int:
        return len(self.frame_times)

    def max_gap(self, *, after: int = 0) -> float:
        times = self.frame_times[after:]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


class Client:
    """A participant's browser stand-in: an aiortc peer that answers the server's offers."""

    def __init__(self, media: HearingMedia, participant_id: str, *, publish: bool) -> None:
        self.media = media
        self.participant_id = participant_id
        self.publish = publish
        # aiortc's default (balanced) bundle policy leaves a second m-line of the same kind
        # on a transport that BUNDLE then stops, when both arrive in one offer.
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.offers: asyncio.Queue[tuple[str, dict[str, dict[str, str]]]] = asyncio.Queue()
        self.streams: dict[str, dict[str, str]] = {}
        self.received: list[ReceivedTrack] = []
        self.offer_count = 0
        self.answer_sdps: list[str] = []
        self.connected_at: float | None = None
        self.audio = AudioStreamTrack()
        self.video = MovingVideoTrack()
        self._attached = False
        self._tasks: list[asyncio.Task[None]] = []
        self._last_offer_sdp = ""

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._consume(track)))

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            if self.pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()

        self._tasks.append(asyncio.create_task(self._answer_offers()))

    def tracks(self, participant_id: str, kind: str | None = None) -> list[ReceivedTrack]:
        return [
            t
            for t in self.received
            if t.participant_id == participant_id and (kind is None or t.kind == kind)
        ]

    def frames_from(self, participant_id: str, kind: str) -> int:
        return sum(t.frames for t in self.tracks(participant_id, kind))

    async def _answer_offers(self) -> None:
        while True:
            sdp, streams = await self.offers.get()
            self.offer_count += 1
            self.streams = streams
            self._last_offer_sdp = sdp
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            if self.publish and not self._attached:
                for transceiver in self.pc.getTransceivers():
                    info = streams.get(transceiver.mid or "")
                    if info and info["role"] == "publish":
                        track = self.audio if info["kind"] == "audio" else self.video
                        transceiver.sender.replaceTrack(track)
                        transceiver.direction = "sendonly"
                self._attached = True
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            self.answer_sdps.append(self.pc.localDescription.sdp)
            await self.media.apply_answer(self.participant_id, self.pc.localDescription.sdp)

    def _msid_stream_id(self, mid: str) -> str | None:
        for section in self._last_offer_sdp.split("m=")[1:]:
            if re.search(rf"^a=mid:{re.escape(mid)}\r?$", section, re.M):
                found = re.search(r"^a=msid:(\S+) ", section, re.M)
                return found.group(1) if found else None
        return None

    async def _consume(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = transceiver.mid or ""
        info = self.streams.get(mid, {"participant_id": "?", "kind": track.kind})
        received = ReceivedTrack(
            info["participant_id"], info["kind"], mid, self._msid_stream_id(mid)
        )
        self.received.append(received)
        try:
            while True:
                await track.recv()
                received.frame_times.append(time.monotonic())
        except MediaStreamError:
            received.ended = True

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await task
        await self.pc.close()


class SignalHub:
    """The in-test signaling channel: offers go to the client's queue, like a websocket."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}

    async def send_offer(
        self, participant_id: str, sdp: str, streams: dict[str, dict[str, str]]
    ) -> None:
        client = self.clients.get(participant_id)
        if client is not None:
            client.offers.put_nowait((sdp, streams))


@dataclass
class Hearing:
    """A hearing's media with helpers to join clients."""

    media: HearingMedia
    hub: SignalHub
    clients: list[Client] = field(default_factory=list)

    async def join(self, participant_id: str, *, publish: bool = True) -> Client:
        client = Client(self.media, participant_id, publish=publish)
        self.hub.clients[participant_id] = client
        self.clients.append(client)
        await self.media.add_participant(participant_id, can_publish=publish)
        return client

    async def leave(self, client: Client) -> None:
        await self.media.remove_participant(client.participant_id)
        self.hub.clients.pop(client.participant_id, None)
        await client.close()


HearingFactory = Callable[..., Awaitable[Hearing]]


@pytest.fixture
async def make_hearing() -> AsyncIterator[HearingFactory]:
    """Create hearings (``video_codec=...``); everything is closed after the test."""
    hearings: list[Hearing] = []

    async def make(video_codec: str = "vp8") -> Hearing:
        hub = SignalHub()
        hearing = Hearing(HearingMedia("hearing-1", signal=hub, video_codec=video_codec), hub)
        hearings.append(hearing)
        return hearing

    yield make
    for hearing in hearings:
        for client in hearing.clients:
            await client.close()
        await hearing.media.close()


def all_frames(client: Client, others: list[Client], minimum: int) -> Callable[[], bool]:
    """Predicate: ``client`` decoded ``minimum`` audio and video frames from each other."""

    def check() -> bool:
        return all(
            client.frames_from(o.participant_id, kind) >= minimum
            for o in others
            for kind in ("audio", "video")
        )

    return check

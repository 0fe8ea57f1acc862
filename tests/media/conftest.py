"""Real aiortc clients talking to a real ``HearingMedia`` through an in-test signaling hub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from media import HearingMedia, RecorderFault
from media.recording.folder import RecordingFolder
from media.recording.hearing_recorder import HearingRecorder
from tests.fixtures.aiortc_page import Client, MovingVideoTrack, ReceivedTrack
from tests.fixtures.polling import DEADLINE, eventually

__all__ = ["DEADLINE", "Client", "MovingVideoTrack", "ReceivedTrack", "eventually"]


class SignalHub:
    """The in-test signaling channel: offers go to the client's queue, like a websocket."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.video_states: list[tuple[str, bool]] = []

    async def send_offer(
        self, participant_id: str, sdp: str, streams: dict[str, dict[str, str]]
    ) -> None:
        client = self.clients.get(participant_id)
        if client is not None:
            client.offers.put_nowait((sdp, streams))

    def receiving_video(self, participant_id: str, receiving: bool) -> None:
        self.video_states.append((participant_id, receiving))


@dataclass
class Hearing:
    """A hearing's media with helpers to join clients."""

    media: HearingMedia
    hub: SignalHub
    clients: list[Client] = field(default_factory=list)

    async def join(self, participant_id: str, *, publish: bool = True) -> Client:
        async def send_answer(sdp: str) -> None:
            await self.media.apply_answer(participant_id, sdp)

        client = Client(participant_id, publish=publish, send_answer=send_answer)
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
    """Create hearings (``video_codec=...``, ``max_video_kbps=...``); everything is closed
    after the test."""
    hearings: list[Hearing] = []

    async def make(video_codec: str = "vp8", max_video_kbps: int | None = None) -> Hearing:
        hub = SignalHub()
        hearing = Hearing(HearingMedia("hearing-1", signal=hub, video_codec=video_codec,
                                       max_video_kbps=max_video_kbps), hub)
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


class FaultListener:
    """A recorder's listener that keeps the faults it is told of and expects all media."""

    def __init__(self) -> None:
        self.faults: list[RecorderFault] = []

    def recorder_fault(self, fault: RecorderFault) -> None:
        self.faults.append(fault)

    def recorder_resumed(self, fault: RecorderFault) -> None:
        return None

    def expects_media(self, participant_id: str, kind: str) -> bool:
        return True


def hearing_recorder(media: HearingMedia, tmp_path: Path) -> HearingRecorder:
    """A recorder of the hearing into ``tmp_path`` (hearing ``h1``), 1 s segments."""

    async def finished(hearing_id: str, ended: bool) -> None:
        return None

    return HearingRecorder(media, RecordingFolder(tmp_path, "h1"), case_number="1-1/2026",
                           title="T", segment_s=1.0, stall_s=60.0, on_finished=finished)

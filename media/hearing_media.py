"""The SFU for one live hearing: who publishes, who receives what, and the offers it takes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Sequence
from typing import Protocol

from .active_speakers import ActiveSpeakers
from .errors import (
    HearingMediaClosed,
    InvalidMediaConfig,
    InvalidParticipantId,
    ParticipantAlreadyJoined,
    UnknownParticipant,
)
from .ice import IceServer
from .metrics import HearingMetrics
from .participant_connection import ParticipantConnection
from .plane import MediaSignal, ParticipantQuality, StreamMap, TileView, VideoCodec
from .published_stream import PublishedStream
from .publisher_limits import PublisherLimits

logger = logging.getLogger(__name__)

# The id becomes the msid stream id of the tracks the server sends: RFC 8830 token chars.
_PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]{1,64}$")


class StreamObserver(Protocol):
    """Hears of streams as participants start and stop publishing (e.g. the recorder)."""

    def stream_published(self, stream: PublishedStream) -> None:
        """A participant's audio or video stream exists (its packets may follow)."""

    def stream_unpublished(self, stream: PublishedStream) -> None:
        """The stream is about to close: its publisher left or was removed."""


class HearingMedia:
    """The SFU for one live hearing; the ``MediaPlane`` its room drives.

    Every participant has one peer connection with the server; the server offers, and
    renegotiates whenever the streams a participant should receive change.
    """

    def __init__(
        self,
        hearing_id: str,
        *,
        signal: MediaSignal,
        video_codec: str = VideoCodec.VP8,
        ice_servers: Sequence[IceServer] = (),
        max_video_kbps: int | None = None,
    ) -> None:
        try:
            self.video_codec = VideoCodec(video_codec)
        except ValueError:
            raise InvalidMediaConfig(
                f"video_codec: {video_codec!r} is not one of {', '.join(VideoCodec)}"
            ) from None
        try:
            # Each publisher is told the cap and held to a ceiling above it (None: no cap).
            self._limits = PublisherLimits(max_video_kbps)
        except ValueError as error:
            raise InvalidMediaConfig(str(error)) from None
        self.hearing_id = hearing_id
        self._signal = signal
        self._ice_servers = tuple(ice_servers)
        self._connections: dict[str, ParticipantConnection] = {}
        self._stream_observers: list[StreamObserver] = []
        # Audio-only participants receive only the active speakers' audio.
        self._speakers = ActiveSpeakers()
        self._stream_observers.append(self._speakers)
        self._closing: asyncio.Future[list[None]] | None = None

    @property
    def participant_ids(self) -> tuple[str, ...]:
        """Participants that currently have a media connection."""
        return tuple(self._connections)

    def add_stream_observer(self, observer: StreamObserver) -> None:
        """Tell ``observer`` of every stream published from now on."""
        if observer not in self._stream_observers:
            self._stream_observers.append(observer)

    def remove_stream_observer(self, observer: StreamObserver) -> None:
        """Stop telling ``observer`` of streams."""
        if observer in self._stream_observers:
            self._stream_observers.remove(observer)

    @property
    def active_speakers(self) -> tuple[str, ...]:
        """Participant ids whose audio audio-only participants currently receive."""
        return self._speakers.speakers

    def published_streams(self) -> list[PublishedStream]:
        """Every stream currently published in the hearing."""
        return [
            s for connection in self._connections.values() for s in connection.published.values()
        ]

    def connection(self, participant_id: str) -> ParticipantConnection:
        """The participant's peer connection (raises ``UnknownParticipant``)."""
        try:
            return self._connections[participant_id]
        except KeyError:
            raise UnknownParticipant(f"participant {participant_id!r} has no media") from None

    async def add_participant(self, participant_id: str, *, can_publish: bool) -> None:
        """Create the participant's connection and send it the first offer."""
        if self._closing is not None:
            raise HearingMediaClosed(f"hearing {self.hearing_id!r} media is closed")
        if not _PARTICIPANT_ID.match(participant_id):
            raise InvalidParticipantId(f"participant id {participant_id!r} is not an SDP token")
        if participant_id in self._connections:
            raise ParticipantAlreadyJoined(f"participant {participant_id!r} already has media")
        connection = ParticipantConnection(
            participant_id,
            can_publish=can_publish,
            video_codec=self.video_codec,
            ice_servers=self._ice_servers,
            send_offer=self._send_offer,
            speaker=lambda: self._speakers.dominant,
            on_video=self._downlink_video,
            limits=self._limits,
        )
        # The graph changes in one synchronous step, so concurrent joins and leaves
        # always see a consistent set of subscriptions.
        others = list(self._connections.values())
        self._connections[participant_id] = connection
        for other in others:
            for stream in other.published.values():
                connection.subscribe(stream)
            for stream in connection.published.values():
                other.subscribe(stream)
        for observer in tuple(self._stream_observers):
            for stream in connection.published.values():
                observer.stream_published(stream)
        try:
            await connection.negotiate()
        except BaseException:
            if self._connections.get(participant_id) is connection:
                await self.remove_participant(participant_id)
            raise
        if can_publish:
            await self._renegotiate_all(others)

    async def apply_answer(self, participant_id: str, sdp: str) -> None:
        """Apply a client's SDP answer (raises ``InvalidAnswer`` / ``NoOfferPending``)."""
        await self.connection(participant_id).apply_answer(sdp)

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        *,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """Add a client's trickled ICE candidate; ``None`` signals end of candidates.

        Optional: the server's offers already carry all its candidates, and a client that
        waits for gathering to complete puts its own candidates in the answer.
        """
        await self.connection(participant_id).add_ice_candidate(candidate, sdp_mid, sdp_mline_index)

    async def remove_participant(self, participant_id: str) -> None:
        """Tear down the participant's media; others stop receiving its streams.

        Removing a participant that has no media is a no-op (leave and kick may race).
        """
        connection = self._connections.pop(participant_id, None)
        if connection is None:
            return
        self._speakers.set_receive_video(participant_id, True)
        to_stop = {other: other.unsubscribe(participant_id) for other in self._connections.values()}
        for observer in tuple(self._stream_observers):
            for stream in connection.published.values():
                observer.stream_unpublished(stream)
        # Shielded: a cancelled caller must not leave the connection half-closed.
        await asyncio.shield(connection.close())
        for other, transceivers in to_stop.items():
            await other.stop_transceivers(transceivers)
        if connection.can_publish:
            await self._renegotiate_all(list(to_stop))

    def set_muted(self, participant_id: str, muted: bool) -> None:
        """Server-side mute: stop (or resume) forwarding the participant's audio."""
        stream = self.connection(participant_id).published.get("audio")
        if stream is not None:
            stream.set_muted(muted)

    def set_receive_video(self, participant_id: str, receive_video: bool) -> None:
        """Audio-only mode: stop (or resume) forwarding video *to* a participant.

        Without video the participant also receives only the active speakers' audio
        (``ActiveSpeakers``): the rest would be silence at a weak link's expense.
        """
        connection = self.connection(participant_id)
        connection.set_receive_video(receive_video)
        self._speakers.set_receive_video(
            participant_id, receive_video and not connection.downlink.audio_only
        )

    def _downlink_video(self, participant_id: str, receiving: bool) -> None:
        # The allocation's last step: the participant's downlink cannot carry even the
        # speaker's lowest layer (or can again). Audio-only pages hear the active speakers.
        connection = self._connections.get(participant_id)
        if connection is None:
            return
        self._speakers.set_receive_video(participant_id, receiving and connection.receive_video)
        self._signal.receiving_video(participant_id, receiving)

    def quality(self, participant_id: str) -> ParticipantQuality:
        """Loss, jitter and RTT as reported by RTCP for the participant's streams."""
        connection = self.connection(participant_id)
        receiving = {
            (s.stream.participant_id, s.kind): dataclasses.replace(s.quality)
            for s in connection.subscriptions
        }
        publishing = {
            kind: stream.received_and_lost() for kind, stream in connection.published.items()
        }
        now = time.monotonic()
        uplink = [layer.statistics.recent_fraction_lost(now)
                  for stream in connection.published.values() for layer in stream.layers
                  if layer.statistics is not None and layer.active(now)]
        return ParticipantQuality(
            participant_id, receiving, publishing,
            uplink_loss=max(uplink) if uplink else None,
            downlink_loss=connection.downlink_loss(now),
            downlink_estimate_bps=connection.downlink.estimate,
            downlink_audio_only=connection.downlink.audio_only,
        )

    def set_view(self, participant_id: str, tiles: dict[str, TileView], *, hidden: bool) -> None:
        """What the participant's page shows (adaptive subscription): the allocation sends
        no layer above a tile's size and nothing for tiles that cannot be seen."""
        self.connection(participant_id).downlink.set_view(tiles, hidden=hidden)

    def metrics(self) -> HearingMetrics:
        """A snapshot of every participant's counters (render with ``render_prometheus``)."""
        return HearingMetrics(
            self.hearing_id,
            tuple(
                dataclasses.replace(counters)
                for connection in self._connections.values()
                for counters in connection.counters.values()
            ),
        )

    async def close(self) -> None:
        """Close every connection; idempotent, and concurrent callers all wait for the end.

        The closing runs in a task of its own: a caller cancelled half-way (a page's
        session at server shutdown) must not leave half-closed connections and their
        sockets behind.
        """
        if self._closing is None:
            connections = list(self._connections.values())
            self._connections.clear()
            self._closing = asyncio.ensure_future(
                asyncio.gather(*(connection.close() for connection in connections))
            )
        await asyncio.shield(self._closing)

    async def _send_offer(self, participant_id: str, sdp: str, streams: StreamMap) -> None:
        await self._signal.send_offer(participant_id, sdp, streams)

    async def _renegotiate_all(self, connections: list[ParticipantConnection]) -> None:
        # One participant's signaling failure must not fail another participant's join/leave.
        results = await asyncio.gather(
            *(_guard(connection.renegotiate()) for connection in connections),
            return_exceptions=True,
        )
        for connection, result in zip(connections, results, strict=True):
            if isinstance(result, Exception):
                logger.warning("renegotiation with participant %s failed: %r",
                               connection.participant_id, result)


async def _guard(awaitable: Awaitable[None]) -> None:
    await awaitable

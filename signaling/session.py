"""One participant's signaling session: handshake, then messages until the page goes.

The session is written against ``Connection``, not a WebSocket library; the server adapts
its WebSocket to it and maps the typed error that ended the session to a close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from .errors import (
    HandshakeTimeout,
    InternalError,
    MessageTooLarge,
    ProtocolViolation,
    QashyqError,
    RateLimited,
    RemovedForFlooding,
    SlowClient,
)
from .hearing_room import HearingRoom
from .hearing_rooms import HearingRooms
from .message_rates import DEFAULT_MESSAGE_RATES, MessageRates, PageAllowance
from .model import Participant
from .protocol import (
    PROTOCOL_VERSION,
    ClientMessage,
    PageMessage,
    error_message,
    message_text,
    parse_client_message,
    pong_message,
    welcome_message,
)
from .room_member import PageClient, Seat

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
OUTBOX_LIMIT = 256
SEND_TIMEOUT_S = 10.0


class Connection(Protocol):
    """A message channel to one page (a WebSocket, adapted by the server)."""

    async def receive(self) -> str | bytes | None:
        """The next frame, or None once the page has gone; may raise ``MessageTooLarge``."""

    async def send(self, text: str) -> None:
        """Send one frame."""

    async def close(self, error: QashyqError | None) -> None:
        """Close, telling the page why (None: a normal close)."""

    def abort(self) -> None:
        """Drop the connection at once, for a page that reads nothing any more."""


_Close = object()


class ParticipantSession:
    """Drives one page from hello to close; implements the room's ``RoomMember``."""

    def __init__(
        self,
        connection: Connection,
        rooms: HearingRooms,
        ice_servers: list[dict[str, Any]] | Callable[[str], list[dict[str, Any]]] | None = None,
        heartbeat_s: float = 20.0,
        hello_timeout_s: float = HELLO_TIMEOUT_S,
        ice_transport_policy: str = "all",
        message_rates: MessageRates = DEFAULT_MESSAGE_RATES,
        client: PageClient | None = None,
    ) -> None:
        self._conn = connection
        self._client = client or PageClient()
        self._rooms = rooms
        # A callable gets the participant id: TURN credentials are issued per participant.
        self._ice_servers = ice_servers or []
        self._ice_transport_policy = ice_transport_policy
        self._heartbeat_s = heartbeat_s
        self._hello_timeout_s = hello_timeout_s
        self._outbox: asyncio.Queue[PageMessage | object] = asyncio.Queue(OUTBOX_LIMIT)
        self._participant: Participant | None = None
        self._room: HearingRoom | None = None
        self._end_error: QashyqError | None = None
        self._closing = False
        self._left = False  # the page said it leaves (no reconnection grace)
        self._allowance = PageAllowance(message_rates)

    @property
    def participant(self) -> Participant:
        """The participant, once the handshake has passed."""
        assert self._participant is not None
        return self._participant

    @property
    def client(self) -> PageClient:
        """Where the page connected from (``RoomMember``)."""
        return self._client

    # ---- RoomMember ----------------------------------------------------------------------

    def send(self, message: PageMessage) -> None:
        """Queue a message; a page that lets OUTBOX_LIMIT messages pile up is dropped."""
        if self._closing:
            return
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            # A page this far behind cannot read a close frame either: drop it now rather
            # than buffer without bound or wait for the send timeout.
            self._closing = True
            self._end_error = SlowClient("the connection could not keep up and was closed")
            self._conn.abort()

    def terminate(self, error: QashyqError) -> None:
        """Send the error frame after what is queued, then close with the error's code."""
        if self._closing:
            return
        self._closing = True
        self._end_error = error
        self._put_close(error_message(error, fatal=True))

    def _put_close(self, *frames: PageMessage) -> None:
        if self._outbox.qsize() > OUTBOX_LIMIT - 1 - len(frames):
            # The page is not reading; what it has not read is dropped so the reason fits.
            while not self._outbox.empty():
                self._outbox.get_nowait()
        for frame in frames:
            self._outbox.put_nowait(frame)
        self._outbox.put_nowait(_Close)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the page until it leaves or is closed; never raises for bad input."""
        writer = asyncio.create_task(self._write_loop(), name="session-writer")
        try:
            await self._serve()
        except QashyqError as error:
            self.terminate(error)
        except Exception:
            log.exception("signaling session failed")
            self.terminate(InternalError("the server failed; please rejoin"))
        finally:
            try:
                if self._room is not None and self._participant is not None:
                    await self._leave(self._room)
                self._closing = True
                # The writer stops at the first close marker; one more is harmless.
                self._put_close()
                # Let queued frames (the reason for a close above all) reach the page.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(writer, SEND_TIMEOUT_S + 1)
            finally:
                # Also when the server cancels the session half-way through leaving: the
                # writer belongs to this session and must not outlive it.
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
                await self._conn.close(self._end_error)

    async def _leave(self, room: HearingRoom) -> None:
        # Leaving runs to the end even if this task is cancelled meanwhile (a server that
        # cancels handlers when the peer's TCP closes, which a close frame causes): a half
        # done leave would keep the seat and never tell the others.
        leaving = asyncio.create_task(room.leave(self, voluntary=self._left))
        try:
            await asyncio.shield(leaving)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await leaving
            raise
        except Exception:  # leaving must not mask how the session ended
            log.exception("leaving hearing %s failed", room.hearing.id)

    async def _serve(self) -> None:
        hello = await self._receive_hello()
        hearing, participant = await self._rooms.admit_link(hello.fields["token"])
        self._participant = participant
        room = await self._rooms.room_for(hearing)
        seat = await room.join(self)
        self._room = room
        self.send(self._welcome(room, participant, seat))
        if seat is Seat.ADMITTED:
            await room.start_media(self)
        while not self._closing:
            frame = await self._conn.receive()
            if frame is None:
                return
            await self._handle_frame(room, frame)

    async def _receive_hello(self) -> ClientMessage:
        try:
            frame = await asyncio.wait_for(self._conn.receive(), self._hello_timeout_s)
        except TimeoutError:
            raise HandshakeTimeout(
                f"no hello within {self._hello_timeout_s:g} seconds"
            ) from None
        if frame is None:
            raise ProtocolViolation("the connection closed before hello")
        message = parse_client_message(frame)
        if message.type != "hello":
            raise ProtocolViolation("the first message must be hello")
        if message.fields["protocol"] != PROTOCOL_VERSION:
            raise ProtocolViolation(
                f"this server speaks protocol {PROTOCOL_VERSION}; reload the page",
                code="protocol_version",
            )
        return message

    def _welcome(self, room: HearingRoom, participant: Participant, seat: Seat) -> PageMessage:
        hearing = room.hearing
        return welcome_message(
            you={
                "id": participant.id,
                "display_name": participant.display_name,
                "role": participant.role.value,
                "state": seat.value,
            },
            hearing={
                **hearing.summary_json(),
                "max_video_kbps": hearing.max_video_kbps,
                "video_codec": hearing.video_codec.value,
                "state": room.state.value,
                "on_record": room.on_record,
            },
            permissions=room.permissions(participant),
            roster=room.roster(for_host=participant.role.is_host)
            if seat is Seat.ADMITTED
            else [],
            ice_servers=self._ice_servers(participant.id)
            if callable(self._ice_servers)
            else self._ice_servers,
            ice_transport_policy=self._ice_transport_policy,
            heartbeat_s=self._heartbeat_s,
        )

    async def _handle_frame(self, room: HearingRoom, frame: str | bytes) -> None:
        try:
            message = parse_client_message(frame)
            retry_after_s = self._allowance.take(message.type)
            if retry_after_s > 0:
                await self._refuse(room, message.type, retry_after_s)
                return
            await self._dispatch(room, message)
        except MessageTooLarge:
            raise
        except QashyqError as error:
            self.send(error_message(error, fatal=False))

    async def _refuse(self, room: HearingRoom, kind: str, retry_after_s: float) -> None:
        """Drop a message over its rate; a page that keeps on is removed from the hearing."""
        if not self._allowance.strike():
            raise RateLimited(kind, retry_after_s)
        log.warning("hearing %s: removing %s, who kept sending %s too fast",
                    room.hearing.id, self.participant.id, kind)
        await room.expel(self, RemovedForFlooding(
            "you sent more messages than the hearing allows and were removed; "
            "a host may admit you again"
        ), reason="flooding", message_type=kind)

    async def _dispatch(self, room: HearingRoom, message: ClientMessage) -> None:
        kind = message.type
        if kind == "ping":
            self.send(pong_message())
        elif kind == "hello":
            raise ProtocolViolation("hello was already received", code="bad_message")
        elif kind == "hand":
            await room.raise_hand(self, message.bool_field("raised"))
        elif kind == "chat":
            await room.chat(self, message.str_field("text"))
        elif kind == "media_state":
            await room.set_media_state(
                self, message.bool_field("audio"), message.bool_field("video")
            )
        elif kind == "answer":
            await room.apply_answer(self, message.str_field("sdp"))
        elif kind == "admit":
            await room.admit(self, message.str_field("participant_id"))
        elif kind == "deny":
            await room.deny(self, message.str_field("participant_id"))
        elif kind == "mute":
            await room.mute(self, message.str_field("participant_id"), message.bool_field("muted"))
        elif kind == "remove":
            await room.remove(self, message.str_field("participant_id"))
        elif kind == "end":
            await self._rooms.end(room.hearing.id, self)
        elif kind == "record":
            await room.set_record(self, message.bool_field("on"))
        elif kind == "leave":
            # The socket closes after the room has let the seat go (run's finally): closing
            # it first would let the server cancel this task half-way through leaving.
            self._left = True
            self._closing = True
        elif kind == "receive_video":
            await room.set_receive_video(self, message.bool_field("enabled"))
        elif kind == "quality":
            await room.report_quality(self, message.fields)
        elif kind == "view":
            room.set_view(self, message.fields["tiles"], message.bool_field("hidden"))

    async def _write_loop(self) -> None:
        """Send queued messages in order; closing the connection also ends the reader."""
        while True:
            item = await self._outbox.get()
            if item is _Close:
                await self._conn.close(self._end_error)
                return
            assert isinstance(item, dict)
            try:
                # A timeout scope, not wait_for: no task per frame, and a fan-out to a
                # thousand pages sends a thousand frames.
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await self._conn.send(message_text(item))
            except TimeoutError:
                self._closing = True
                self._end_error = SlowClient("the connection could not keep up and was closed")
                await self._conn.close(self._end_error)
                return

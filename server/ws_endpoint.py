"""``GET /ws``: the signaling WebSocket, adapted to ``signaling.session.Connection``."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from aiohttp import WSMsgType, web

from signaling.errors import MessageTooLarge, QashyqError
from signaling.protocol import MAX_MESSAGE_BYTES
from signaling.room_member import PageClient
from signaling.session import ParticipantSession

from .error_codes import ws_close_code
from .ice import ice_servers_for
from .state import app_state

# aiohttp refuses frames over this itself (close 1009); frames between the protocol's limit
# and this one get the protocol's 4413 with an explanation.
TRANSPORT_MAX_BYTES = 1024 * 1024
SEND_BUFFER_BYTES = 128 * 1024


class WebSocketConnection:
    """An aiohttp WebSocket as the session's ``Connection``."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self._ws = ws
        self._transport = transport

    async def receive(self) -> str | bytes | None:
        """The next text or binary frame; None once closed."""
        while True:
            msg = await self._ws.receive()
            if msg.type is WSMsgType.TEXT:
                text: str = msg.data
                if len(text.encode()) > MAX_MESSAGE_BYTES:
                    raise MessageTooLarge(
                        f"a message may be at most {MAX_MESSAGE_BYTES} bytes"
                    )
                return text
            if msg.type is WSMsgType.BINARY:
                data: bytes = msg.data
                return data
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                            WSMsgType.ERROR):
                return None

    async def send(self, text: str) -> None:
        """Send a text frame (a closed socket swallows it)."""
        if not self._ws.closed:
            with contextlib.suppress(ConnectionError):
                await self._ws.send_str(text)

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake."""
        if self._transport is not None:
            self._transport.abort()

    async def close(self, error: QashyqError | None) -> None:
        """Close with the error's code; the reason is its stable code (fits 123 bytes)."""
        if self._ws.closed:
            return
        reason = error.code if error is not None else ""
        if error is not None and "starts_at" in error.details:
            reason = f"{reason} {error.details['starts_at']}"
        await self._ws.close(code=ws_close_code(error), message=reason.encode()[:123])


async def signaling_socket(request: web.Request) -> web.StreamResponse:
    """Serve one participant page for as long as it stays."""
    state = app_state(request)
    ws = web.WebSocketResponse(
        heartbeat=state.settings.heartbeat_s, max_msg_size=TRANSPORT_MAX_BYTES
    )
    await ws.prepare(request)
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        # Signaling frames are small; a page that stops reading must not let the kernel
        # queue megabytes for it (Linux would autotune the buffer up to several MB).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    state.sockets.add(ws)
    try:
        session = ParticipantSession(
            WebSocketConnection(ws, request.transport),
            state.rooms,
            ice_servers=lambda pid: ice_servers_for(state.settings, pid),
            ice_transport_policy=state.settings.ice_transport_policy,
            heartbeat_s=state.settings.heartbeat_s,
            hello_timeout_s=state.settings.hello_timeout_s,
            message_rates=state.settings.message_rates,
            client=PageClient(request.remote, request.headers.get("User-Agent")),
        )
        await session.run()
    finally:
        state.sockets.discard(ws)
    return ws

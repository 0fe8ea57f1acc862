"""What the running application holds, under one ``web.AppKey``."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from signaling.audit import AuditTrail
from signaling.errors import NotFound
from signaling.hearing_rooms import HearingRooms
from signaling.model import Hearing
from signaling.store import HearingStore

from .config import Settings


@dataclass
class AppState:
    """The resources one server process owns; created and closed by ``cleanup_ctx``."""

    settings: Settings
    store: HearingStore
    audit: AuditTrail
    rooms: HearingRooms
    sockets: set[web.WebSocketResponse]


STATE_KEY = web.AppKey("qashyq_state", AppState)


def app_state(request: web.Request) -> AppState:
    """The application's state, from a request."""
    return request.app[STATE_KEY]


async def stored_hearing(state: AppState, hearing_id: str) -> Hearing:
    """The hearing a request names; ``NotFound`` if there is none."""
    hearing = await state.store.get_hearing(hearing_id)
    if hearing is None:
        raise NotFound("no such hearing")
    return hearing

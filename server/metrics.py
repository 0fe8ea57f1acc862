"""``GET /metrics``: Prometheus text format, for the court's IT monitoring."""

from __future__ import annotations

from aiohttp import web

from media import render_prometheus

from .auth_failures import AUTH_FAILURES_KEY
from .state import app_state


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Live hearings and connections on this node (media counters join them)."""
    state = app_state(request)
    rooms = state.rooms.live_rooms()
    lines = [
        "# HELP qashyq_live_hearings Hearings with a room on this node.",
        "# TYPE qashyq_live_hearings gauge",
        f"qashyq_live_hearings {len(rooms)}",
        "# HELP qashyq_connected_participants Participant pages connected to this node.",
        "# TYPE qashyq_connected_participants gauge",
        f"qashyq_connected_participants {sum(len(r.connected_ids()) for r in rooms)}",
        "# HELP qashyq_lobby_participants Participants waiting in a lobby on this node.",
        "# TYPE qashyq_lobby_participants gauge",
        f"qashyq_lobby_participants {sum(len(r.lobby_ids()) for r in rooms)}",
        *request.app[AUTH_FAILURES_KEY].prometheus(),
    ]
    media = [room.media.metrics() for room in rooms if room.media is not None]
    text = "\n".join(lines) + "\n" + render_prometheus(media)
    return web.Response(text=text, content_type="text/plain",
                        charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})

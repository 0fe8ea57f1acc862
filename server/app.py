"""The composition root: builds the aiohttp application and wires every part together."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler

from media import HearingMedia, MediaSignal
from signaling.audit import AuditTrail
from signaling.errors import (
    InternalError,
    NotAuthenticated,
    NotFound,
    QashyqError,
    RequestTooLarge,
)
from signaling.hearing_rooms import HearingRooms, MediaFactory, RoomMedia
from signaling.links import LinkPolicy, LinkSigner
from signaling.model import Hearing, utc_now
from signaling.retention import RetentionRule
from signaling.store_opening import open_store

from . import admin_api, legal_hold_api, recording_api, stations_api
from .admin_tokens import ADMIN_TOKEN_KEY, check_bearer
from .auth_failures import AUTH_FAILURES_KEY, AuthFailures
from .config import Settings
from .error_codes import http_status
from .ice import sfu_ice_servers
from .metrics import metrics_endpoint
from .pages import SECURITY_HEADERS, add_page_routes
from .recordings import RECORDINGS_KEY, RecordingService
from .retention_sweep import RETENTION_KEY, RetentionSweep
from .route_access import Access, access, required_access
from .state import STATE_KEY, AppState
from .ws_endpoint import signaling_socket

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"


def _error_response(error: QashyqError) -> web.Response:
    return web.json_response(error.to_json(), status=http_status(error))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API error is JSON with a stable ``code``; pages keep aiohttp's plain errors."""
    try:
        return await handler(request)
    except QashyqError as error:
        return _error_response(error)
    except web.HTTPRequestEntityTooLarge:
        return _error_response(RequestTooLarge("the request body is too large"))
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        if exc.status == 404:
            return _error_response(NotFound("no such API endpoint"))
        return web.json_response(
            {"code": f"http_{exc.status}", "message": exc.reason}, status=exc.status
        )
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        if request.path.startswith("/api/"):
            return _error_response(InternalError("the server failed; the error is logged"))
        raise


@web.middleware
async def admin_auth_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Check the credential the matched route asks for (``server.route_access``): an admin
    token for the admin API and ``/metrics``, a station credential for ``/api/station/*``.

    The admin token is remembered on the request: its name is the audit actor. Failed admin
    authentications are counted and logged (``server.auth_failures``).
    """
    needed = required_access(request)
    if needed is Access.ADMIN:
        try:
            request[ADMIN_TOKEN_KEY] = await check_bearer(
                request.app[STATE_KEY].store, request.headers.get("Authorization"))
        except NotAuthenticated as error:
            request.app[AUTH_FAILURES_KEY].note(error.code, request.remote)
            raise
    elif needed is Access.STATION:
        await stations_api.authenticate_station(request)
    return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/") or request.path == "/metrics":
        response.headers.setdefault("Cache-Control", "no-store")


@access(Access.PUBLIC)
async def openapi_document(request: web.Request) -> web.Response:
    """The admin API's OpenAPI 3.1 description."""
    return web.json_response(json.loads(OPENAPI_PATH.read_text()))


def create_app(
    settings: Settings, clock: Callable[[], datetime] = utc_now, *, media: bool = True
) -> web.Application:
    """The aiohttp application for these settings; resources open on startup.

    ``clock`` is the retention sweep's (a test moves it forward by months). ``media=False``
    runs signaling without the SFU (and so without recording): the load bench measures what
    a page costs the signaling alone.
    """
    app = web.Application(
        middlewares=[error_middleware, admin_auth_middleware],
        client_max_size=settings.max_body_bytes,
    )

    async def resources(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(settings.data_dir, settings.redis_url)
        try:
            audit = AuditTrail(store)
            links = LinkSigner(
                await store.secret("link-signing"),
                LinkPolicy(
                    opens_before_start=timedelta(minutes=settings.link_opens_minutes),
                    closes_after_end=timedelta(minutes=settings.link_closes_minutes),
                ),
            )
            recordings = RecordingService(settings, store)
            await recordings.recover()
            rooms = HearingRooms(store, audit, links,
                                 media_factory=_media_factory(settings, recordings)
                                 if media else None,
                                 reconnect_grace_s=settings.reconnect_grace_s)
            await rooms.resume()
            app[STATE_KEY] = AppState(settings, store, audit, rooms, set())
            app[RECORDINGS_KEY] = recordings
            sweep = None
            if settings.retention_days is not None:
                sweep = RetentionSweep(RetentionRule(settings.retention_days), store, rooms,
                                       recordings, clock)
                app[RETENTION_KEY] = sweep
                sweep.start()
            yield
            if sweep is not None:
                await sweep.close()
            await rooms.close()
            await recordings.close()
        finally:
            await store.close()

    async def close_sockets(app: web.Application) -> None:
        for ws in list(app[STATE_KEY].sockets):
            # Pages reconnect by themselves and say why meanwhile; the seats are kept
            # (``LiveHearing``), so a restart brings everyone back where they sat.
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server_restarting")

    app[AUTH_FAILURES_KEY] = AuthFailures()
    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(close_sockets)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/api/openapi.json", openapi_document)
    app.router.add_get("/ws", signaling_socket)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/healthz", _health)
    app.router.add_routes(admin_api.routes)
    app.router.add_routes(legal_hold_api.routes)
    app.router.add_routes(stations_api.routes)
    app.router.add_routes(recording_api.routes)
    add_page_routes(app)
    return app


def _media_factory(settings: Settings, recordings: RecordingService) -> MediaFactory:
    def create(hearing: Hearing, signal: MediaSignal) -> RoomMedia:
        # Per hearing: the SFU's TURN credential is time-limited.
        media = HearingMedia(hearing.id, signal=signal, video_codec=hearing.video_codec,
                             ice_servers=sfu_ice_servers(settings),
                             max_video_kbps=hearing.max_video_kbps)
        return RoomMedia(media, recordings.recorder_for(hearing, media))

    return create


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})

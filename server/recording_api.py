"""Recordings over HTTP: the public key, the clerk's list, and audited downloads.

Downloads authenticate themselves (the admin middleware lets them through): an admin token,
or the link token of one of the hearing's clerks, as a bearer token. Every download enters
the hearing's audit timeline with who, what, and the manifest's hash. Only names from a
fixed list are served, so no path can leave the recording folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import shutil
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from aiohttp import hdrs, web
from multidict import CIMultiDict

from media.recording.folder import (
    COMPOSITE,
    MANIFEST,
    PUBLIC_KEY,
    TIMELINE,
    RecordingFolder,
    valid_hearing_id,
)
from media.recording.status import RecordingState, RecordingStatus
from signaling.errors import Conflict, Forbidden, LinkInvalid, NotAuthenticated, NotFound
from signaling.model import Role

from .admin_tokens import TOKEN_PREFIX, check_bearer
from .auth_failures import AUTH_FAILURES_KEY
from .bearer import bearer_credential
from .recordings import RECORDINGS_KEY, RecordingService
from .route_access import Access, access
from .state import app_state

routes = web.RouteTableDef()

KEYS_PATH = "/api/keys"
# The single files a browser may fetch (the composite plays with Range requests).
SINGLE_FILES = {
    COMPOSITE: "video/mp4",
    MANIFEST: "application/json",
    TIMELINE: "application/x-ndjson",
    PUBLIC_KEY: "application/x-pem-file",
}
_DOWNLOADABLE = (RecordingState.READY, RecordingState.FAILED, RecordingState.INCOMPLETE)
ZIP_CHUNKS = 8


def _service(request: web.Request) -> RecordingService:
    return request.app[RECORDINGS_KEY]


@routes.get(KEYS_PATH)
@access(Access.PUBLIC)
async def public_keys(request: web.Request) -> web.Response:
    """The public key recordings are signed with (no token needed)."""
    key = _service(request).key
    return web.json_response({"keys": [{
        "key_id": key.key_id,
        "algorithm": "Ed25519",
        "public_key_pem": key.public_pem().decode(),
    }]})


@routes.get("/api/recordings")
async def list_recordings(request: web.Request) -> web.Response:
    """Every recording on this node, with state, size, duration and verification."""
    recordings = await asyncio.to_thread(_service(request).all_recordings)
    return web.json_response({"recordings": [_public(r) for r in recordings]})


@routes.post("/api/recordings/{hearing_id}/verify")
async def verify_recording(request: web.Request) -> web.Response:
    """Check every hash, chain and the signature again."""
    folder = _finished_folder(_service(request), request.match_info["hearing_id"])
    report = await asyncio.to_thread(_service(request).reverify, folder.hearing_id)
    return web.json_response(report.to_json())


def _public(status: RecordingStatus) -> dict[str, Any]:
    keep = ("hearing_id", "case_number", "title", "state", "progress", "on_record",
            "size_bytes", "duration_s", "segments", "has_composite", "composite",
            "verification", "manifest_sha256", "error", "lost_open_segments", "updated_at")
    data = status.to_json()
    return {k: data[k] for k in keep}


def _finished_folder(service: RecordingService, hearing_id: str) -> RecordingFolder:
    if not valid_hearing_id(hearing_id):
        raise NotFound("no such recording")
    folder = service.folder(hearing_id)
    status = folder.status()
    if status is None:
        raise NotFound("no such recording")
    state = status.state
    if state not in _DOWNLOADABLE:
        raise Conflict(f"the recording is {state}; it can be downloaded once it is ready",
                       state=state)
    return folder


async def _authorize(request: web.Request, hearing_id: str) -> str:
    """The downloader: the admin token's name or the clerk's participant id."""
    state = app_state(request)
    header = request.headers.get("Authorization")
    token = bearer_credential(
        header, missing="sign in: send 'Authorization: Bearer <admin token or clerk link token>'"
    )
    if token.startswith(TOKEN_PREFIX):
        try:
            return (await check_bearer(state.store, header)).name
        except NotAuthenticated as error:
            request.app[AUTH_FAILURES_KEY].note(error.code, request.remote)
            raise
    claims = state.rooms.links.verify(token, _within_link_window(token))
    participant = await state.store.get_participant(claims.hearing_id, claims.participant_id)
    if participant is None or participant.link_id != claims.link_id or participant.revoked:
        raise NotAuthenticated("the link is not valid any more")
    if claims.hearing_id != hearing_id or participant.role is not Role.CLERK:
        raise Forbidden("only the court's clerks and admins may download a recording")
    return participant.id


def _within_link_window(token: str) -> datetime:
    # A clerk downloads the record long after the hearing, when the link no longer opens
    # the hearing itself; the signature, the store and revocation are still checked.
    try:
        nbf = jwt.decode(token, options={"verify_signature": False}).get("nbf")
        return datetime.fromtimestamp(int(str(nbf)), UTC)
    except (jwt.PyJWTError, TypeError, ValueError, OverflowError):
        raise LinkInvalid("the link is malformed") from None


def byte_range(request: web.Request) -> dict[str, int | None] | None:
    """The byte range a download serves, as the audit keeps it; None: the whole file.

    RFC 9110 §14.2: a Range in another unit than bytes is ignored, and so is one this
    server does not parse (several ranges, digits beyond reason, an end before the start).
    The audit keeps these figures, never the header's text: it is the caller's to write.
    """
    if hdrs.RANGE not in request.headers:
        return None
    try:
        served = request.http_range
    except ValueError:
        return None
    start, stop = served.start, served.stop
    if start is not None and start < 0:
        return {"suffix_length": -start}
    return {"first": start, "last": None if stop is None else stop - 1}


class _RecordFile(web.FileResponse):
    """A file of the record; a Range header the download ignores never reaches aiohttp,
    which would answer it with 416 instead of the whole file."""

    def __init__(self, path: Path, *, honour_range: bool, headers: dict[str, str]) -> None:
        super().__init__(path, headers=headers)
        self._honour_range = honour_range

    async def prepare(self, request: web.BaseRequest) -> Any:
        if not self._honour_range and hdrs.RANGE in request.headers:
            headers = CIMultiDict(request.headers)
            del headers[hdrs.RANGE]
            request = request.clone(headers=headers)
        return await super().prepare(request)


async def _audit_download(request: web.Request, folder: RecordingFolder, actor: str,
                          what: str, served: dict[str, int | None] | None = None) -> None:
    manifest = folder.path / MANIFEST
    digest = await asyncio.to_thread(_sha256, manifest)
    await app_state(request).audit.record(
        folder.hearing_id, "recording_downloaded", actor, what=what, manifest_sha256=digest,
        range=served,
    )


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@routes.get("/api/hearings/{hearing_id}/recording/{name}")
@access(Access.OWN_CHECK)  # admin or the hearing's clerk
async def download_file(request: web.Request) -> web.StreamResponse:
    """One file of the record; the composite supports Range so it plays in a browser."""
    hearing_id, name = request.match_info["hearing_id"], request.match_info["name"]
    actor = await _authorize(request, hearing_id)
    if name not in SINGLE_FILES:
        raise NotFound(f"no file {name[:60]!r} in a recording")
    folder = _finished_folder(_service(request), hearing_id)
    path = folder.path / name
    if not path.is_file():
        raise NotFound(f"this recording has no {name}")
    served = byte_range(request)
    await _audit_download(request, folder, actor, name, served)
    return _RecordFile(path, honour_range=served is not None, headers={
        "Content-Type": SINGLE_FILES[name],
        "Content-Disposition": f'inline; filename="{hearing_id}-{name}"',
        "Cache-Control": "no-store",
    })


@routes.get("/api/hearings/{hearing_id}/recording")
@access(Access.OWN_CHECK)  # admin or the hearing's clerk
async def download_zip(request: web.Request) -> web.StreamResponse:
    """The whole record as a zip, streamed as it is written (never held in memory)."""
    hearing_id = request.match_info["hearing_id"]
    actor = await _authorize(request, hearing_id)
    folder = _finished_folder(_service(request), hearing_id)
    files = [(p.relative_to(folder.path).as_posix(), p) for p in folder.record_files()]
    await _audit_download(request, folder, actor, "zip")
    response = web.StreamResponse(headers={
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="recording-{hearing_id}.zip"',
        "Cache-Control": "no-store",
    })
    await response.prepare(request)
    await _stream_zip(response, files)
    await response.write_eof()
    return response


class _Stopped(Exception):
    pass


class _QueueSink(io.RawIOBase):
    """A write-only, unseekable file that hands each chunk to the event loop (backpressure)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None],
                 stopped: threading.Event) -> None:
        self._loop = loop
        self._queue = queue
        self._stopped = stopped

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.put(chunk)
        return len(chunk)

    def put(self, item: bytes | None) -> None:
        if self._stopped.is_set():
            raise _Stopped
        asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop).result()


async def _stream_zip(response: web.StreamResponse, files: list[tuple[str, Path]]) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(ZIP_CHUNKS)
    stopped = threading.Event()
    sink = _QueueSink(loop, queue, stopped)

    def produce() -> None:
        try:
            # Stored, not deflated: media does not compress, and it keeps the CPU free.
            with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
                for name, path in files:
                    with path.open("rb") as src, archive.open(name, "w", force_zip64=True) as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        finally:
            with contextlib.suppress(_Stopped):
                sink.put(None)

    producer = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        while (chunk := await queue.get()) is not None:
            await response.write(chunk)
    finally:
        stopped.set()
        while not producer.done():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.wait({producer}, timeout=0.05)
        with contextlib.suppress(_Stopped):
            await producer

"""The messages of the signaling protocol (``docs/protocol.md``), both ways, in one place.

Client messages are parsed and validated against ``_SCHEMA``; parsing never raises anything
but ``ProtocolViolation`` or ``MessageTooLarge``, so a malformed frame can be answered with an
error instead of ending the session. Server messages are built only by the functions at the
end of this module, so each has one shape, written next to the document that describes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from media import RecorderFault, StreamMap

from .errors import MessageTooLarge, ProtocolViolation, QashyqError
from .json_input import load_json
from .model import Participant

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
MAX_CHAT_CHARS = 2000
MAX_SDP_CHARS = 60 * 1024
# Bounds of the numbers a page reports in ``quality`` (percent, milliseconds, kbit/s).
MAX_LOSS_PCT = 100
MAX_RTT_MS = 60_000
MAX_KBPS = 1_000_000
# What a page may say it shows (``view``): tiles, and their size in pixels.
MAX_TILES = 64
MAX_TILE_PIXELS = 8192


@dataclass(frozen=True)
class ClientMessage:
    """A validated message from a participant's page."""

    type: str
    fields: dict[str, Any]

    def str_field(self, name: str) -> str:
        """A field that the schema guarantees is a string."""
        value = self.fields[name]
        assert isinstance(value, str)
        return value

    def bool_field(self, name: str) -> bool:
        """A field that the schema guarantees is a boolean."""
        value = self.fields[name]
        assert isinstance(value, bool)
        return value


# type -> {field: (python type, max length for strings)}; float means any JSON number
# from 0 to the given maximum, dict the tiles of a ``view`` (at most that many).
_SCHEMA: dict[str, dict[str, tuple[type, int]]] = {
    "hello": {"token": (str, 4096), "protocol": (int, 0)},
    "ping": {},
    "hand": {"raised": (bool, 0)},
    "chat": {"text": (str, MAX_CHAT_CHARS)},
    "media_state": {"audio": (bool, 0), "video": (bool, 0)},
    "answer": {"sdp": (str, MAX_SDP_CHARS)},
    "admit": {"participant_id": (str, 64)},
    "deny": {"participant_id": (str, 64)},
    "mute": {"participant_id": (str, 64), "muted": (bool, 0)},
    "remove": {"participant_id": (str, 64)},
    "end": {},
    "record": {"on": (bool, 0)},
    "leave": {},
    "receive_video": {"enabled": (bool, 0)},
    "quality": {
        "loss_pct": (float, MAX_LOSS_PCT),
        "rtt_ms": (float, MAX_RTT_MS),
        "down_kbps": (float, MAX_KBPS),
        "up_kbps": (float, MAX_KBPS),
        "concealed_pct": (float, MAX_LOSS_PCT),
    },
    "view": {"tiles": (dict, MAX_TILES), "hidden": (bool, 0)},
}
# Fields a message may leave out.
_OPTIONAL = frozenset({("quality", "concealed_pct")})

MESSAGE_TYPES = frozenset(_SCHEMA)


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one frame; raise ``ProtocolViolation`` naming what is wrong."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"a message may be at most {MAX_MESSAGE_BYTES} bytes")
    if isinstance(text, bytes):
        raise ProtocolViolation("binary frames are not part of the protocol")
    data = load_json(text, what="the message", error=ProtocolViolation)
    if not isinstance(data, dict):
        raise ProtocolViolation("a message must be a JSON object", code="bad_message")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _SCHEMA:
        raise ProtocolViolation(f"unknown message type {str(kind)[:40]!r}", code="unknown_type")
    schema = _SCHEMA[kind]
    extra = set(data) - set(schema) - {"type"}
    if extra:
        raise ProtocolViolation(
            f"unknown field {sorted(extra)[0][:40]!r} in {kind}", code="bad_message"
        )
    fields: dict[str, Any] = {}
    for name, (expected, max_len) in schema.items():
        value = data.get(name)
        if value is None and (kind, name) in _OPTIONAL:
            continue
        if expected is dict:
            fields[name] = _tiles(kind, name, value, max_len)
            continue
        if expected is float:
            # NaN and infinities (which json accepts) fail the range check too.
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 <= value <= max_len
            ):
                raise ProtocolViolation(
                    f"{kind}.{name} must be a number from 0 to {max_len}", code="bad_message"
                )
            fields[name] = float(value)
            continue
        # bool is an int in Python; a protocol number must not be true/false.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ProtocolViolation(
                f"{kind}.{name} must be a {expected.__name__}", code="bad_message"
            )
        if isinstance(value, str) and not (0 < len(value) <= max_len):
            raise ProtocolViolation(
                f"{kind}.{name} must be 1 to {max_len} characters", code="bad_message"
            )
        fields[name] = value
    return ClientMessage(kind, fields)


def _tiles(kind: str, name: str, value: object, max_tiles: int) -> dict[str, dict[str, Any]]:
    # {participant id: {"visible": bool, "width": int, "height": int}}: what a page shows.
    if not isinstance(value, dict) or len(value) > max_tiles:
        raise ProtocolViolation(
            f"{kind}.{name} must be an object of at most {max_tiles} tiles", code="bad_message"
        )
    tiles: dict[str, dict[str, Any]] = {}
    for participant_id, tile in value.items():
        if not isinstance(participant_id, str) or not 0 < len(participant_id) <= 64:
            raise ProtocolViolation(f"{kind}.{name}: a tile must name a participant id",
                                    code="bad_message")
        if not isinstance(tile, dict) or set(tile) - {"visible", "width", "height"}:
            raise ProtocolViolation(
                f"{kind}.{name}.{participant_id[:40]} must be "
                "{\"visible\": bool, \"width\": int, \"height\": int}", code="bad_message")
        visible = tile.get("visible", True)
        width, height = tile.get("width", 0), tile.get("height", 0)
        if not isinstance(visible, bool) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_TILE_PIXELS
            for v in (width, height)
        ):
            raise ProtocolViolation(
                f"{kind}.{name}.{participant_id[:40]}: visible is a boolean, width and height "
                f"whole numbers of pixels up to {MAX_TILE_PIXELS}", code="bad_message")
        tiles[participant_id] = {"visible": visible, "width": width, "height": height}
    return tiles


# ---- server -> page -----------------------------------------------------------------------

PageMessage = dict[str, Any]


class SharedMessage(dict[str, Any]):
    """A message sent to many pages as it is: serialised once, on the first page's send."""

    _text: str | None = None

    def to_text(self) -> str:
        """The frame's JSON; the message must not change after the first call."""
        if self._text is None:
            self._text = json.dumps(self, separators=(",", ":"))
        return self._text


def message_text(message: PageMessage) -> str:
    """The JSON text of a frame."""
    if isinstance(message, SharedMessage):
        return message.to_text()
    return json.dumps(message, separators=(",", ":"))


def welcome_message(
    *,
    you: dict[str, Any],
    hearing: dict[str, Any],
    permissions: list[str],
    roster: list[dict[str, Any]],
    ice_servers: list[dict[str, Any]],
    ice_transport_policy: str,
    heartbeat_s: float,
) -> PageMessage:
    """The first message after a good ``hello``: who you are, the hearing, how to connect."""
    return {
        "type": "welcome",
        "you": you,
        "hearing": hearing,
        "permissions": permissions,
        "roster": roster,
        "ice_servers": ice_servers,
        "ice_transport_policy": ice_transport_policy,
        "heartbeat_s": heartbeat_s,
    }


def error_message(error: QashyqError, *, fatal: bool) -> PageMessage:
    """Why a message was refused (``fatal`` False) or why the session ends (a close follows)."""
    return {"type": "error", "fatal": fatal, **error.to_json()}


def pong_message() -> PageMessage:
    """The answer to ``ping``."""
    return {"type": "pong"}


def roster_message(participants: list[dict[str, Any]]) -> PageMessage:
    """Everyone the page may see, whenever an entry changes."""
    return {"type": "roster", "participants": participants}


def roster_update_message(
    participants: list[dict[str, Any]], left: list[str]
) -> PageMessage:
    """What changed since the roster the page holds: new or changed entries, ids gone."""
    return SharedMessage(type="roster_update", participants=participants, left=left)


def admitted_message() -> PageMessage:
    """A host let the page in from the lobby; an offer follows."""
    return {"type": "admitted"}


def offer_message(sdp: str, streams: StreamMap) -> PageMessage:
    """The server's SDP offer and the stream on each of its m-lines."""
    return {"type": "offer", "sdp": sdp, "streams": streams}


def chat_message(
    *, sender_id: str, display_name: str, role: str, text: str, at: datetime
) -> PageMessage:
    """A chat message, to every admitted page (the sender's too)."""
    return SharedMessage(
        type="chat",
        **{"from": sender_id},
        display_name=display_name,
        role=role,
        text=text,
        at=at.isoformat(),
    )


def muted_message(muted: bool, by: str) -> PageMessage:
    """A host muted or unmuted this page's participant at the server."""
    return {"type": "muted", "muted": muted, "by": by}


def record_message(on: bool, by: str) -> PageMessage:
    """A host put the hearing on or off the record."""
    return {"type": "record", "on": on, "by": by}


def recorder_alert_message(
    fault: RecorderFault, *, resolved: bool, offset_s: float | None
) -> PageMessage:
    """To hosts: the record is losing media (``resolved`` False), or records again."""
    return {
        "type": "recorder_alert",
        "track": fault.track,
        "participant_id": fault.participant_id,
        "kind": fault.kind,
        "reason": "recording again" if resolved else fault.reason,
        "resolved": resolved,
        "offset_s": offset_s,
    }


def downlink_message(*, audio_only: bool) -> PageMessage:
    """The page's downlink cannot carry video now (``audio_only``), or can again."""
    return {"type": "downlink", "audio_only": audio_only}


def participation_alert_message(
    participant_id: str, display_name: str, role: str, reason: str, *,
    since: datetime | None, until: datetime | None,
) -> PageMessage:
    """To hosts: a party who must follow the hearing cannot (``until`` None), or can again."""
    return {
        "type": "participation_alert",
        "participant_id": participant_id,
        "display_name": display_name,
        "role": role,
        "reason": reason,
        "since": None if since is None else since.isoformat(),
        "until": None if until is None else until.isoformat(),
        "resolved": until is not None,
    }


def page_replaced_message(participant: Participant) -> PageMessage:
    """To hosts: the participant's link was opened on another page, which took the seat."""
    return {
        "type": "page_replaced",
        "participant_id": participant.id,
        "display_name": participant.display_name,
        "role": participant.role.value,
    }


def ended_message() -> PageMessage:
    """The hearing ended; a 4410 close follows."""
    return {"type": "ended"}

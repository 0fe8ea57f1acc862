"""Client messages of the signaling protocol (``docs/protocol.md``), parsed and validated.

Parsing never raises anything but ``ProtocolViolation`` or ``MessageTooLarge``, so a
malformed frame can be answered with an error instead of ending the session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import MessageTooLarge, ProtocolViolation

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
MAX_CHAT_CHARS = 2000
MAX_SDP_CHARS = 60 * 1024
# Bounds of the numbers a page reports in ``quality`` (percent, milliseconds, kbit/s).
MAX_LOSS_PCT = 100
MAX_RTT_MS = 60_000
MAX_KBPS = 1_000_000


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
# from 0 to the given maximum.
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
    },
}

MESSAGE_TYPES = frozenset(_SCHEMA)


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one frame; raise ``ProtocolViolation`` naming what is wrong."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"a message may be at most {MAX_MESSAGE_BYTES} bytes")
    if isinstance(text, bytes):
        raise ProtocolViolation("binary frames are not part of the protocol")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolViolation("the message is not valid JSON", code="bad_json") from exc
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

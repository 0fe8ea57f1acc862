"""The inputs ``bench.fuzz`` throws at a server: HTTP requests byte for byte, WebSocket frames.

Generated from a seeded ``random.Random``, so a run can be repeated exactly. Requests are
raw bytes, not an HTTP library's: the point is to send what libraries refuse to (non-ASCII
header bytes, invalid UTF-8, lone surrogates, numbers of thousands of digits).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

NASTY_TEXTS = (
    "\ud800", "\udfff", "a\ud800b", "\x00", "é", "", " ", "x" * 5000, "null", "🙂", "\u202e",
    "%00", "../../etc/passwd", "qe_s_x.aaaaaaaaaaaaaaaaaaaa", "qs_s_x.aaaaaaaaaaaaaaaaaaaa",
    "qa_x", "<script>", "Кабинет", "\r\n", "\\", "s_" + "a" * 300,
)
# JSON number literals as text: json.dumps cannot write some of them.
NASTY_NUMBERS = (
    "9" * 5000, "-" + "9" * 50, "9" * 41, "1e999", "-1e999", "NaN", "Infinity", "-Infinity",
    "0", "-1", "2147483648", "1.5", "1e-400", "64", "4000", "1440",
)
NASTY_DATES = (
    "9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+05:00", "2026-02-30T10:00:00+05:00",
    "2026-12-01T10:00:00", "tomorrow", "9999-12-31T23:59:59.999999-23:59", "1969-12-31T23:59Z",
    "2999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-23:59",
)
NASTY_PATH_SEGMENTS = (
    "%ED%A0%80", "%FF", "%00", "%2F", "..", "%2E%2E%2F%2E%2E", "a" * 5000, "%C3%A9", "h_x",
    "s_x", "p_x", "\u00e9", "%25", "%", "composite.mp4", "manifest.json",
)

# field -> a valid value, per body endpoint; one field at a time is spoiled.
HEARING_FIELDS = ("case_number", "title", "kind", "starts_at", "duration_minutes", "language",
                  "video_codec", "max_video_kbps")
MESSAGE_TYPES = ("hello", "ping", "hand", "chat", "media_state", "answer", "admit", "deny",
                 "mute", "remove", "record", "receive_video", "quality", "view")
MESSAGE_FIELDS = ("token", "protocol", "text", "sdp", "participant_id", "raised", "muted", "on",
                  "enabled", "hidden", "tiles", "audio", "video", "loss_pct", "rtt_ms",
                  "down_kbps", "up_kbps", "concealed_pct")


@dataclass(frozen=True)
class Target:
    """What the inputs may name: the server's address, credentials and real ids."""

    host: str
    port: int
    admin_token: str
    station_credential: str
    hearing_id: str
    participant_id: str
    judge_token: str


def json_text(rng: random.Random, depth: int = 0) -> str:
    """A JSON value as text, from plain to the shapes that once broke the server."""
    roll = rng.random()
    if depth >= 3 or roll < 0.55:
        kind = rng.randrange(6)
        if kind == 0:
            return rng.choice(("null", "true", "false"))
        if kind == 1:
            return rng.choice(NASTY_NUMBERS)
        if kind == 2:
            return str(rng.randint(-(10**12), 10**12))
        if kind == 3:
            return json.dumps(rng.choice(NASTY_TEXTS))  # escapes surrogates as \\udXXX
        if kind == 4:
            return json.dumps(rng.choice(NASTY_DATES))
        return json.dumps("".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(12))))
    if roll < 0.75:
        items = ", ".join(json_text(rng, depth + 1) for _ in range(rng.randrange(4)))
        return f"[{items}]"
    members = ", ".join(
        f"{json.dumps(rng.choice(NASTY_TEXTS + HEARING_FIELDS + MESSAGE_FIELDS))}: "
        f"{json_text(rng, depth + 1)}"
        for _ in range(rng.randrange(4))
    )
    return f"{{{members}}}"


def _object(fields: dict[str, str]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"


def _hearing_fields() -> dict[str, str]:
    starts = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    return {"case_number": '"FUZZ-1"', "title": '"Fuzz"', "kind": '"mediation"',
            "starts_at": json.dumps(starts), "duration_minutes": "60", "language": '"en"'}


def body(rng: random.Random, valid_fields: dict[str, str]) -> bytes:
    """A request body: a valid one with a field spoiled or added, or anything at all."""
    roll = rng.random()
    if roll < 0.5 and valid_fields:
        fields = dict(valid_fields)
        fields[rng.choice([*fields, *HEARING_FIELDS])] = json_text(rng)
        return _object(fields).encode("utf-8", "surrogatepass")
    if roll < 0.6:
        fields = dict(valid_fields)
        fields[rng.choice(NASTY_TEXTS)] = json_text(rng)
        return _object(fields).encode("utf-8", "surrogatepass")
    if roll < 0.8:
        return json_text(rng).encode("utf-8", "surrogatepass")
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:
        return b'{"title": "\xff\xfe", "code": "\xc3"}'
    if kind == 2:
        return b"[" * rng.choice((100, 1000, 5000, 50000))
    if kind == 3:
        return b""
    return b'{"title": "' + b"x" * 70_000 + b'"}'


def _request(method: str, path: str, headers: list[bytes], payload: bytes | None) -> bytes:
    head = [f"{method} {path} HTTP/1.1".encode("utf-8", "surrogateescape"), b"Host: qashyq"]
    head += headers
    if payload is not None:
        head.append(b"Content-Length: " + str(len(payload)).encode())
    head.append(b"Connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + (payload or b"")


def _bearer(token: str) -> bytes:
    return b"Authorization: Bearer " + token.encode()


def body_request(rng: random.Random, target: Target) -> bytes:
    """A JSON request to an endpoint that reads a body, with its credential."""
    hid, pid = target.hearing_id, target.participant_id
    endpoints: list[tuple[str, str, bytes | None, dict[str, str]]] = [
        ("POST", "/api/hearings", _bearer(target.admin_token), _hearing_fields()),
        ("POST", f"/api/hearings/{hid}/participants", _bearer(target.admin_token),
         {"display_name": '"Fuzz"', "role": '"observer"'}),
        ("POST", "/api/stations", _bearer(target.admin_token),
         {"name": '"Fuzz"', "facility": '"Fuzz"'}),
        ("POST", "/api/stations/enrol", None, {"code": '"qe_s_x.aaaaaaaaaaaaaaaaaaaaaaaa"'}),
        ("PUT", f"/api/hearings/{hid}/participants/{pid}/station", _bearer(target.admin_token),
         {"station_id": "null"}),
        ("POST", f"/api/station/hearings/{hid}/join", _bearer(target.station_credential), {}),
        ("PUT", f"/api/hearings/{hid}/legal-hold", _bearer(target.admin_token),
         {"reason": '"Appeal pending"'}),
    ]
    method, path, auth, valid = rng.choice(endpoints)
    headers = [b"Content-Type: application/json"] + ([auth] if auth else [])
    return _request(method, path, headers, body(rng, valid))


def _credential_variant(rng: random.Random, target: Target) -> bytes:
    real = rng.choice((target.admin_token, target.station_credential, target.judge_token))
    kind = rng.randrange(9)
    if kind == 0:
        return b"Bearer " + real.encode() + rng.choice((b"\xff", b"\xc3\xa9", b"\x80", b" x"))
    if kind == 1:
        return b"Bearer qs_s_\xff." + b"a" * 24
    if kind == 2:
        return b"Bearer " + rng.randbytes(rng.randrange(1, 80)).replace(b"\r", b"").replace(
            b"\n", b"")
    if kind == 3:
        return b"Basic " + real.encode()
    if kind == 4:
        return b"Bearer " + b"qa_" + b"a" * rng.choice((200, 5000))
    if kind == 5:
        return b"Bearer"
    if kind == 6:
        return b"bearer   " + real.encode()
    if kind == 7:
        return b"Bearer " + real[: rng.randrange(len(real))].encode()
    return b"Bearer " + json.dumps(rng.choice(NASTY_TEXTS)).encode()


def header_request(rng: random.Random, target: Target) -> bytes:
    """A request whose headers are the input: credentials, Range, content headers."""
    hid = target.hearing_id
    path = rng.choice(("/api/hearings", "/api/station/hearings", "/api/whoami", "/metrics",
                       f"/api/hearings/{hid}/recording/composite.mp4",
                       f"/api/hearings/{hid}/recording", f"/api/hearings/{hid}/events",
                       "/api/stations", "/api/recordings"))
    headers = [b"Authorization: " + _credential_variant(rng, target)]
    roll = rng.randrange(6)
    if roll == 0:
        headers.append(b"Range: " + rng.choice((b"items=0-5", b"bytes=0-1,5-9", b"bytes=9-0",
                                                b"bytes=" + b"9" * 5000 + b"-", b"bytes=\xff-",
                                                b"bytes=-0", b"bytes=0-99")))
    elif roll == 1:
        headers.append(b"Content-Type: " + rng.choice((b"text/plain", b"\xff/\xfe",
                                                       b"application/json; charset=utf-16")))
    elif roll == 2:
        headers.append(b"X-" + rng.randbytes(4).hex().encode() + b": " + rng.randbytes(20)
                       .replace(b"\r", b"").replace(b"\n", b""))
    elif roll == 3:
        headers.append(b"Accept-Encoding: " + b"gzip, " * rng.randrange(1, 2000))
    return _request("GET", path, headers, None)


def _segment(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(NASTY_PATH_SEGMENTS)
    return quote(rng.choice(NASTY_TEXTS).encode("utf-8", "surrogatepass"), safe="")[:300]


def path_request(rng: random.Random, target: Target) -> bytes:
    """A request whose path and query are the input, with a valid admin token."""
    template = rng.choice((
        "/api/hearings/{}", "/api/hearings/{}/participants/{}", "/api/hearings/{}/events",
        "/api/stations/{}", "/api/stations/{}/events", "/api/hearings/{}/recording/{}",
        "/api/hearings/{}/recording", "/api/recordings/{}/verify", "/api/station/hearings/{}/join",
        "/api/stations/{}/enrolment", "/api/hearings/{}/end", "/{}", "/api/{}", "/join/{}",
        "/api/hearings/{}/participants/{}/station",
    ))
    path = template.format(*(_segment(rng) for _ in range(template.count("{}"))))
    if rng.random() < 0.4:
        pairs = [f"{rng.choice(('from', 'to', 'x', '%FF'))}="
                 f"{quote(rng.choice(NASTY_DATES))}" for _ in range(rng.randrange(1, 3))]
        path += "?" + "&".join(pairs) + rng.choice(("", "%ED%A0%80", "&%FF=%FE"))
    method = rng.choice(("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"))
    credential = target.station_credential if "/api/station/" in path else target.admin_token
    payload = b"{}" if method in ("POST", "PUT", "PATCH") else None
    return _request(method, path, [_bearer(credential)], payload)


def ws_frame(rng: random.Random, target: Target, *, first: bool) -> str | bytes:
    """A WebSocket frame: before hello (``first``) a hello is likelier, after it any type."""
    if rng.random() < 0.1:
        return rng.randbytes(rng.randrange(1, 64))
    if rng.random() < 0.15:
        return body(rng, {}).decode("utf-8", "replace")
    kind = "hello" if first and rng.random() < 0.5 else rng.choice(MESSAGE_TYPES)
    fields: dict[str, str] = {"type": json.dumps(kind)}
    if kind == "hello":
        token = rng.choice((target.judge_token + "\ud800", target.judge_token[:-3],
                            "\ud800", "x.y.z", "a" * 5000, target.judge_token + "é"))
        fields["token"] = json.dumps(token)
        fields["protocol"] = rng.choice(("1", "9" * 5000, "true", "1.0", "null", "-1"))
    for _ in range(rng.randrange(4)):
        fields[rng.choice(MESSAGE_FIELDS)] = json_text(rng)
    return _object(fields)

"""Properties of every input a caller controls: whatever arrives, no 500, no traceback.

Hypothesis generates admin API bodies (whole bodies, and valid bodies with one field
replaced) and WebSocket frames (before hello, and after welcome); the server is the real
in-process one. The number of examples is bounded so the module runs in well under 30 s,
and no example database is written (no ``.hypothesis`` folder in the repository).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.config import Settings
from server.state import STATE_KEY
from signaling.errors import InvalidRequest
from signaling.json_input import load_json
from signaling.message_rates import MessageRates
from signaling.protocol import MESSAGE_TYPES, parse_client_message
from tests.fixtures.app_server import Api, hearing_body
from tests.fixtures.signaling_client import SignalingClient

pytestmark = pytest.mark.usefixtures("quiet_server_log")

# Inputs that once gave a 500: always tried (``@example``) before the generated ones.
HUGE_NUMBER = "9" * 5000
SURROGATE_HEARING = json.dumps(hearing_body(title="T")).replace('"T"', '"\\ud800"')


def bounded(examples: int) -> Any:
    """``examples`` runs of one property, on the project's profile
    (``tests/fixtures/hypothesis_profile.py``: no database, no deadline)."""
    return settings(max_examples=examples)


# Text with what broke the server before: lone surrogates, NUL, non-ASCII, long runs.
texts = st.text(
    st.characters(codec=None, categories=["L", "N", "P", "S", "Z", "C"]), max_size=40
) | st.sampled_from(["\ud800", "\udfff", "\x00", "é", " ", "qe_s_x.", "qs_s_x." + "a" * 20])
numbers = (
    st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 2**63, 10**40, 1e308, 5e-324])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda m: timezone(timedelta(minutes=m)))
dates = st.builds(
    lambda when, tz: when.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    offsets,
) | st.sampled_from(["9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+05:00",
                     "2026-02-30T10:00:00+05:00", "2026-12-01T10:00:00"])
# Raw body text: JSON with the shapes Python's json accepts beyond RFC 8259, or anything.
raw_bodies = (
    json_values.map(json.dumps)
    | st.integers(min_value=1, max_value=6000).map(lambda n: '{"code": ' + "9" * n + "}")
    | st.sampled_from(['{"x": NaN}', '{"x": -Infinity}', "[" * 3000, '{"a": "\\ud800"}'])
    | st.text(max_size=200)
)


# ---- pure parsers: many examples, no server --------------------------------------------


@bounded(400)
@given(raw_bodies)
def test_the_json_reader_accepts_or_refuses_with_bad_json(raw: str) -> None:
    try:
        data = load_json(raw, what="the body")
    except InvalidRequest as error:
        assert error.code == "bad_json" and error.message.startswith("the body")
        return
    # What it accepts every store and hash can encode.
    json.dumps(data, ensure_ascii=False).encode("utf-8")


@bounded(400)
@given(st.one_of(
    raw_bodies,
    st.builds(lambda kind, fields: json.dumps({"type": kind, **fields}),
              st.sampled_from(sorted(MESSAGE_TYPES)) | texts,
              st.dictionaries(st.sampled_from(["token", "protocol", "text", "sdp", "tiles",
                                               "participant_id", "raised", "loss_pct"]) | texts,
                              json_values, max_size=4)),
))
def test_every_frame_parses_or_is_a_typed_protocol_error(frame: str) -> None:
    try:
        message = parse_client_message(frame)
    except InvalidRequest as error:  # ProtocolViolation, or MessageTooLarge's parent below
        assert error.code in {"bad_json", "bad_message", "unknown_type", "protocol_error"}
        return
    json.dumps(message.fields, ensure_ascii=False).encode("utf-8")


# ---- the admin API --------------------------------------------------------------------------


async def _stored(api: Api) -> tuple[int, int, int]:
    store = api.http.app[STATE_KEY].store  # type: ignore[union-attr]
    hearings = await store.list_hearings()
    participants = sum([len(await store.list_participants(h.id)) for h in hearings])
    return len(hearings), len(await store.list_stations()), participants


async def _post(api: Api, method: str, path: str, body: str, *,
                token: bool = True) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **(api.auth if token else {})}
    async with api.http.request(method, api.url(path), data=body.encode("utf-8", "surrogatepass"),
                                headers=headers) as r:
        return r.status, await r.json(content_type=None)


def _refused_well(status: int, answer: Any) -> None:
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer, dict) and isinstance(answer.get("code"), str), answer
        assert isinstance(answer.get("message"), str) and answer["message"], answer


@pytest.fixture
async def witness(api: Api) -> dict[str, Any]:
    """A hearing's witness (the examples of one property share it)."""
    hearing = await api.create_hearing()
    return await api.invite(hearing["id"], "witness")


@pytest.fixture(name="settings")
def unlimited_settings(settings: Settings) -> Settings:
    """Message rates lifted: these properties are about what each frame does, and they send
    hundreds on one page (tests/test_message_rates.py covers the limits)."""
    return dataclasses.replace(settings, message_rates=MessageRates.unlimited())


@pytest.fixture
async def judge(api: Api) -> AsyncIterator[SignalingClient]:
    """A judge's page past welcome, in a hearing that has started."""
    hearing = await api.create_hearing(starts_at=datetime.now(UTC).isoformat())
    invited = await api.invite(hearing["id"], "judge")
    client = await SignalingClient.connect(api.http, api.url("/ws"), invited["token"])
    await client.expect("welcome")
    yield client
    await client.close()


@bounded(60)
@example(body='{"code": ' + HUGE_NUMBER + "}", target="enrol")
@example(body='{"code": "\\ud800"}', target="enrol")
@example(body=SURROGATE_HEARING, target="hearings")
@given(body=raw_bodies, target=st.sampled_from(["hearings", "participants", "stations",
                                                "enrol", "station", "legal hold"]))
async def test_any_body_on_any_admin_endpoint_is_answered_below_500(
    api: Api, witness: dict[str, Any], body: str, target: str
) -> None:
    hearing_id = witness["hearing_id"]
    method, path, token = {
        "hearings": ("POST", "/api/hearings", True),
        "participants": ("POST", f"/api/hearings/{hearing_id}/participants", True),
        "stations": ("POST", "/api/stations", True),
        "enrol": ("POST", "/api/stations/enrol", False),
        "station": ("PUT", f"/api/hearings/{hearing_id}/participants/{witness['id']}/station",
                    True),
        "legal hold": ("PUT", f"/api/hearings/{hearing_id}/legal-hold", True),
    }[target]
    before = await _stored(api)
    status, answer = await _post(api, method, path, body, token=token)
    _refused_well(status, answer)
    if status >= 400:
        assert await _stored(api) == before


@bounded(80)
@example(field="starts_at", value="9999-12-31T23:00:00+00:00")
@example(field="title", value="\ud800")
@example(field="case_number", value="2-\udfff")
@given(field=st.sampled_from(["case_number", "title", "kind", "starts_at", "duration_minutes",
                              "language", "video_codec", "max_video_kbps"]),
       value=json_values | dates)
async def test_a_hearing_with_any_one_field_changed_is_scheduled_or_refused_with_a_code(
    api: Api, field: str, value: Any
) -> None:
    before = await _stored(api)
    text = json.dumps(hearing_body(**{field: value}))
    status, answer = await _post(api, "POST", "/api/hearings", text)
    _refused_well(status, answer)
    assert status in (201, 400), answer
    if status == 400:
        assert answer["code"] == "bad_json" or answer["details"]["field"] == field, answer
        assert await _stored(api) == before


@pytest.fixture
async def station_credential(api: Api) -> str:
    """An enrolled workstation's credential (the examples of one property share it)."""
    status, station = await api.call("POST", "/api/stations",
                                     json={"name": "Кабинет 3", "facility": "СИЗО-1"})
    assert status == 201, station
    code = station["enrol_url"].split("#enrol=", 1)[1]
    async with api.http.post(api.url("/api/stations/enrol"), json={"code": code}) as r:
        assert r.status == 201
        credential: str = (await r.json())["credential"]
    return credential


@bounded(60)
@example(query={"from": "9999-12-31T23:00:00+00:00"}, listing="/api/station/hearings")
@example(query={"to": "9999-12-31T23:59:59-05:00"}, listing="/api/hearings")
@given(query=st.dictionaries(st.sampled_from(["from", "to"]) | texts, dates | texts,
                             max_size=2),
       listing=st.sampled_from(["/api/hearings", "/api/station/hearings"]))
async def test_any_listing_query_is_answered_below_500(
    api: Api, station_credential: str, query: dict[str, str], listing: str
) -> None:
    credential = api.token if listing == "/api/hearings" else station_credential
    async with api.http.get(api.url(listing), params=query,
                            headers={"Authorization": f"Bearer {credential}"}) as r:
        _refused_well(r.status, await r.json(content_type=None))


# ---- the WebSocket ------------------------------------------------------------------------

frames = st.one_of(
    raw_bodies,
    st.builds(lambda kind, fields: json.dumps({"type": kind, **fields}),
              st.sampled_from(sorted(MESSAGE_TYPES - {"end", "leave"})) | texts,
              st.dictionaries(st.sampled_from(["token", "protocol", "text", "sdp", "tiles",
                                               "participant_id", "raised", "muted", "on",
                                               "enabled", "hidden", "audio", "video",
                                               "loss_pct", "rtt_ms", "down_kbps", "up_kbps"])
                              | texts, json_values, max_size=5)),
)


@bounded(40)
@example(frame='{"type": "hello", "token": "\\ud800", "protocol": 1}')
@example(frame='{"type": "hello", "token": "x.y.z", "protocol": ' + HUGE_NUMBER + "}")
@given(frame=frames)
async def test_any_first_frame_closes_with_a_typed_code(api: Api, frame: str) -> None:
    client = await SignalingClient.connect(api.http, api.url("/ws"))
    await client.ws.send_str(frame)
    error = await client.expect("error")
    assert error["fatal"] is True and error["code"] != "internal_error", error
    assert await client.closed() in {4400, 4401, 4403, 4408, 4410, 4413}


@bounded(120)
@example(frame='{"type": "chat", "text": "\\ud800"}')
@given(frame=frames)
async def test_after_welcome_any_frame_leaves_the_session_working(
    judge: SignalingClient, frame: str
) -> None:
    await judge.ws.send_str(frame)
    # Frames are answered in order: the pong comes after whatever the frame caused.
    await judge.send({"type": "ping"})
    await judge.expect("pong")
    assert not [f for f in judge.frames if f.get("type") == "error" and f.get("fatal")]
    assert not [f for f in judge.frames if f.get("code") == "internal_error"]

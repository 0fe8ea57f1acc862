"""Bad input never gets a 500: each input that once did is refused with a stable code.

Every case here used to end in a 500 (or a 1011 close) and about 1.5 KB of traceback in the
server's log, from callers who need no credential. Now each gets a 400/401 (or the
protocol's typed error), nothing is stored, and the log has no ERROR line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from server.state import STATE_KEY
from tests.fixtures.app_server import Api, LiveServer, hearing_body
from tests.fixtures.polling import poll
from tests.fixtures.signaling_client import SignalingClient

HUGE_NUMBER = "9" * 5000
LONE_SURROGATE = '"\\ud800"'  # a JSON string escape that is no Unicode character


# Requested first, so it is torn down last: the server's shutdown is checked too.
pytestmark = pytest.mark.usefixtures("quiet_server_log")


async def post_raw(api: Api, path: str, body: str, *, token: bool = True) -> tuple[int, Any]:
    """POST ``body`` exactly as written (json.dumps could not write a lone surrogate)."""
    headers = {"Content-Type": "application/json", **(api.auth if token else {})}
    async with api.http.post(api.url(path), data=body.encode(), headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def raw_request(api: Api, head: bytes) -> tuple[int, dict[str, Any]]:
    """Send a request head byte for byte (aiohttp's client would refuse non-ASCII headers)."""
    server = api.http.server  # type: ignore[union-attr]
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head + b"Connection: close\r\n\r\n")
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = response.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'{{"code": {HUGE_NUMBER}}}', "code"),
        (f'{{"code": {LONE_SURROGATE}}}', "code"),
    ],
    ids=["5000-digit number", "lone surrogate"],
)
async def test_enrolment_with_unusable_json_is_a_400(api: Api, body: str, field: str) -> None:
    status, answer = await post_raw(api, "/api/stations/enrol", body, token=False)
    assert (status, answer["code"]) == (400, "bad_json"), answer
    assert "number" in answer["message"] or "surrogate" in answer["message"]


async def test_a_lone_surrogate_in_a_title_is_refused_and_nothing_is_stored(api: Api) -> None:
    text = json.dumps(hearing_body(title="PLACEHOLDER")).replace(
        '"PLACEHOLDER"', LONE_SURROGATE)
    status, answer = await post_raw(api, "/api/hearings", text)
    assert (status, answer["code"]) == (400, "bad_json"), answer
    assert "surrogate" in answer["message"]
    status, listed = await api.call("GET", "/api/hearings")
    assert (status, listed["hearings"]) == (200, [])


@pytest.mark.parametrize("starts_at", ["9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+05:00"])
async def test_a_start_at_the_end_of_the_calendar_is_refused(api: Api, starts_at: str) -> None:
    status, answer = await api.call("POST", "/api/hearings",
                                    json=hearing_body(starts_at=starts_at))
    assert (status, answer["code"], answer["details"]["field"]) == (
        400, "invalid_date", "starts_at"), answer
    status, listed = await api.call("GET", "/api/hearings?to=9999-12-31T23:59:59-05:00")
    assert (status, listed["code"]) == (400, "invalid_date"), listed
    status, listed = await api.call("GET", "/api/hearings")
    assert (status, listed["hearings"]) == (200, [])


@pytest.mark.parametrize(
    ("path", "credential"),
    [("/api/station/hearings", b"qs_s_\xff.aaaaaaaaaaaaaaaaaaaaaaaa"),
     ("/api/hearings", b"qa_\xff\xfe")],
    ids=["station API", "admin API"],
)
async def test_a_bearer_credential_with_non_ascii_bytes_is_a_401(
    api: Api, path: str, credential: bytes
) -> None:
    head = (f"GET {path} HTTP/1.1\r\nHost: qashyq\r\n".encode()
            + b"Authorization: Bearer " + credential + b"\r\n")
    status, answer = await raw_request(api, head)
    assert status == 401, answer
    assert answer["code"] in ("not_authenticated", "wrong_credential_kind"), answer
    assert "malformed" in answer["message"] or "credential" in answer["message"]


async def test_a_station_credential_with_non_ascii_bytes_of_a_real_station_is_a_401(
    api: Api,
) -> None:
    status, station = await api.call("POST", "/api/stations",
                                     json={"name": "Кабинет 3", "facility": "СИЗО-1"})
    assert status == 201
    code = station["enrol_url"].split("#enrol=", 1)[1]
    async with api.http.post(api.url("/api/stations/enrol"), json={"code": code}) as r:
        credential: str = (await r.json())["credential"]
    head = (b"GET /api/station/hearings HTTP/1.1\r\nHost: qashyq\r\nAuthorization: Bearer "
            + credential.encode()[:-1] + b"\xff\r\n")
    status, answer = await raw_request(api, head)
    assert (status, answer["code"]) == (401, "not_authenticated"), answer


@pytest.mark.parametrize(
    "hello",
    [
        '{"type": "hello", "token": ' + LONE_SURROGATE + ', "protocol": 1}',
        '{"type": "hello", "token": "x.y.z", "protocol": ' + HUGE_NUMBER + "}",
    ],
    ids=["surrogate token", "5000-digit protocol"],
)
async def test_a_hello_with_unusable_json_gets_the_protocols_typed_error(
    api: Api, hello: str
) -> None:
    client = await SignalingClient.connect(api.http, api.url("/ws"))
    await client.ws.send_str(hello)
    error = await client.expect("error")
    assert (error["code"], error["fatal"]) == ("bad_json", True), error
    assert await client.closed() == 4400


async def test_after_welcome_unusable_json_is_answered_and_the_session_goes_on(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await api.invite(hearing["id"], "judge")
    client = await SignalingClient.connect(api.http, api.url("/ws"), judge["token"])
    await client.expect("welcome")
    await client.ws.send_str('{"type": "chat", "text": ' + LONE_SURROGATE + "}")
    error = await client.expect("error")
    assert (error["code"], error["fatal"]) == ("bad_json", False), error
    await client.send({"type": "ping"})
    await client.expect("pong")
    await client.close()
    store = api.http.app[STATE_KEY].store  # type: ignore[union-attr]
    assert not [e for e in await store.list_events(hearing["id"]) if e.kind == "chat"]


async def test_a_malformed_http_request_is_one_info_line_in_a_real_servers_log(
    live_server: LiveServer,
) -> None:
    credential = live_server.admin_token.encode()
    malformed = [
        b"GET /api/hearings/\xc3\xa9 HTTP/1.1\r\n",  # a raw non-ASCII byte in the path
        b"GET /api/hearings HTTP/1.1\r\nX-Padding: " + b"gzip, " * 2000 + b"\r\n",
        b"GET /api/hearings HTTP/1.1\r\nAuthorization: Bearer " + credential + b"\x01\r\n",
    ]
    for head in malformed:
        reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
        writer.write(head + b"Host: qashyq\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        assert answer.split()[1] in (b"400", b"431"), answer[:200]

    def refusals() -> list[str]:
        return [line for line in live_server.log_text().splitlines()
                if "malformed HTTP request" in line]

    async def all_logged() -> bool:
        return len(refusals()) == len(malformed)

    await poll(all_logged, 10, "every refusal in the log")
    log = live_server.log_text()
    assert all(" INFO " in line for line in refusals()), refusals()
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]
    # The refused bytes (here: an admin token) never reach the log.
    assert live_server.admin_token not in log

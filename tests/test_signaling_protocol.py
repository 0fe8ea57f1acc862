"""The WebSocket protocol's edges: handshake, bad frames, size limits, role checks."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.config import Settings
from signaling.message_rates import DEFAULT_MESSAGE_RATES, MessageRate
from tests.fixtures.app_server import Api
from tests.fixtures.polling import poll
from tests.fixtures.signaling_client import SignalingClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A short hello timeout keeps the handshake test quick (the default is 10 s); chat is
    not rate-limited so that one judge can fill a page's outbox (test_message_rates.py
    covers the limits)."""
    return dataclasses.replace(
        settings, hello_timeout_s=1.0, heartbeat_s=1.0,
        message_rates=DEFAULT_MESSAGE_RATES.with_rate("chat", MessageRate(10**6, 10**6)),
    )


@pytest.fixture
async def judge(api: Api) -> AsyncIterator[tuple[SignalingClient, dict[str, Any]]]:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "judge")
    client = await SignalingClient.connect(api.http, api.url("/ws"), invited["token"])
    await client.expect("welcome")
    yield client, hearing
    await client.close()


async def test_no_hello_closes_after_the_timeout(api: Api) -> None:
    client = await SignalingClient.connect(api.http, api.url("/ws"))
    error = await client.expect("error", timeout=5)
    assert error["code"] == "handshake_timeout"
    assert await client.closed() == 4400


async def test_first_message_must_be_hello(api: Api) -> None:
    client = await SignalingClient.connect(api.http, api.url("/ws"))
    await client.send({"type": "chat", "text": "hi"})
    error = await client.expect("error")
    assert "hello" in error["message"]
    assert await client.closed() == 4400


async def test_wrong_protocol_version(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "judge")
    client = await SignalingClient.connect(api.http, api.url("/ws"), invited["token"], protocol=9)
    error = await client.expect("error")
    assert error["code"] == "protocol_version"
    assert await client.closed() == 4400


async def test_malformed_frames_do_not_end_the_session(
    judge: tuple[SignalingClient, dict[str, Any]],
) -> None:
    client, _ = judge
    bad_frames = ["{not json", "[]", '"hello"', '{"type": 5}', '{"type":"dance"}',
                  '{"type":"chat"}', '{"type":"chat","text":""}',
                  '{"type":"hand","raised":"y"}', '{"type":"chat","text":"x","extra":1}',
                  '{"type":"hello","token":"t","protocol":1}']
    for frame in bad_frames:
        await client.ws.send_str(frame)
        error = await client.expect("error")
        assert error["fatal"] is False, frame
        assert error["message"], frame
    await client.ws.send_bytes(b"\x00\x01")
    assert (await client.expect("error"))["fatal"] is False
    await client.send({"type": "ping"})
    await client.expect("pong")
    codes = [f["code"] for f in client.frames if f["type"] == "error"]
    assert codes[:5] == ["bad_json", "bad_message", "bad_message", "unknown_type", "unknown_type"]


async def test_oversized_message_closes_with_4413(
    judge: tuple[SignalingClient, dict[str, Any]],
) -> None:
    client, _ = judge
    await client.send({"type": "chat", "text": "x" * 70_000})
    error = await client.expect("error")
    assert error["code"] == "message_too_large"
    assert await client.closed() == 4413


async def test_non_host_cannot_moderate(api: Api) -> None:
    hearing = await api.create_hearing()
    judge_link = await api.invite(hearing["id"], "judge")
    lawyer_link = await api.invite(hearing["id"], "lawyer")
    witness_link = await api.invite(hearing["id"], "witness")
    judge = await SignalingClient.connect(api.http, api.url("/ws"), judge_link["token"])
    await judge.expect("welcome")
    lawyer = await SignalingClient.connect(api.http, api.url("/ws"), lawyer_link["token"])
    witness = await SignalingClient.connect(api.http, api.url("/ws"), witness_link["token"])
    await lawyer.expect("welcome")
    await witness.expect("welcome")
    await judge.send({"type": "admit", "participant_id": lawyer_link["id"]})
    await lawyer.expect("admitted")

    # An admitted lawyer tries every host action; each is refused and nothing changes.
    for attempt in [
        {"type": "admit", "participant_id": witness_link["id"]},
        {"type": "deny", "participant_id": witness_link["id"]},
        {"type": "mute", "participant_id": judge_link["id"], "muted": True},
        {"type": "remove", "participant_id": judge_link["id"]},
        {"type": "end"},
    ]:
        await lawyer.send(attempt)
        error = await lawyer.expect("error")
        assert (error["code"], error["fatal"]) == ("forbidden", False), attempt
        assert "lawyer" in error["message"]
    # Someone waiting in the lobby may not even chat.
    await witness.send({"type": "chat", "text": "let me in"})
    assert (await witness.expect("error"))["code"] == "forbidden"
    _, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
    states = {p["id"]: p["state"] for p in detail["participants"]}
    assert states == {judge_link["id"]: "admitted", lawyer_link["id"]: "admitted",
                      witness_link["id"]: "lobby"}
    assert detail["state"] == "open"
    for c in (judge, lawyer, witness):
        await c.close()


async def test_same_participant_from_a_second_page_replaces_the_first(api: Api) -> None:
    hearing = await api.create_hearing()
    link = await api.invite(hearing["id"], "judge")
    first = await SignalingClient.connect(api.http, api.url("/ws"), link["token"])
    await first.expect("welcome")
    second = await SignalingClient.connect(api.http, api.url("/ws"), link["token"])
    await second.expect("welcome")
    assert (await first.expect("error"))["code"] == "replaced"
    assert await first.closed() == 4409
    await second.send({"type": "ping"})
    await second.expect("pong")
    await second.close()


async def test_dead_page_is_detected_by_heartbeat(api: Api, settings: Settings) -> None:
    hearing = await api.create_hearing()
    judge_link = await api.invite(hearing["id"], "judge")
    # A page that stops answering pings, as a phone does when it loses its network.
    ws = await api.http.ws_connect(api.url("/ws"), autoping=False)
    await ws.send_json({"type": "hello", "token": judge_link["token"], "protocol": 1})
    assert (await ws.receive_json())["type"] == "welcome"

    async def noticed() -> bool:
        _, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
        return bool(detail["participants"][0]["state"] == "offline")

    await poll(noticed, settings.heartbeat_s * 4, "the dead page to be noticed", interval=0.2)
    await ws.close()


def _raw_websocket(host: str, port: int) -> socket.socket:
    """A WebSocket client with a tiny receive buffer that can stop reading at will."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert b" 101 " in response.split(b"\r\n")[0], response
    return sock


def _read_until_closed(sock: socket.socket, timeout: float) -> int:
    """Bytes read until the peer closes; fail if it stays open past ``timeout``."""
    sock.settimeout(timeout)
    total = 0
    try:
        while chunk := sock.recv(65536):
            total += len(chunk)
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError("the server kept the slow connection open") from None
    return total


def _masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 65536
    header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_slow_client_is_dropped_not_buffered(api: Api) -> None:
    hearing = await api.create_hearing()
    judge_link = await api.invite(hearing["id"], "judge")
    clerk_link = await api.invite(hearing["id"], "clerk")
    url = api.http.make_url("/ws")  # type: ignore[union-attr]
    assert url.host is not None and url.port is not None
    slow = await asyncio.to_thread(_raw_websocket, url.host, url.port)
    try:
        hello = {"type": "hello", "token": clerk_link["token"], "protocol": 1}
        slow.sendall(_masked_text_frame(json.dumps(hello)))
        # From here on the clerk's page reads nothing, like a phone frozen in a tunnel.
        judge = await SignalingClient.connect(api.http, api.url("/ws"), judge_link["token"])
        await judge.expect("welcome")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        sent = 0
        while True:
            _, detail = await api.call("GET", f"/api/hearings/{hearing['id']}")
            clerk = next(p for p in detail["participants"] if p["id"] == clerk_link["id"])
            if sent and clerk["state"] == "offline":
                break
            assert loop.time() < deadline, f"the slow page was never dropped ({sent} sent)"
            for _ in range(20):
                await judge.send({"type": "chat", "text": "ж" * 1000})
                sent += 1
            await judge.expect("chat", lambda m, n=sent: True)
        # The judge's page is unaffected and the server serves on.
        await judge.send({"type": "ping"})
        await judge.expect("pong")
        await judge.close()
        # The server closed the connection (EOF after what the kernel already held); what
        # it held for the page was bounded: the outbox (256 frames of ~2 KB), the event
        # loop's write buffer and a fixed kernel send buffer, about 1 MB in all.
        received = await asyncio.to_thread(_read_until_closed, slow, 20.0)
        assert 0 < received < 1_500_000, (received, sent)
    finally:
        slow.close()

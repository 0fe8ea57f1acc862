"""Participant links: every way a token can be wrong gets the right close code and reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt

from server.state import STATE_KEY
from signaling.links import LinkSigner
from tests.fixtures.app_server import Api
from tests.fixtures.signaling_client import SignalingClient


async def _join(api: Api, token: str) -> SignalingClient:
    return await SignalingClient.connect(api.http, api.url("/ws"), token)


async def _refused(api: Api, token: str) -> tuple[int, dict[str, object]]:
    client = await _join(api, token)
    error = await client.expect("error")
    assert error["fatal"] is True
    return await client.closed(), error


async def test_valid_link_gets_welcome(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await api.invite(hearing["id"], "judge", "Судья Ахметов")
    client = await _join(api, judge["token"])
    welcome = await client.expect("welcome")
    assert welcome["you"] == {"id": judge["id"], "display_name": "Судья Ахметов",
                              "role": "judge", "state": "admitted"}
    assert welcome["hearing"]["id"] == hearing["id"]
    assert welcome["hearing"]["state"] == "open"
    assert {"admit", "mute", "remove", "end"} <= set(welcome["permissions"])
    await client.close()


async def test_expired_link(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "witness")
    state = api.http.app[STATE_KEY]  # type: ignore[union-attr]
    claims = jwt.decode(invited["token"], options={"verify_signature": False})
    claims["exp"] = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
    secret = await state.store.secret("link-signing")
    code, error = await _refused(api, jwt.encode(claims, secret, algorithm="HS256"))
    assert (code, error["code"]) == (4401, "link_invalid")
    assert "expired" in str(error["message"])


async def test_too_early_names_the_start_time(api: Api) -> None:
    starts = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)
    hearing = await api.create_hearing(starts_at=starts.isoformat())
    invited = await api.invite(hearing["id"], "defendant")
    code, error = await _refused(api, invited["token"])
    assert (code, error["code"]) == (4408, "too_early")
    assert error["details"]["starts_at"] == starts.isoformat()  # type: ignore[index]
    assert "2027-06-01T10:00:00+00:00" in str(error["message"])


async def test_wrong_signature(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "witness")
    claims = jwt.decode(invited["token"], options={"verify_signature": False})
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    code, error = await _refused(api, forged)
    assert (code, error["code"]) == (4401, "link_invalid")
    assert "signature" in str(error["message"])


async def test_alg_none_is_refused(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "witness")
    claims = jwt.decode(invited["token"], options={"verify_signature": False})
    claims["role"] = "judge"

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    unsigned = ".".join([b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                         b64(json.dumps(claims).encode()), ""])
    code, error = await _refused(api, unsigned)
    assert (code, error["code"]) == (4401, "link_invalid")
    assert "algorithm" in str(error["message"])


async def test_another_hearings_link_does_not_open_this_one(api: Api) -> None:
    first = await api.create_hearing()
    second = await api.create_hearing(case_number="2-9/2026")
    invited = await api.invite(first["id"], "judge")
    state = api.http.app[STATE_KEY]  # type: ignore[union-attr]
    claims = jwt.decode(invited["token"], options={"verify_signature": False})
    claims["hid"] = second["id"]
    # Even signed with the server's own key, a participant of one hearing is not in another.
    retargeted = jwt.encode(claims, await state.store.secret("link-signing"), algorithm="HS256")
    code, error = await _refused(api, retargeted)
    assert (code, error["code"]) == (4401, "link_invalid")


async def test_role_in_the_token_must_match_the_participant(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "witness")
    state = api.http.app[STATE_KEY]  # type: ignore[union-attr]
    claims = jwt.decode(invited["token"], options={"verify_signature": False})
    claims["role"] = "judge"
    escalated = jwt.encode(claims, await state.store.secret("link-signing"), algorithm="HS256")
    code, _ = await _refused(api, escalated)
    assert code == 4401


async def test_revoked_link_and_live_page_closed(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await api.invite(hearing["id"], "judge")
    page = await _join(api, judge["token"])
    await page.expect("welcome")
    path = f"/api/hearings/{hearing['id']}/participants/{judge['id']}"
    status, _ = await api.call("DELETE", path)
    assert status == 200
    error = await page.expect("error")
    assert error["code"] == "link_revoked"
    assert await page.closed() == 4403
    code, error = await _refused(api, judge["token"])
    assert (code, error["code"]) == (4403, "link_revoked")


async def test_ended_hearing(api: Api) -> None:
    hearing = await api.create_hearing()
    invited = await api.invite(hearing["id"], "witness")
    await api.call("POST", f"/api/hearings/{hearing['id']}/end")
    code, error = await _refused(api, invited["token"])
    assert (code, error["code"]) == (4410, "hearing_ended")


async def test_garbage_tokens(api: Api) -> None:
    for token in ["", "abc", "a.b.c", "x" * 5000]:
        client = await SignalingClient.connect(api.http, api.url("/ws"))
        await client.send({"type": "hello", "token": token, "protocol": 1})
        error = await client.expect("error")
        assert error["code"] in {"link_invalid", "bad_message"}, token
        assert await client.closed() in {4401, 4400}


def test_signer_refuses_short_secrets() -> None:
    try:
        LinkSigner(b"short")
    except ValueError as exc:
        assert "32 bytes" in str(exc)
    else:
        raise AssertionError("a short secret was accepted")

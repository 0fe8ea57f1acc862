"""Mute, removal, observers and rejoining, as the other participants experience them."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from media import HearingMediaClosed, InvalidAnswer, NoOfferPending

from .conftest import Client, HearingFactory, all_frames, eventually

# One second of aiortc's 30 fps test video: the clock these tests use instead of sleeping.
ONE_SECOND_OF_VIDEO = 30


async def video_advances(client: Client, publisher_id: str, frames: int) -> None:
    target = client.frames_from(publisher_id, "video") + frames
    await eventually(
        lambda: client.frames_from(publisher_id, "video") >= target,
        what=f"{client.participant_id} sees {frames} more video frames of {publisher_id}",
    )


async def test_mute_stops_audio_but_not_video(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    await eventually(all_frames(judge, [party], 10), what="judge sees and hears the party")

    hearing.media.set_muted("party", True)
    await video_advances(judge, "party", ONE_SECOND_OF_VIDEO // 2)  # in-flight audio drains
    heard = judge.frames_from("party", "audio")
    forwarded = _counter(hearing, "judge", "audio", "out").packets
    published = _counter(hearing, "party", "audio", "in").packets
    await video_advances(judge, "party", ONE_SECOND_OF_VIDEO)

    assert judge.frames_from("party", "audio") == heard
    assert _counter(hearing, "judge", "audio", "out").packets == forwarded
    assert _counter(hearing, "party", "audio", "in").packets > published  # still sending

    hearing.media.set_muted("party", False)
    await eventually(
        lambda: judge.frames_from("party", "audio") > heard + 10, what="audio resumes on unmute"
    )


async def test_removed_participant_disappears_for_others(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    witness = await hearing.join("witness")
    await eventually(all_frames(judge, [party, witness], 10), what="judge receives both")
    await eventually(all_frames(witness, [party], 10), what="witness receives the party")

    await hearing.leave(party)

    for client in (judge, witness):
        await eventually(_tracks_ended(client, "party"), what="tracks of the party end")
        await eventually(_not_offered(client, "party"), what="an offer without the party")
    frozen = judge.frames_from("party", "video")
    await video_advances(judge, "witness", ONE_SECOND_OF_VIDEO)
    assert judge.frames_from("party", "video") == frozen
    assert "party" not in {c.participant_id for c in hearing.media.metrics().streams}


async def test_observer_cannot_publish(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    observer = await hearing.join("observer", publish=False)
    await eventually(all_frames(observer, [judge], 10), what="observer sees and hears the judge")

    # The observer's offer has nothing to publish on.
    assert all(info["role"] == "subscribe" for info in observer.streams.values())

    # A client that claims it will send anyway is refused.
    forged = observer.answer_sdps[-1].replace("a=recvonly", "a=sendrecv")
    await hearing.media.connection("observer").negotiate()
    with pytest.raises(InvalidAnswer):
        await hearing.media.apply_answer("observer", forged)

    # Raw RTP pushed through the observer's connection is dropped by the server.
    transport: Any = observer.pc.getTransceivers()[0].sender.transport
    for seq in range(50):
        packet = RtpPacket(
            payload_type=97, sequence_number=seq, timestamp=seq * 3000, ssrc=random.getrandbits(32)
        )
        packet.payload = b"\x10\x00\x9d\x01\x2a" + bytes(100)
        await transport._send_rtp(packet.serialize())
    await video_advances(observer, "judge", ONE_SECOND_OF_VIDEO)

    assert not judge.received, "the judge received a stream from the observer"
    assert all(info["participant_id"] != "observer" for info in judge.streams.values())
    directions = {(c.participant_id, c.direction) for c in hearing.media.metrics().streams}
    assert ("observer", "in") not in directions


async def test_leave_and_rejoin(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    await eventually(all_frames(judge, [party], 10), what="judge receives the party")

    await hearing.leave(party)
    await eventually(lambda: all(t.ended for t in judge.tracks("party")), what="party's tracks end")

    party_again = await hearing.join("party")
    await eventually(
        lambda: (
            any(not t.ended and t.frames >= 10 for t in judge.tracks("party", "video"))
            and any(not t.ended and t.frames >= 10 for t in judge.tracks("party", "audio"))
        ),
        what="judge receives the rejoined party's new streams",
    )
    await eventually(all_frames(party_again, [judge], 10), what="rejoined party receives judge")


async def test_answers_are_checked(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    await eventually(lambda: judge.offer_count == 1 and bool(judge.answer_sdps), what="answer")

    with pytest.raises(NoOfferPending):
        await hearing.media.apply_answer("judge", judge.answer_sdps[-1])
    await hearing.media.connection("judge").negotiate()
    with pytest.raises(InvalidAnswer):
        await hearing.media.apply_answer("judge", "this is not sdp")


def _tracks_ended(client: Client, participant_id: str) -> Callable[[], bool]:
    return lambda: all(t.ended for t in client.tracks(participant_id))


def _not_offered(client: Client, participant_id: str) -> Callable[[], bool]:
    return lambda: all(i["participant_id"] != participant_id for i in client.streams.values())


def _counter(hearing: Any, participant_id: str, kind: str, direction: str) -> Any:
    return next(
        c
        for c in hearing.media.metrics().streams
        if (c.participant_id, c.kind, c.direction) == (participant_id, kind, direction)
    )


async def test_close_is_idempotent_and_final(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    await eventually(lambda: bool(judge.answer_sdps), what="judge answered")

    await hearing.media.close()
    await hearing.media.close()

    assert hearing.media.participant_ids == ()
    with pytest.raises(HearingMediaClosed):
        await hearing.media.add_participant("party", can_publish=True)

"""Audio-only participants hear the active speakers only; everyone else hears everyone."""

from __future__ import annotations

from typing import Any

from aiortc import RTCPeerConnection

from tests.fixtures.voice import give_voice

from .conftest import Client, HearingFactory, all_frames, eventually

# Opus frames are 20 ms: the clock these tests use instead of sleeping.
ONE_SECOND_OF_AUDIO = 50


async def audio_advances(client: Client, publisher_id: str, frames: int) -> None:
    target = client.frames_from(publisher_id, "audio") + frames
    await eventually(
        lambda: client.frames_from(publisher_id, "audio") >= target,
        what=f"{client.participant_id} hears {frames} more audio frames of {publisher_id}",
    )


async def packets_lost(pc: RTCPeerConnection, stream_id: str) -> int:
    """Packets the receiver counts as lost on ``stream_id``'s audio (its own statistics)."""
    for transceiver in pc.getTransceivers():
        if transceiver.kind != "audio" or transceiver.receiver.track is None:
            continue
        for stats in (await transceiver.receiver.getStats()).values():
            if stats.type == "inbound-rtp" and transceiver.mid in _mids(pc, stream_id):
                return int(stats.packetsLost)
    raise AssertionError(f"no audio from {stream_id}")


def _mids(pc: RTCPeerConnection, stream_id: str) -> set[str]:
    sdp = pc.remoteDescription.sdp
    mids: set[str] = set()
    for section in sdp.split("m=")[1:]:
        lines = section.splitlines()
        mid = next((line[6:] for line in lines if line.startswith("a=mid:")), None)
        if mid and any(line.startswith(f"a=msid:{stream_id} ") for line in lines):
            mids.add(mid)
    return mids


async def test_audio_only_participant_hears_the_speaker_and_follows_a_new_one(
    make_hearing: HearingFactory,
) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    witness = await hearing.join("witness")
    lawyer = await hearing.join("lawyer")
    villager = await hearing.join("villager", publish=False)
    judge_voice = await give_voice(judge, speaking=True)
    witness_voice = await give_voice(witness, speaking=False)
    await give_voice(lawyer, speaking=False)
    await eventually(all_frames(villager, [judge, witness, lawyer], 10),
                     what="the villager sees and hears everyone")

    hearing.media.set_receive_video("villager", False)
    await eventually(lambda: hearing.media.active_speakers == ("judge",),
                     what="the judge is the only active speaker")
    await audio_advances(villager, "judge", ONE_SECOND_OF_AUDIO // 2)  # in-flight audio drains
    silent = {p: villager.frames_from(p, "audio") for p in ("witness", "lawyer")}
    await audio_advances(villager, "judge", ONE_SECOND_OF_AUDIO)
    assert {p: villager.frames_from(p, "audio") for p in silent} == silent

    # Nothing changes for a participant with video: the silent lawyer is still forwarded.
    await audio_advances(judge, "lawyer", ONE_SECOND_OF_AUDIO)
    await audio_advances(witness, "lawyer", ONE_SECOND_OF_AUDIO)

    # The witness starts answering; the judge listens.
    witness_voice.speaking = True
    judge_voice.speaking = False
    await audio_advances(villager, "witness", ONE_SECOND_OF_AUDIO)
    await eventually(lambda: hearing.media.active_speakers == ("witness",),
                     what="the judge's slot is released after the hold")
    await audio_advances(villager, "witness", ONE_SECOND_OF_AUDIO // 2)
    heard_judge = villager.frames_from("judge", "audio")
    await audio_advances(villager, "witness", ONE_SECOND_OF_AUDIO)
    assert villager.frames_from("judge", "audio") == heard_judge
    assert villager.frames_from("lawyer", "audio") == silent["lawyer"]
    # The witness's forwarding resumed gap-free: the villager's receiver counts no loss.
    assert await packets_lost(villager.pc, "witness") == 0

    # Video again: every publisher's audio again, speaking or not.
    hearing.media.set_receive_video("villager", True)
    await audio_advances(villager, "lawyer", ONE_SECOND_OF_AUDIO)
    await audio_advances(villager, "judge", ONE_SECOND_OF_AUDIO)


async def claim_loud(client: Client) -> None:
    """Make ``client`` a modified page: it sends aiortc's silence (3-byte Opus frames) but
    claims 0 dBov, the loudest level, in every packet's ssrc-audio-level."""

    def attached() -> bool:
        return any(t.sender.track is client.audio for t in client.pc.getTransceivers())

    await eventually(attached, what=f"{client.participant_id} publishes its microphone")
    sender = next(t.sender for t in client.pc.getTransceivers() if t.sender.track is client.audio)
    encoded = sender._next_encoded_frame

    async def loud(codec: Any) -> Any:
        frame = await encoded(codec)
        if frame is not None:
            frame.audio_level = 0
        return frame

    sender._next_encoded_frame = loud  # type: ignore[method-assign]


async def test_a_page_claiming_loud_silence_never_takes_a_speakers_slot(
    make_hearing: HearingFactory,
) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    claimer = await hearing.join("claimer")
    villager = await hearing.join("villager", publish=False)
    await give_voice(judge, speaking=True)
    await claim_loud(claimer)
    await eventually(all_frames(villager, [judge, claimer], 10),
                     what="the villager sees and hears both")

    hearing.media.set_receive_video("villager", False)
    await eventually(lambda: hearing.media.active_speakers == ("judge",),
                     what="the judge, who speaks, is the only active speaker")
    await audio_advances(villager, "judge", ONE_SECOND_OF_AUDIO // 2)  # in-flight audio drains
    heard_claimer = villager.frames_from("claimer", "audio")
    await audio_advances(villager, "judge", ONE_SECOND_OF_AUDIO * 2)
    assert hearing.media.active_speakers == ("judge",)
    assert villager.frames_from("claimer", "audio") == heard_claimer

"""A hearing longer than half the RTP sequence space: forwarding must not stall at the wrap."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.rtp import RtpPacket

from .conftest import HearingFactory, eventually

# An Opus packet of 20 ms of silence (TOC 0xf8: CELT FB 20 ms, one frame), decodable by aiortc.
OPUS_SILENCE = b"\xf8\xff\xfe"
# 50 packets/s of audio: 0x8000 packets are ~11 minutes of a hearing.
HALF_SEQUENCE_SPACE = 0x8000


class SilentMicrophone(MediaStreamTrack):
    """A microphone that never yields: the test writes the party's audio packets itself."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        return await self._never

    def stop(self) -> None:
        self._never.cancel()
        super().stop()


async def test_audio_still_reaches_others_after_the_sequence_half_wrap(
    make_hearing: HearingFactory,
) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    party.audio = SilentMicrophone()  # type: ignore[assignment]
    await eventually(
        lambda: judge.frames_from("party", "video") >= 5, what="judge sees the party"
    )
    stream = hearing.media.connection("party").published["audio"]
    out = hearing.media.connection("judge").counters[("audio", "out")]
    sent = 0

    async def speak(count: int, *, pace: float = 0.0) -> None:
        nonlocal sent
        for _ in range(count):
            await stream.receive(RtpPacket(
                payload_type=111, sequence_number=(1000 + sent) & 0xFFFF, timestamp=960 * sent,
                ssrc=0x5EED, payload=OPUS_SILENCE,
            ))
            sent += 1
            if pace or sent % 200 == 0:
                await asyncio.sleep(pace)  # yield, so the judge's socket is drained too

    # More than eleven minutes of the party's audio, as fast as the server takes it.
    await speak(HALF_SEQUENCE_SPACE + 1000)
    assert out.packets == sent, "the server stopped forwarding the party's audio"

    heard = judge.frames_from("party", "audio")
    speaking = asyncio.create_task(speak(10_000, pace=0.02))
    try:
        await eventually(
            lambda: judge.frames_from("party", "audio") > heard + 10,
            what="the judge still hears the party after eleven minutes",
        )
    finally:
        speaking.cancel()
        await asyncio.gather(speaking, return_exceptions=True)
    assert out.packets == sent

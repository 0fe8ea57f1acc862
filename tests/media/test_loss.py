"""Packet loss does not freeze video, and a late joiner sees video at once."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from aiortc.rtp import is_rtcp

from .conftest import Client, HearingFactory, eventually

LOSS = 0.05
LATE_JOIN_AFTER = 20.0


def drop_outgoing_rtp(client: Client, seed: int) -> None:
    """Lose 5% of the client's outgoing RTP (its uplink), on this client's transport only."""
    rng = random.Random(seed)
    transport: Any = client.pc.getTransceivers()[0].sender.transport
    send = transport._send_rtp

    async def lossy_send(data: bytes) -> None:
        if not is_rtcp(data) and rng.random() < LOSS:
            return
        await send(data)

    transport._send_rtp = lossy_send


def drop_incoming_rtp(client: Client, seed: int) -> None:
    """Lose 5% of the RTP reaching the client (its downlink), after SRTP."""
    rng = random.Random(seed)
    transport: Any = client.pc.getTransceivers()[0].receiver.transport
    handle = transport._handle_rtp_data

    async def lossy_handle(data: bytes, arrival_time_ms: int) -> None:
        if rng.random() < LOSS:
            return
        await handle(data, arrival_time_ms=arrival_time_ms)

    transport._handle_rtp_data = lossy_handle


async def test_lossy_links_keep_video_flowing_and_late_joiner_starts_fast(
    make_hearing: HearingFactory,
) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    await eventually(
        lambda: bool(party.pc.getTransceivers() and judge.pc.getTransceivers()),
        what="both clients have applied an offer",
    )
    drop_outgoing_rtp(party, seed=1)  # the server must recover these from the publisher
    drop_incoming_rtp(judge, seed=2)  # the server must answer these from its packet cache

    started = time.monotonic()
    await eventually(
        lambda: judge.frames_from("party", "video") > 0, what="judge sees the party's video"
    )
    await asyncio.sleep(max(0.0, LATE_JOIN_AFTER - (time.monotonic() - started)))

    witness = await hearing.join("witness")
    await eventually(
        lambda: witness.frames_from("party", "video") > 0 and witness.connected_at is not None,
        what="late witness decodes the party's video",
    )

    # No freeze: with 5% loss on the way in and 5% on the way out, NACKs repair the stream.
    (video,) = judge.tracks("party", "video")
    assert video.frames > 20 * LATE_JOIN_AFTER, video.frames
    assert video.max_gap() <= 1.0, f"video froze for {video.max_gap():.2f} s"

    # The newcomer's first frame came from a keyframe requested for it, not the next
    # periodic one (aiortc's encoder sends none unless asked).
    (late,) = witness.tracks("party", "video")
    assert witness.connected_at is not None
    assert late.frame_times[0] - witness.connected_at <= 1.0

    counters = {(c.participant_id, c.kind, c.direction): c for c in hearing.media.metrics().streams}
    assert counters[("party", "video", "in")].nacks_sent > 0  # asked the publisher again
    assert counters[("judge", "video", "out")].nacks_received > 0
    assert counters[("judge", "video", "out")].retransmissions > 0  # served from the cache

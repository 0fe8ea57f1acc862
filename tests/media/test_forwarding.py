"""Three participants through the SFU: everyone sees and hears everyone else, untranscoded."""

from __future__ import annotations

from typing import Any

from aiortc import RTCRtpReceiver

from media.aiortc_seam import receiver_decoder_started

from .conftest import HearingFactory, all_frames, eventually


async def test_three_participants_receive_each_other(make_hearing: HearingFactory) -> None:
    hearing = await make_hearing()
    judge = await hearing.join("judge")
    party = await hearing.join("party")
    witness = await hearing.join("witness")
    clients = [judge, party, witness]

    for client in clients:
        others = [c for c in clients if c is not client]
        await eventually(
            all_frames(client, others, 20),
            what=f"{client.participant_id} decodes audio and video of both others",
        )

    # Each remote track is labelled with its publisher: the mid map and the msid agree.
    for client in clients:
        for track in client.received:
            assert track.msid_stream_id == track.participant_id
            assert track.participant_id != client.participant_id

    # The server never decoded or encoded: its receivers never started aiortc's decoder
    # thread, and its senders never built an encoder (aiortc creates one lazily on the
    # first frame it is asked to send).
    for participant_id in hearing.media.participant_ids:
        pc = hearing.media.connection(participant_id).pc
        receivers: list[RTCRtpReceiver] = pc.getReceivers()
        senders: list[Any] = pc.getSenders()
        assert receivers and senders
        assert not any(receiver_decoder_started(r) for r in receivers)
        assert all(s._RTCRtpSender__encoder is None for s in senders)

    counters = {(c.participant_id, c.kind, c.direction): c for c in hearing.media.metrics().streams}
    for client in clients:
        assert counters[(client.participant_id, "video", "in")].packets > 0
        assert counters[(client.participant_id, "video", "out")].packets > 0

"""Media through the whole server: signaling, lobby, moderation and the SFU together."""

from __future__ import annotations

from media.aiortc_seam import receiver_decoder_started
from tests.fixtures.app_server import Api
from tests.fixtures.hearing_pages import admitted_page, hearing_media, joined_page
from tests.fixtures.polling import eventually


async def test_three_pages_see_and_hear_each_other_untranscoded(api: Api) -> None:
    hearing = await api.create_hearing()
    judge_link = await api.invite(hearing["id"], "judge")
    judge = await joined_page(api, judge_link)
    plaintiff = await admitted_page(api, judge, await api.invite(hearing["id"], "plaintiff"))
    defendant = await admitted_page(api, judge, await api.invite(hearing["id"], "defendant"))
    pages = [judge, plaintiff, defendant]
    try:
        for page in pages:
            for other in pages:
                if other is page:
                    continue
                for kind in ("audio", "video"):
                    await eventually(
                        lambda p=page, o=other, k=kind: p.media.frames_from(o.participant_id,
                                                                            k) >= 15,
                        what=f"{page.participant_id} decodes {kind} of {other.participant_id}",
                    )
        media = hearing_media(api, hearing["id"])
        for pid in media.participant_ids:
            pc = media.connection(pid).pc
            assert pc.getReceivers() and pc.getSenders()
            assert not any(receiver_decoder_started(r) for r in pc.getReceivers())
            assert all(s._RTCRtpSender__encoder is None for s in pc.getSenders())
        async with api.http.get(api.url("/metrics"), headers=api.auth) as r:
            text = await r.text()
        assert r.status == 200
        assert f'qashyq_media_packets_total{{hearing="{hearing["id"]}"' in text
    finally:
        for page in pages:
            await page.close()


async def test_mute_leave_and_rejoin_through_signaling(api: Api) -> None:
    hearing = await api.create_hearing()
    judge = await joined_page(api, await api.invite(hearing["id"], "judge"))
    witness_link = await api.invite(hearing["id"], "witness")
    witness = await admitted_page(api, judge, witness_link)
    observer_link = await api.invite(hearing["id"], "observer")
    observer = await admitted_page(api, judge, observer_link)
    lobby_link = await api.invite(hearing["id"], "lawyer")
    waiting = await joined_page(api, lobby_link)
    pages = [judge, witness, observer, waiting]
    try:
        await eventually(lambda: judge.media.frames_from(witness.participant_id, "audio") > 20,
                         what="the judge hears the witness")
        # The observer publishes nothing; the lobby gets no media at all.
        assert judge.media.tracks(observer.participant_id) == []
        assert waiting.media.offer_count == 0 and waiting.media.received == []

        await judge.signaling.send({"type": "mute", "participant_id": witness.participant_id,
                                    "muted": True})
        await witness.signaling.expect("muted")
        media = hearing_media(api, hearing["id"])

        def forwarded_audio() -> int:
            return sum(c.packets for c in media.metrics().streams
                       if c.participant_id == judge.participant_id and c.kind == "audio"
                       and c.direction == "out")

        before = forwarded_audio()
        video_before = judge.media.frames_from(witness.participant_id, "video")
        await eventually(lambda: judge.media.frames_from(witness.participant_id, "video")
                         > video_before + 30, what="video keeps flowing while muted")
        assert forwarded_audio() - before < 5, "audio still forwarded while muted"

        await witness.close()
        witness = await joined_page(api, witness_link)
        assert witness.signaling.frames[0]["you"]["state"] == "admitted"  # seat kept
        pages[1] = witness
        await eventually(lambda: sum(t.frames for t in judge.media.tracks(
            witness.participant_id, "video")) > 40, what="the judge sees the rejoined witness")
    finally:
        for page in pages:
            await page.close()

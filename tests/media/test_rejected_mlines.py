"""A page that rejects m-lines (Firefox without OpenH264 in an H.264 hearing) keeps its sound.

Firefox answers every video m-line it shares no codec with as rejected (port 0, no ICE or
DTLS attributes, a codec of its own); aiortc cannot read such a section. The server accepts
the answer, sends nothing on those m-lines, and keeps them rejected in later offers.
"""

from __future__ import annotations

import re

from aiortc.sdp import SessionDescription

from media.rejected_mlines import accept_rejected, keep_rejected, rejected_mids
from tests.fixtures.aiortc_page import Client

from .conftest import Hearing, HearingFactory, eventually


def _as_firefox_without_h264(answer: str) -> str:
    """The answer with every video m-line rejected the way Firefox 153 rejects them."""
    out: list[str] = []
    rejected: list[str] = []
    for section in re.split(r"(?=^m=)", answer, flags=re.M):
        if not section.startswith("m=video"):
            out.append(section)
            continue
        found = re.search(r"^a=mid:(\S+)", section, re.M)
        assert found is not None
        rejected.append(found.group(1))
        out.append(f"m=video 0 UDP/TLS/RTP/SAVPF 120\r\nc=IN IP4 0.0.0.0\r\na=inactive\r\n"
                   f"a=mid:{found.group(1)}\r\na=rtpmap:120 VP8/90000\r\n")

    def bundle(match: re.Match[str]) -> str:
        return " ".join(m for m in match.group(0).split(" ") if m not in rejected)

    return re.sub(r"^a=group:BUNDLE .*$", bundle, "".join(out), flags=re.M)


async def _join_rejecting_video(hearing: Hearing, participant_id: str) -> Client:
    async def send_answer(sdp: str) -> None:
        await hearing.media.apply_answer(participant_id, _as_firefox_without_h264(sdp))

    client = Client(participant_id, publish=True, send_answer=send_answer)
    hearing.hub.clients[participant_id] = client
    hearing.clients.append(client)
    await hearing.media.add_participant(participant_id, can_publish=True)
    return client


async def test_a_page_that_rejects_video_hears_and_is_heard(
    make_hearing: HearingFactory,
) -> None:
    hearing = await make_hearing(video_codec="h264")
    judge = await hearing.join("judge")
    party = await _join_rejecting_video(hearing, "party")
    await eventually(lambda: party.frames_from("judge", "audio") > 20,
                     what="the party hears the judge")
    await eventually(lambda: judge.frames_from("party", "audio") > 20,
                     what="the judge hears the party")
    assert party.frames_from("judge", "video") == 0

    # Someone else joins: the party's next offer keeps its video m-lines rejected (port 0,
    # out of BUNDLE) and adds the newcomer's; the party hears the newcomer too.
    offers = party.offer_count
    await hearing.join("lawyer")
    await eventually(lambda: party.offer_count > offers, what="a new offer to the party")
    await eventually(lambda: party.frames_from("lawyer", "audio") > 20,
                     what="the party hears the newcomer")
    offer = str(party.pc.remoteDescription.sdp)
    rejected = re.findall(r"^m=video 0 .*?^a=mid:(\S+)", offer, re.M | re.S)
    assert len(rejected) == 2, offer  # its camera's and the judge's
    bundle = re.search(r"^a=group:BUNDLE (.*)$", offer, re.M)
    assert bundle is not None and not set(rejected) & set(bundle.group(1).split())


_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n"
    "a=ice-ufrag:s\r\na=ice-pwd:server\r\na=rtpmap:96 opus/48000/2\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 97 98\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n"
    "a=ice-ufrag:s\r\na=ice-pwd:server\r\na=rtpmap:97 H264/90000\r\n"
    "a=fmtp:97 packetization-mode=1\r\na=rtcp-fb:97 nack\r\na=rtpmap:98 rtx/90000\r\n"
    "a=fmtp:98 apt=97\r\n"
)
_ANSWER = (
    "v=0\r\no=mozilla 2 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AA\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"
    "a=ice-pwd:page\r\na=ice-ufrag:p\r\na=mid:0\r\na=rtpmap:96 opus/48000/2\r\n"
    "a=setup:active\r\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 120\r\nc=IN IP4 0.0.0.0\r\na=inactive\r\na=mid:1\r\n"
    "a=rtpmap:120 VP8/90000\r\n"
)


def test_a_rejected_section_becomes_an_inactive_one_on_the_bundled_transport() -> None:
    assert rejected_mids(_ANSWER) == {"1"}
    accepted = accept_rejected(_ANSWER, _OFFER)
    video = accepted[accepted.index("m=video"):]
    assert video.startswith("m=video 9 UDP/TLS/RTP/SAVPF 97 98\r\n")
    for line in ("a=inactive", "a=mid:1", "a=ice-ufrag:p", "a=ice-pwd:page", "a=setup:active",
                 "a=rtpmap:97 H264/90000", "a=fmtp:98 apt=97", "a=rtcp-mux"):
        assert f"{line}\r\n" in video, line
    assert "VP8" not in video and "a=recvonly" not in video
    assert accepted.startswith(_ANSWER[:_ANSWER.index("m=video")])
    # aiortc reads it as an inactive m-line on the bundled transport.
    parsed = SessionDescription.parse(accepted).media[1]
    assert (parsed.direction, parsed.ice.usernameFragment) == ("inactive", "p")
    assert [c.mimeType for c in parsed.rtp.codecs] == ["video/H264", "video/rtx"]
    unchanged = _ANSWER.replace("m=video 0 ", "m=video 9 ")
    assert accept_rejected(unchanged, _OFFER) is unchanged
    assert rejected_mids(unchanged) == set()


def test_later_offers_keep_the_rejected_mline_rejected() -> None:
    offer = keep_rejected(_OFFER, {"1"})
    assert "a=group:BUNDLE 0\r\n" in offer
    video = offer[offer.index("m=video"):]
    assert video.startswith("m=video 0 UDP/TLS/RTP/SAVPF 97 98\r\n")
    assert "a=inactive\r\n" in video and "a=recvonly" not in video
    audio = offer[offer.index("m=audio"):offer.index("m=video")]
    assert audio == _OFFER[_OFFER.index("m=audio"):_OFFER.index("m=video")]
    assert keep_rejected(_OFFER, set()) is _OFFER

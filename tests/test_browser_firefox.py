"""Firefox pages in a hearing: Debian's firefox-esr (driven over WebDriver BiDi by npm's
puppeteer-core, ``tests/fixtures/firefox.py``) with a judge in Chromium (Playwright).

What a person would notice is asserted: the Firefox party is admitted from the lobby, each
side sees the other's video moving and hears the other's sound, and the judge's page says the
party's link is good. Underneath: Firefox answers the server's simulcast offer with its own
conventions (every layer's SSRC listed in the answer), the server still places each layer by
its rid, and the judge gets the layer its tile needs; Firefox numbers its packets for the
server's congestion feedback. Firefox without its OpenH264 plugin (it downloads it from Cisco
at run time, which a court network may not allow and this machine cannot) has no H.264: in an
H.264 hearing its page says so and takes part with sound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.aiortc_participant import AiortcParticipant
from tests.fixtures.app_server import Api
from tests.fixtures.browser import PageOpener, ScriptedPage, playing_remote_videos
from tests.fixtures.firefox import FirefoxBrowser, FirefoxPage
from tests.fixtures.hearing_pages import hearing_media
from tests.fixtures.page_rtc import RTC_INIT_SCRIPT
from tests.fixtures.polling import eventually, poll
from tests.fixtures.voice import give_voice

pytestmark = [pytest.mark.browser, pytest.mark.firefox]

# What a page receives from one participant (the tracks of that participant's tile), from
# its newest peer connection's getStats: the same fields in Chromium and Firefox.
_RECEIVED_FROM = """async (participantId) => {
  const video = document.querySelector(`video[data-participant-id="${participantId}"]`);
  const stream = video && video.srcObject;
  const pc = (window.__qashyqPcs || []).at(-1);
  if (!stream || !pc) return null;
  const ids = new Set(stream.getTracks().map((track) => track.id));
  const out = {video: null, audio: null};
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp" || !ids.has(s.trackIdentifier)) return;
    if (s.kind === "video") {
      out.video = {decoded: s.framesDecoded || 0, width: s.frameWidth || 0,
                   height: s.frameHeight || 0};
    } else {
      out.audio = {packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0};
    }
  });
  return out;
}"""

# The camera's simulcast layers as the page sends them: rid -> SSRC and picture size.
_SENT_LAYERS = """async () => {
  const pc = (window.__qashyqPcs || []).at(-1);
  const layers = {};
  if (!pc) return layers;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video" && s.rid) {
      layers[s.rid] = {ssrc: s.ssrc, width: s.frameWidth || 0, height: s.frameHeight || 0};
    }
  });
  return layers;
}"""

_ANSWER = "() => (window.__qashyqPcs || []).at(-1)?.localDescription?.sdp || ''"


@dataclass
class _Hearing:
    id: str
    judge: Page
    judge_id: str
    party: FirefoxPage
    party_id: str


async def _judge_page(api: Api, pages: PageOpener, link: dict[str, Any]) -> Page:
    """The judge's Chromium page (laptop size), in the hearing."""
    page = await pages.open(phone=False, locale="en-US")
    await page.context.add_init_script(RTC_INIT_SCRIPT)
    await page.goto(f"{api.base_url}/join#{link['token']}")
    await page.click("#join")
    await expect(page.locator("#screen-hearing")).to_be_visible(timeout=15_000)
    return page


async def _firefox_party_admitted(api: Api, judge: Page, firefox: FirefoxBrowser,
                                  link: dict[str, Any]) -> FirefoxPage:
    """A party's Firefox page: pre-join, join, lobby; the judge admits it from the lobby."""
    party = await firefox.open(f"{api.base_url}/join#{link['token']}",
                               init_script=RTC_INIT_SCRIPT)
    await party.wait_visible("#join")
    assert "#" not in str(await party.evaluate("location.href")), "the token stays in the URL"
    await party.click("#join")
    await party.wait_visible("#screen-lobby")
    entry = judge.locator(f'#lobby-list [data-participant-id="{link["id"]}"]')
    await expect(entry).to_be_visible(timeout=15_000)
    await entry.locator("[data-action=admit]").click()
    await party.wait_visible("#screen-hearing")
    return party


async def _hearing(api: Api, pages: PageOpener, firefox: FirefoxBrowser,
                   **fields: Any) -> _Hearing:
    hearing = await api.create_hearing(language="en", **fields)
    judge_link = await api.invite(hearing["id"], "judge", "Judge")
    party_link = await api.invite(hearing["id"], "witness", "Witness in Firefox")
    judge = await _judge_page(api, pages, judge_link)
    party = await _firefox_party_admitted(api, judge, firefox, party_link)
    return _Hearing(hearing["id"], judge, judge_link["id"], party, party_link["id"])


async def _received(page: ScriptedPage, participant_id: str) -> dict[str, Any]:
    result = await page.evaluate(_RECEIVED_FROM, participant_id)
    return result or {"video": None, "audio": None}


async def _keeps_receiving(page: ScriptedPage, participant_id: str, *, video: bool,
                           what: str) -> dict[str, Any]:
    """Sound keeps arriving (packets, and energy: not silence) and, with ``video``, frames
    keep being decoded; the latest figures."""
    async def started() -> dict[str, Any] | None:
        now = await _received(page, participant_id)
        ready = now["audio"] and (now["video"] or not video)
        return now if ready else None

    first = await poll(started, 30, f"{what}: media arriving")

    async def more() -> dict[str, Any] | None:
        now = await _received(page, participant_id)
        if not now["audio"] or (video and not now["video"]):
            return None
        audio = (now["audio"]["packets"] > first["audio"]["packets"] + 50
                 and now["audio"]["energy"] > first["audio"]["energy"])
        frames = not video or now["video"]["decoded"] > first["video"]["decoded"] + 20
        return now if audio and frames else None

    latest: dict[str, Any] = await poll(more, 20, f"{what}: more sound and pictures")
    return latest


async def test_a_firefox_party_and_a_chromium_judge_see_and_hear_each_other(
    api: Api, pages: PageOpener, firefox: FirefoxBrowser
) -> None:
    hearing = await _hearing(api, pages, firefox)
    judge, party = hearing.judge, hearing.party
    await party.wait_visible('#screen-hearing[data-media="connected"]')

    # Each sees the other's video playing, and hears the other.
    assert await playing_remote_videos(judge, 1) == [hearing.party_id]
    assert await playing_remote_videos(party, 1) == [hearing.judge_id]
    await _keeps_receiving(judge, hearing.party_id, video=True, what="the judge from Firefox")
    await _keeps_receiving(party, hearing.judge_id, video=True, what="Firefox from the judge")

    # Both pages show the other's tile; the judge sees the Firefox party's link as good
    # (Firefox's own getStats figures, reported by the page, and the server's view of it).
    await party.wait_visible(f'.tile[data-tile-id="{hearing.judge_id}"]')
    badge = judge.locator(f'.tile[data-tile-id="{hearing.party_id}"] .net-quality')
    await expect(badge).to_have_attribute("data-quality", "good", timeout=20_000)
    assert re.search(r"\d+ ms", await badge.get_attribute("title") or "")

    assert await party.ws_errors() == [], "the server refused something the Firefox page sent"
    assert pages.ws_errors(judge) == []
    assert not [e for e in await party.errors() if e.startswith("pageerror")]
    await party.screenshot("firefox-party-in-hearing")
    await pages.screenshot(judge, "firefox-judge-sees-firefox-party")


async def test_firefox_simulcast_reaches_the_server_layer_by_layer(
    api: Api, pages: PageOpener, firefox: FirefoxBrowser
) -> None:
    """Firefox answers the server's `a=simulcast:recv q;h;f` with three rid streams and names
    every layer's SSRC in its answer (Chromium names none); the server places each by the
    rid its packets carry, and sends the judge the layer that fills its tile. Firefox's own
    page reports its tiles the same way."""
    hearing = await _hearing(api, pages, firefox)
    judge, party = hearing.judge, hearing.party
    await party.wait_visible('#screen-hearing[data-media="connected"]')
    answer = str(await party.evaluate(_ANSWER))
    assert "a=simulcast:send q;h;f" in answer, answer
    assert re.search(r"^a=ssrc-group:FID ", answer, re.M), "Firefox's answer names its SSRCs"
    video = answer[answer.index("m=video"):]
    assert "transport-wide-cc" in video and re.search(r"^a=rtcp-fb:\d+ transport-cc", video,
                                                      re.M)

    media = hearing_media(api, hearing.id)
    stream = next(s for s in media.published_streams()
                  if s.participant_id == hearing.party_id and s.kind == "video")

    async def every_layer_arrives() -> dict[str, Any] | None:
        sent = await party.evaluate(_SENT_LAYERS)
        layers = {layer.rid: layer for layer in stream.layers}
        complete = (set(sent) == {"q", "h", "f"}
                    and all(layers[rid].media_ssrc == s["ssrc"] and layers[rid].width
                            for rid, s in sent.items()))
        return sent if complete else None

    sent = await poll(every_layer_arrives, 30, "each Firefox layer on its own server layer")
    for layer in stream.layers:
        # The picture sizes the server reads from the keyframes are the ones Firefox sends:
        # a quarter, half and the full size (1280x720 unless its encoder is short of CPU).
        assert (layer.width, layer.height) == (sent[layer.rid]["width"],
                                               sent[layer.rid]["height"]), layer.rid
    widths = [layer.width for layer in stream.layers]
    assert widths == sorted(widths) and widths[0] * 4 == widths[2], widths

    # Firefox numbers its packets transport-wide: the server answers with congestion
    # feedback all along (every 100 ms), which Firefox's send-side estimator runs on.
    connection = media.connection(hearing.party_id)
    fed = connection.congestion_feedback_sent
    await eventually(lambda: connection.congestion_feedback_sent > fed + 10, timeout=10,
                     what="congestion feedback to Firefox")

    # The judge's tile is large: the full layer. Made small (a narrow window), the
    # judge's page reports it and gets the quarter layer; large again, the full one. (What
    # the judge decodes is compared with what the server last saw of that layer.)
    async def judge_sees(rid: str) -> bool:
        now = await _received(judge, hearing.party_id)
        layer = next(layer for layer in stream.layers if layer.rid == rid)
        return bool(now["video"] and now["video"]["width"] == layer.width > 0)

    await poll(lambda: judge_sees("f"), 30, "the judge sees Firefox's full layer")
    await judge.set_viewport_size({"width": 360, "height": 300})
    await poll(lambda: judge_sees("q"), 30, "a small tile gets Firefox's quarter layer")
    await judge.set_viewport_size({"width": 1280, "height": 800})
    await poll(lambda: judge_sees("f"), 30, "a large tile gets the full layer again")

    # The other way round: Firefox's page reports its own tiles; a small window gets the
    # judge's quarter layer.
    judge_stream = next(s for s in media.published_streams()
                        if s.participant_id == hearing.judge_id and s.kind == "video")

    async def party_sees_judge(index: int) -> bool:
        now = await _received(party, hearing.judge_id)
        width = judge_stream.layers[index].width
        return bool(now["video"] and now["video"]["width"] == width > 0)

    await poll(lambda: party_sees_judge(2), 30, "Firefox sees the judge's full layer")
    await party.set_viewport(360, 300)
    await poll(lambda: party_sees_judge(0), 30, "Firefox's small tile gets the quarter layer")
    assert await party.ws_errors() == []


async def test_firefox_without_openh264_takes_part_in_an_h264_hearing_with_sound(
    api: Api, pages: PageOpener, firefox: FirefoxBrowser
) -> None:
    """Firefox lists no H.264 until it has downloaded its OpenH264 plugin: its page says so
    before joining, joins with the microphone only, and rejects the video m-lines; the
    server accepts that answer (and keeps them rejected in later offers), so the party and
    the judge hear each other."""
    hearing = await api.create_hearing(language="en", video_codec="h264")
    judge_link = await api.invite(hearing["id"], "judge", "Judge")
    party_link = await api.invite(hearing["id"], "witness", "Witness in Firefox")
    judge = await _judge_page(api, pages, judge_link)
    party = await firefox.open(f"{api.base_url}/join#{party_link['token']}",
                               init_script=RTC_INIT_SCRIPT)
    await party.wait_visible("#media-message")
    notice = await party.text("#media-message")
    assert "H.264" in notice and "sound" in notice, notice
    assert not await party.visible("#preview"), "no camera is asked for"
    await party.screenshot("firefox-h264-prejoin")
    await party.click("#join")
    await party.wait_visible("#screen-lobby")
    await judge.locator(f'#lobby-list [data-participant-id="{party_link["id"]}"]'
                        " [data-action=admit]").click()
    await party.wait_visible('#screen-hearing[data-media="connected"]')

    await _keeps_receiving(judge, party_link["id"], video=False, what="the judge hears Firefox")
    await _keeps_receiving(party, judge_link["id"], video=False, what="Firefox hears the judge")
    answer = str(await party.evaluate(_ANSWER))
    assert re.findall(r"^m=video 0 ", answer, re.M), "Firefox rejects the H.264 m-lines"
    assert await party.ws_errors() == [], "the server refused Firefox's answer"
    # The judge's page shows the party by initials (no video), not a black picture.
    tile = judge.locator(f'.tile[data-tile-id="{party_link["id"]}"]')
    await expect(tile.locator("video.audio-only")).to_have_count(1)
    await expect(tile.locator(".avatar")).to_be_visible()

    # Someone joins later: Firefox's next offer keeps its rejected m-lines rejected (port 0,
    # out of BUNDLE); Firefox answers it and hears the newcomer too.
    lawyer_link = await api.invite(hearing["id"], "lawyer", "Lawyer")
    lawyer = await AiortcParticipant.join(api.http, api.url("/ws"), lawyer_link)
    try:
        await judge.locator(f'#lobby-list [data-participant-id="{lawyer_link["id"]}"]'
                            " [data-action=admit]").click()
        await lawyer.signaling.expect("admitted")
        await give_voice(lawyer.media, speaking=True)
        await _keeps_receiving(party, lawyer_link["id"], video=False,
                               what="Firefox hears the newcomer")
        offer = str(await party.evaluate(
            "() => (window.__qashyqPcs || []).at(-1).remoteDescription.sdp"))
        assert len(re.findall(r"^m=video 0 ", offer, re.M)) == 2, offer
        assert await party.ws_errors() == []
    finally:
        await lawyer.close()

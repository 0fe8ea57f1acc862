"""What a participant page receives and sends, read from its ``RTCPeerConnection.getStats()``.

``RTC_INIT_SCRIPT`` (``context.add_init_script`` before the page loads) keeps every
``RTCPeerConnection`` the page makes in ``window.__qashyqPcs`` (the approach of
tests/fixtures/page_rtc.py; the page itself is unchanged). ``sample(page)`` reads the newest
one; ``PageSampler`` does it once a second in a task it owns.

Per sample: inbound video per remote participant (the page shows each in
``video[data-participant-id]``; a stream's ``trackIdentifier`` is matched to that element's
tracks), inbound audio, outbound video per simulcast ``rid``, the selected candidate pair,
the page's audio-only state (``body[data-audio-only]`` and ``#btn-audio-only[aria-pressed]``:
the page's own switch; ``body[data-downlink-audio-only]``: the server's allocation said so),
and the remote videos as the DOM shows them. A field this browser does not report is null.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

RTC_INIT_SCRIPT = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__qashyqPcs) return;
  window.__qashyqPcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      window.__qashyqPcs.push(this);
    }
  };
})();
"""

SAMPLE_JS = """
async () => {
  const pick = (s, names) => {
    const out = {};
    for (const n of names) out[n] = (s && s[n] !== undefined) ? s[n] : null;
    return out;
  };
  const owners = new Map();  // track id -> participant id (from the tiles)
  const videos = [];
  for (const el of document.querySelectorAll("video[data-participant-id]")) {
    const pid = el.dataset.participantId;
    for (const track of (el.srcObject && el.srcObject.getTracks ? el.srcObject.getTracks() : [])) {
      owners.set(track.id, pid);
    }
    videos.push({pid, width: el.videoWidth, height: el.videoHeight, time: el.currentTime,
                 paused: el.paused, hidden: el.classList.contains("audio-only")});
  }
  const button = document.querySelector("#btn-audio-only");
  const out = {
    wall_ms: Date.now(), pcs: 0, state: null,
    audio_only: {body: document.body.dataset.audioOnly ?? null,
                 pressed: button ? button.getAttribute("aria-pressed") : null,
                 downlink: document.body.dataset.downlinkAudioOnly ?? null},
    banner: (() => {
      const b = document.querySelector("#banner");
      return b && !b.hidden ? b.textContent : null;
    })(),
    videos, inbound_video: [], inbound_audio: [], outbound_video: [], outbound_audio: [],
    pair: null,
  };
  const pcs = window.__qashyqPcs || [];
  out.pcs = pcs.length;
  const pc = pcs[pcs.length - 1];
  if (!pc) return out;
  out.state = pc.connectionState;
  let stats;
  try {
    stats = await pc.getStats();
  } catch (e) {
    return out;
  }
  const byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  stats.forEach((s) => {
    if (s.type === "inbound-rtp") {
      const row = {participant: owners.get(s.trackIdentifier) ?? null,
                   ...pick(s, ["trackIdentifier", "mid", "ssrc", "packetsReceived",
                               "packetsLost", "bytesReceived", "jitter"])};
      if (s.kind === "video") {
        out.inbound_video.push({...row, ...pick(s, [
          "framesPerSecond", "frameWidth", "frameHeight", "framesDecoded", "framesReceived",
          "framesDropped", "keyFramesDecoded", "freezeCount", "totalFreezesDuration",
          "pauseCount", "totalPausesDuration", "nackCount", "pliCount", "firCount",
          "retransmittedPacketsReceived"])});
      } else {
        out.inbound_audio.push({...row, ...pick(s, [
          "concealedSamples", "silentConcealedSamples", "concealmentEvents",
          "totalSamplesReceived", "audioLevel", "jitterBufferDelay",
          "jitterBufferEmittedCount", "fecPacketsReceived"])});
      }
    } else if (s.type === "outbound-rtp") {
      if (s.kind === "video") {
        out.outbound_video.push(pick(s, [
          "rid", "ssrc", "active", "frameWidth", "frameHeight", "framesPerSecond",
          "framesEncoded", "framesSent", "bytesSent", "packetsSent", "retransmittedBytesSent",
          "keyFramesEncoded", "qualityLimitationReason", "targetBitrate", "nackCount",
          "pliCount", "firCount", "encoderImplementation", "scalabilityMode"]));
      } else {
        out.outbound_audio.push(pick(s, ["bytesSent", "packetsSent", "targetBitrate"]));
      }
    } else if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = byId.get(s.selectedCandidatePairId);
      if (pair) {
        out.pair = pick(pair, ["availableOutgoingBitrate", "availableIncomingBitrate",
                               "currentRoundTripTime", "bytesSent", "bytesReceived"]);
      }
    }
  });
  return out;
}
"""


async def sample(page: Page) -> dict[str, Any] | None:
    """One sample of the page's newest peer connection and tiles (None if the page is gone)."""
    try:
        result: dict[str, Any] = await page.evaluate(SAMPLE_JS)
    except PlaywrightError:
        return None  # closed or navigating: a gap in the series, not a failure
    return result


class PageSampler:
    """Samples one page every ``interval`` seconds into ``samples`` (each with ``t``: seconds
    since ``start``); ``stop()`` ends and awaits its task."""

    def __init__(self, page: Page, name: str, *, interval: float = 1.0) -> None:
        self.page = page
        self.name = name
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._start = 0.0

    def start(self, start: float | None = None) -> None:
        """Begin sampling; ``t`` counts from ``start`` (``time.monotonic()``; now if None)."""
        if self._task is not None:
            return
        self._start = time.monotonic() if start is None else start
        self._task = asyncio.create_task(self._run(), name=f"sampler-{self.name}")

    async def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            taken = time.monotonic()
            row = await sample(self.page)
            if row is not None:
                row["t"] = round(taken - self._start, 3)
                self.samples.append(row)
            next_at += self.interval
            # Pacing, not synchronisation; a slow evaluate skips ahead instead of bursting.
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - self.interval)

    async def stop(self) -> None:
        """End the sampling task and wait for it; idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

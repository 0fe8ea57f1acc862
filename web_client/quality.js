// Weak links on the participant page: the link monitor (getStats -> `quality` messages to
// the server every few seconds) and the audio-only switch: the participant's own choice
// (`receive_video`), and the server's word that this page's downlink carries only audio now
// (`downlink`), which it lifts by itself when the link recovers.

import { h } from "./dom.js";
import { t } from "./i18n.js";

export const REPORT_INTERVAL_MS = 4000;
// A stream needs this many packets in a sample (of ~200) to say how much of it was heard.
const MIN_AUDIO_PACKETS = 20;

const clamp = (value, high) => Math.round(Math.min(high, Math.max(0, value || 0)) * 10) / 10;

/** Reads the peer connection's stats periodically and reports loss, RTT and bitrates. */
export class LinkMonitor {
  /**
   * @param {() => RTCPeerConnection|null} getPc  the page's current peer connection
   * @param {(msg: object) => boolean} send  the signaling channel
   */
  constructor({ getPc, send }) {
    this.getPc = getPc;
    this.send = send;
    this.prev = null;
    this.timer = setInterval(() => {
      this.sample().catch((err) => console.warn("link figures not sampled", err?.message));
    }, REPORT_INTERVAL_MS);
  }

  async sample() {
    const pc = this.getPc();
    if (!pc || pc.connectionState !== "connected") return;
    const stats = await pc.getStats();
    const streams = new Map(); // inbound stream id -> {received, lost}
    const audio = new Map(); // inbound audio stream id -> {packets, concealed, total}
    let inBytes = 0;
    let outBytes = 0;
    let rtt = null;
    let reportedRtt = null; // from RTCP: what the server's receiver reports say
    stats.forEach((s) => {
      if (s.type === "inbound-rtp") {
        streams.set(s.id, { received: s.packetsReceived || 0, lost: Math.max(0, s.packetsLost || 0) });
        inBytes += s.bytesReceived || 0;
        if (s.kind === "audio" && typeof s.concealedSamples === "number") {
          audio.set(s.id, {
            packets: s.packetsReceived || 0,
            // Silence played for DTX (the speaker paused) is not audio lost.
            concealed: s.concealedSamples - (s.silentConcealedSamples || 0),
            total: s.totalSamplesReceived || 0,
          });
        }
      } else if (s.type === "outbound-rtp") {
        outBytes += s.bytesSent || 0;
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded"
        && typeof s.currentRoundTripTime === "number" && s.currentRoundTripTime > 0) {
        rtt = s.currentRoundTripTime * 1000;
      } else if (s.type === "remote-inbound-rtp" && typeof s.roundTripTime === "number") {
        reportedRtt = Math.max(reportedRtt ?? 0, s.roundTripTime * 1000);
      }
    });
    // Firefox's selected pair says 0 (it stops its ICE checks, so its round trips, once
    // connected): the round trip the RTCP reports measure is the same link's.
    rtt ??= reportedRtt;
    const now = performance.now();
    const prev = this.prev;
    this.prev = { pc, streams, audio, inBytes, outBytes, at: now };
    if (!prev || prev.pc !== pc || now <= prev.at) return;
    const seconds = (now - prev.at) / 1000;
    // The worst stream counts (as in the server's own RTCP view): retransmissions hide most
    // video loss, while the same link loses a third of the audio that nothing repairs.
    let lossPct = 0;
    streams.forEach((cur, id) => {
      const before = prev.streams.get(id) || { received: 0, lost: 0 };
      const newLost = Math.max(0, cur.lost - before.lost);
      const newReceived = Math.max(0, cur.received - before.received);
      if (newLost + newReceived > 0) {
        lossPct = Math.max(lossPct, (100 * newLost) / (newLost + newReceived));
      }
    });
    const figures = {
      type: "quality",
      loss_pct: clamp(lossPct, 100),
      rtt_ms: clamp(rtt ?? 0, 60000),
      down_kbps: clamp(((inBytes - prev.inBytes) * 8) / 1000 / seconds, 1e6),
      up_kbps: clamp(((outBytes - prev.outBytes) * 8) / 1000 / seconds, 1e6),
    };
    const concealed = concealedPct(audio, prev.audio);
    if (concealed !== null) figures.concealed_pct = clamp(concealed, 100);
    this.send(figures);
  }

  close() {
    clearInterval(this.timer);
  }
}

/**
 * The share of the audio this page could not play (concealed) since the last sample: the
 * worst stream that was actually arriving (a paused or silent speaker's stream says nothing).
 */
function concealedPct(now, before) {
  let worst = null;
  now.forEach((cur, id) => {
    const prev = before?.get(id);
    if (!prev) return;
    const total = cur.total - prev.total;
    if (cur.packets - prev.packets < MIN_AUDIO_PACKETS || total <= 0) return;
    const share = (100 * Math.max(0, cur.concealed - prev.concealed)) / total;
    worst = worst === null ? share : Math.max(worst, share);
  });
  return worst;
}

/**
 * Audio only on this page: the participant's button (the server stops forwarding video to
 * the page while it is on), or the server's allocation when the downlink cannot carry even
 * the speaker's smallest video (it says so in a `downlink` message, and lifts it itself).
 * Another participant's bad link never changes what this page receives.
 */
export class AudioOnlySwitch {
  /**
   * @param {HTMLElement|null} button  the audio-only control
   * @param {(msg: object) => boolean} send  the signaling channel
   * @param {(text: string) => void} notify  shows a short banner
   */
  constructor({ button, send, notify }) {
    this.button = button;
    this.send = send;
    this.notify = notify;
    this.on = false; // the participant's choice
    this.byLink = false; // the server sends audio only: the downlink is too weak for video
    this.onClick = () => this.set(!this.on);
    button?.addEventListener("click", this.onClick);
    this.render();
  }

  /** The participant turned audio-only on or off. */
  set(on) {
    this.on = Boolean(on);
    this.apply();
    this.render();
  }

  /** The server's word on this page's downlink (`downlink` message). */
  setByLink(audioOnly) {
    const changed = this.byLink !== Boolean(audioOnly);
    this.byLink = Boolean(audioOnly);
    this.render();
    if (changed && !this.on) {
      this.notify?.(t(this.byLink ? "hearing.audioOnly.auto" : "hearing.audioOnly.back"));
    }
  }

  /** Tell the server (again after a reconnect: a new connection starts with video). */
  apply() {
    this.send({ type: "receive_video", enabled: !this.on });
  }

  render() {
    const btn = this.button;
    if (!btn) return;
    const label = t(this.on ? "hearing.audioOnly.off" : "hearing.audioOnly.on");
    const short = btn.querySelector(".ctrl-label");
    if (short) short.textContent = t("ctrl.audioOnly");
    btn.title = label;
    btn.setAttribute("aria-label", label);
    btn.setAttribute("aria-pressed", String(this.on));
    btn.classList.toggle("active", this.on);
    document.body.dataset.audioOnly = this.on ? "1" : "0";
    document.body.dataset.downlinkAudioOnly = this.byLink ? "1" : "0";
  }

  close() {
    this.button?.removeEventListener("click", this.onClick);
  }
}

/**
 * What to show next to a name: a quality dot (numbers in its tooltip for hosts, who get
 * `quality_stats`) and "reconnecting…" while the participant's connection is being rebuilt.
 */
export function networkBadges(p) {
  const badges = [];
  if (p.reconnecting) {
    badges.push(h("span", { class: "net-reconnecting" }, t("hearing.reconnecting")));
  }
  if (p.quality && !p.reconnecting) {
    let title = t(`quality.${p.quality}`);
    // Which way the link is poor: this participant's receiving, sending, or both.
    if (p.quality_direction) title += ` (${t(`quality.dir.${p.quality_direction}`)})`;
    const s = p.quality_stats;
    if (s) {
      title += ` — ${s.loss_pct}% loss, ${s.rtt_ms} ms, ↓${s.down_kbps} ↑${s.up_kbps} kbit/s`;
    }
    badges.push(h("span", {
      class: `net-quality net-${p.quality}`, title, "aria-label": title,
      dataset: { quality: p.quality, direction: p.quality_direction || "" },
    }));
  }
  return badges;
}

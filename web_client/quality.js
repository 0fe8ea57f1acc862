// Weak links on the participant page: the link monitor (getStats -> `quality` messages to
// the server every few seconds) and the audio-only switch (`receive_video`), which the
// participant can press or which turns itself on when the downlink stays poor.

import { h } from "./dom.js";
import { t } from "./i18n.js";

export const REPORT_INTERVAL_MS = 4000;
// Two samples in a row this bad switch a participant who has not chosen otherwise to audio only.
const POOR_LOSS_PCT = 10;
const POOR_RTT_MS = 800;
const POOR_STREAK = 2;

const clamp = (value, high) => Math.round(Math.min(high, Math.max(0, value || 0)) * 10) / 10;

/** Reads the peer connection's stats periodically and reports loss, RTT and bitrates. */
export class LinkMonitor {
  /** opts: getPc() -> RTCPeerConnection|null, send(msg), onPoor(figures) */
  constructor({ getPc, send, onPoor }) {
    this.getPc = getPc;
    this.send = send;
    this.onPoor = onPoor;
    this.prev = null;
    this.poorStreak = 0;
    this.timer = setInterval(() => {
      this.sample().catch(() => {});
    }, REPORT_INTERVAL_MS);
  }

  async sample() {
    const pc = this.getPc();
    if (!pc || pc.connectionState !== "connected") return;
    const stats = await pc.getStats();
    const streams = new Map(); // inbound stream id -> {received, lost}
    let inBytes = 0;
    let outBytes = 0;
    let rtt = null;
    stats.forEach((s) => {
      if (s.type === "inbound-rtp") {
        streams.set(s.id, { received: s.packetsReceived || 0, lost: Math.max(0, s.packetsLost || 0) });
        inBytes += s.bytesReceived || 0;
      } else if (s.type === "outbound-rtp") {
        outBytes += s.bytesSent || 0;
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded"
        && typeof s.currentRoundTripTime === "number") {
        rtt = s.currentRoundTripTime * 1000;
      }
    });
    const now = performance.now();
    const prev = this.prev;
    this.prev = { pc, streams, inBytes, outBytes, at: now };
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
    this.send(figures);
    const poor = figures.loss_pct >= POOR_LOSS_PCT || figures.rtt_ms >= POOR_RTT_MS;
    this.poorStreak = poor ? this.poorStreak + 1 : 0;
    if (this.poorStreak >= POOR_STREAK) this.onPoor?.(figures);
  }

  close() {
    clearInterval(this.timer);
  }
}

/** The audio-only button: the server stops forwarding video to this page while it is on. */
export class AudioOnlySwitch {
  /** opts: button (element), send(msg) -> bool, notify(text) */
  constructor({ button, send, notify }) {
    this.button = button;
    this.send = send;
    this.notify = notify;
    this.on = false;
    this.chosen = false; // the participant pressed the button: never switch for them
    this.onClick = () => this.set(!this.on, { chosen: true });
    button?.addEventListener("click", this.onClick);
    this.render();
  }

  /** Turn audio-only on or off; `chosen` when the participant did it. */
  set(on, { chosen = false } = {}) {
    if (chosen) this.chosen = true;
    this.on = Boolean(on);
    this.apply();
    this.render();
  }

  /** The downlink stayed poor: switch to audio only unless the participant decided. */
  poorLink() {
    if (this.on || this.chosen) return;
    this.set(true);
    this.notify?.(t("hearing.audioOnly.auto"));
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
    const s = p.quality_stats;
    if (s) {
      title += ` — ${s.loss_pct}% loss, ${s.rtt_ms} ms, ↓${s.down_kbps} ↑${s.up_kbps} kbit/s`;
    }
    badges.push(h("span", {
      class: `net-quality net-${p.quality}`, title, "aria-label": title,
      dataset: { quality: p.quality },
    }));
  }
  return badges;
}

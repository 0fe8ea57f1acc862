// Before joining: camera preview, microphone level, device choice, and what to do when the
// camera or microphone is refused or missing (join with sound only, or receive only).

import { h } from "./dom.js";
import { t } from "./i18n.js";

// The camera is sent as simulcast layers (a quarter, half and the full resolution), so the
// server gives each viewer what its link carries: a laptop captures 720p, which makes three
// layers (320x180 up to 1280x720); a phone 360p, two layers, sparing its battery and uplink.
const ON_PHONE = /Mobi|Android|iPhone|iPad/i.test(navigator.userAgent);
const VIDEO_CONSTRAINTS = ON_PHONE
  ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 20, max: 24 },
    facingMode: "user" }
  : { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 },
    facingMode: "user" };
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

let sharedAudioContext = null;

/** One AudioContext for the page; resumed on the first tap (mobile audio unlock). */
export function audioContext() {
  const Ctor = window.AudioContext || window.webkitAudioContext;
  if (!Ctor) return null;
  if (!sharedAudioContext) sharedAudioContext = new Ctor();
  return sharedAudioContext;
}

export function unlockAudio() {
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

/** RMS level (0..1) of an audio track through a WebAudio AnalyserNode. */
export function levelMeter(track) {
  const ctx = audioContext();
  if (!ctx || !track) return { level: () => 0, close() {} };
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  return {
    level() {
      if (!track.enabled || track.readyState !== "live") return 0;
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      return Math.min(1, Math.sqrt(sum / buf.length) * 4);
    },
    close() {
      try {
        source.disconnect();
      } catch {
        // Already disconnected.
      }
    },
  };
}

export class PreJoin {
  /**
   * els: {preview, previewOff, meterBar, cameraSelect, micSelect, message, actions}.
   * videoUsable: false when this browser cannot send or show the hearing's video codec
   * (then the camera is not asked for, and the page says why).
   */
  constructor(els, { canPublish, onJoin, videoUsable = true }) {
    this.els = els;
    this.canPublish = canPublish;
    this.videoUsable = videoUsable;
    this.onJoin = onJoin;
    this.stream = null;
    this.problem = null;
    this.meter = null;
    this.raf = 0;
    this.onDeviceChange = () => this.acquire();
    els.cameraSelect.addEventListener("change", this.onDeviceChange);
    els.micSelect.addEventListener("change", this.onDeviceChange);
  }

  start() {
    if (!this.canPublish) {
      this.problem = this.videoUsable ? "observer" : "videoCodecObserver";
      this.render();
      return Promise.resolve();
    }
    return this.acquire();
  }

  /** Resolves when no camera/microphone request is in flight. */
  async settled() {
    while (this.pending) await this.pending;
  }

  acquire() {
    const run = (this.pending || Promise.resolve()).then(() => this.acquireNow());
    const mine = run.finally(() => {
      if (this.pending === mine) this.pending = null;
    });
    this.pending = mine;
    return mine;
  }

  async acquireNow() {
    this.stopStream();
    const camId = this.els.cameraSelect.value;
    const micId = this.els.micSelect.value;
    const audio = micId ? { ...AUDIO_CONSTRAINTS, deviceId: { exact: micId } } : AUDIO_CONSTRAINTS;
    const video = camId ? { ...VIDEO_CONSTRAINTS, deviceId: { exact: camId } } : VIDEO_CONSTRAINTS;
    this.problem = null;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.problem = "missing";
    } else {
      let firstError = null;
      // Without the hearing's video codec there is no video to send: sound only, said why.
      const attempts = this.videoUsable
        ? [[{ audio, video }, null], [{ audio }, "noCamera"], [{ video }, "noMic"]]
        : [[{ audio }, "videoCodec"]];
      for (const [constraints, problem] of attempts) {
        try {
          this.stream = await navigator.mediaDevices.getUserMedia(constraints);
          this.problem = problem;
          break;
        } catch (err) {
          firstError = firstError || err;
        }
      }
      if (!this.stream) {
        this.problem = firstError?.name === "NotAllowedError" || firstError?.name === "SecurityError"
          ? "denied" : "missing";
      }
    }
    await this.listDevices();
    this.render();
  }

  async listDevices() {
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      devices = [];
    }
    const fill = (select, kind, track, label) => {
      const list = devices.filter((d) => d.kind === kind && d.deviceId);
      const current = track?.getSettings?.().deviceId || select.value;
      select.replaceChildren(
        ...list.map((d, i) => new Option(d.label || `${label} ${i + 1}`, d.deviceId)),
      );
      if (current && list.some((d) => d.deviceId === current)) select.value = current;
      select.disabled = list.length < 2;
      select.closest("label").hidden = list.length === 0;
    };
    fill(this.els.cameraSelect, "videoinput", this.videoTrack(), t("join.camera"));
    fill(this.els.micSelect, "audioinput", this.audioTrack(), t("join.microphone"));
  }

  audioTrack() {
    return this.stream?.getAudioTracks()[0] || null;
  }

  videoTrack() {
    return this.stream?.getVideoTracks()[0] || null;
  }

  render() {
    const { preview, previewOff, message, actions } = this.els;
    const video = this.videoTrack();
    preview.srcObject = video ? new MediaStream([video]) : null;
    preview.hidden = !video;
    previewOff.hidden = Boolean(video);
    if (video) preview.play().catch(() => {});
    this.startMeter();
    message.hidden = !this.problem;
    message.textContent = this.problem ? t(PROBLEM_TEXT[this.problem]) : "";
    const notice = this.problem === "observer" || this.problem === "videoCodecObserver";
    message.classList.toggle("warning", this.problem !== "observer");
    const buttons = [];
    // Trying again does not give a browser a codec: its notice needs no buttons.
    if (this.problem && !notice && this.problem !== "videoCodec") {
      buttons.push(h("button", { type: "button", class: "btn btn-ghost",
        onclick: () => this.acquire() }, t("join.media.retry")));
      if (this.audioTrack()) {
        buttons.push(h("button", { type: "button", class: "btn",
          dataset: { mode: "audio" }, onclick: () => this.onJoin("audio") },
        t("join.media.audioOnly")));
      }
      buttons.push(h("button", { type: "button", class: "btn",
        dataset: { mode: "receive" }, onclick: () => this.onJoin("receive") },
      t("join.media.receiveOnly")));
    }
    actions.replaceChildren(...buttons);
    actions.hidden = buttons.length === 0;
  }

  startMeter() {
    cancelAnimationFrame(this.raf);
    this.meter?.close();
    this.meter = levelMeter(this.audioTrack());
    const bar = this.els.meterBar;
    bar.closest(".meter").hidden = !this.audioTrack();
    const tick = () => {
      bar.style.width = `${Math.round(this.meter.level() * 100)}%`;
      this.raf = requestAnimationFrame(tick);
    };
    tick();
  }

  /** Stop the preview and hand over the tracks for the chosen mode. */
  finish(mode) {
    this.els.cameraSelect.removeEventListener("change", this.onDeviceChange);
    this.els.micSelect.removeEventListener("change", this.onDeviceChange);
    cancelAnimationFrame(this.raf);
    this.meter?.close();
    this.meter = null;
    this.els.preview.srcObject = null;
    const audio = mode === "receive" ? null : this.audioTrack();
    const video = mode === "receive" || mode === "audio" ? null : this.videoTrack();
    for (const track of this.stream?.getTracks() || []) {
      if (track !== audio && track !== video) track.stop();
    }
    const stream = new MediaStream([audio, video].filter(Boolean));
    this.stream = null;
    return { stream, audio, video };
  }

  stopStream() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
  }

  /** Re-render the texts after a language change. */
  relabel() {
    if (this.els.message.hidden === false || this.problem) this.render();
  }
}

const PROBLEM_TEXT = {
  observer: "join.media.observer",
  denied: "join.media.denied",
  missing: "join.media.missing",
  noCamera: "join.media.noCamera",
  noMic: "join.media.noMic",
  videoCodec: "join.media.videoCodec",
  videoCodecObserver: "join.media.videoCodecObserver",
};

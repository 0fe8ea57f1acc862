// The one RTCPeerConnection of a participant page. The server offers; the page answers
// (non-trickle: the answer carries all ICE candidates). Offers are handled one at a time.
//
// An offer comes with `streams: {mid: {participant_id, kind, role}}` (docs/protocol.md):
// role "publish" m-lines are ours to send on (microphone / camera, sendonly); role
// "subscribe" m-lines bring another participant's media. A mid missing from `streams` is
// an m-line of someone who left: it stays inactive (the server refuses an answer that
// sends on it). Entries without a role (older servers) are ours when they name us.

const ICE_GATHER_TIMEOUT_MS = 5000;
// The simulcast layers the server asks for (rids, lowest first): the resolution divisor and
// the least bitrate worth sending a layer at. The hearing's cap bounds all layers together.
const VIDEO_LAYERS = [
  { rid: "q", scale: 4, minKbps: 50, share: 0.15 },
  { rid: "h", scale: 2, minKbps: 120, share: 0.3 },
  { rid: "f", scale: 1, minKbps: 250, share: 1 },
];
const DEFAULT_CAP_KBPS = 1000;

/**
 * Bitrates (kbit/s) for as many layers as the cap affords, lowest first: each lower layer
 * its share of the cap (at least its minimum), the top one the rest; a layer whose share
 * would fall below its minimum is not sent (and the layers above it neither).
 */
export function layerBitrates(capKbps) {
  for (let count = VIDEO_LAYERS.length; count > 1; count -= 1) {
    const layers = VIDEO_LAYERS.slice(0, count);
    const lower = layers.slice(0, -1).map((l) => Math.max(l.minKbps, Math.round(l.share * capKbps)));
    const top = capKbps - lower.reduce((a, b) => a + b, 0);
    if (top >= layers[count - 1].minKbps) return [...lower, top];
  }
  return [capKbps];
}

const VIDEO_MIME = { vp8: "video/vp8", h264: "video/h264" };

/**
 * Whether this browser can both send and show the hearing's video codec ("vp8", "h264").
 * Firefox lists H.264 only once its OpenH264 plugin is installed (it fetches it from Cisco
 * at run time); without it, it rejects every video m-line of an H.264 hearing. A browser
 * that cannot tell (no getCapabilities) is assumed able: negotiation decides.
 */
export function canUseVideoCodec(codec) {
  const mime = VIDEO_MIME[codec];
  if (!mime) return true;
  const has = (Kind) => {
    const caps = Kind?.getCapabilities?.("video");
    return !caps || caps.codecs.some((c) => c.mimeType.toLowerCase() === mime);
  };
  return has(window.RTCRtpSender) && has(window.RTCRtpReceiver);
}

export class MediaSession {
  /**
   * options: iceServers, canPublish, onAnswer(sdp), onRemoteChange(Map pid -> MediaStream),
   * onConnectionState(state)
   */
  constructor({
    selfId, iceServers, iceTransportPolicy, canPublish, onAnswer, onRemoteChange, onConnectionState,
    maxVideoKbps,
  }) {
    this.selfId = selfId;
    this.maxVideoKbps = Number(maxVideoKbps) > 0 ? Number(maxVideoKbps) : 0;
    this.canPublish = canPublish;
    this.onAnswer = onAnswer;
    this.onRemoteChange = onRemoteChange;
    this.streams = {};
    this.local = { audio: null, video: null };
    this.remote = new Map();
    this.queue = Promise.resolve();
    this.closed = false;
    this.pc = new RTCPeerConnection({
      iceServers: Array.isArray(iceServers) ? iceServers : [],
      // "relay" (server setting) for locked-down networks: media only through TURN.
      iceTransportPolicy: iceTransportPolicy === "relay" ? "relay" : "all",
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
    });
    this.pc.addEventListener("track", () => this.reconcile());
    this.pc.addEventListener("connectionstatechange", () => {
      onConnectionState?.(this.pc.connectionState);
    });
  }

  /** The tracks to publish (null for none); swaps them live on already negotiated senders. */
  async setLocalTracks({ audio, video }) {
    this.local = { audio: audio || null, video: video || null };
    if (this.closed) return;
    for (const tr of this.publishingTransceivers()) {
      const kind = tr.receiver.track?.kind;
      try {
        await tr.sender.replaceTrack(this.local[kind] || null);
      } catch (err) {
        console.warn("replaceTrack failed", err.name);
      }
    }
  }

  publishingTransceivers() {
    return this.pc.getTransceivers().filter((tr) => this.purpose(tr) === "publish");
  }

  /** "publish", "receive" or "inactive" for a transceiver, from the latest `streams`. */
  purpose(tr) {
    if (tr.mid === null || isStopped(tr)) return "inactive";
    const info = this.streams[tr.mid];
    if (!info || typeof info !== "object") {
      const withRoles = Object.values(this.streams).some((e) => e && e.role);
      return withRoles ? "inactive" : "publish";
    }
    if (info.role === "publish") return "publish";
    if (info.role === "subscribe") return "receive";
    return info.participant_id === this.selfId ? "publish" : "receive";
  }

  /** {participant_id, kind} when this transceiver receives another participant's media. */
  remoteInfo(tr) {
    return this.purpose(tr) === "receive" ? this.streams[tr.mid] : null;
  }

  /** Queue an offer; resolves when it has been answered (or failed). */
  handleOffer(msg) {
    this.queue = this.queue
      .then(() => this.answerOffer(msg))
      .catch((err) => console.warn("offer failed", err?.name, err?.message));
    return this.queue;
  }

  async answerOffer({ sdp, streams }) {
    if (this.closed || typeof sdp !== "string") return;
    this.streams = streams && typeof streams === "object" ? streams : {};
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    for (const tr of this.pc.getTransceivers()) {
      const purpose = this.purpose(tr);
      if (tr.mid === null || isStopped(tr)) continue;
      if (purpose === "receive") {
        tr.direction = "recvonly";
      } else if (purpose === "publish" && this.canPublish) {
        const kind = tr.receiver.track?.kind;
        await tr.sender.replaceTrack(this.local[kind] || null);
        tr.direction = "sendonly";
      } else {
        await tr.sender.replaceTrack(null);
        tr.direction = "inactive";
      }
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.configureVideoLayers();
    await this.iceGathered();
    if (this.closed) return;
    this.onAnswer(this.pc.localDescription.sdp);
    this.reconcile();
  }

  /**
   * The camera's encodings. When the server asked for simulcast (its offer lists rids), the
   * browser sends each layer the server named: `q` at a quarter, `h` at half, `f` at the full
   * resolution, each with a bitrate that fits it, so the server can give every subscriber
   * the layer its link carries. The hearing's cap (weak uplinks, shared village links)
   * bounds the top layer.
   */
  async configureVideoLayers() {
    const rates = layerBitrates(this.maxVideoKbps || DEFAULT_CAP_KBPS);
    for (const tr of this.publishingTransceivers()) {
      if (tr.receiver.track?.kind !== "video") continue;
      const params = tr.sender.getParameters();
      const encodings = params.encodings || [];
      if (!encodings.length) continue;
      let changed = false;
      const set = (encoding, key, value) => {
        if (encoding[key] !== value) {
          encoding[key] = value;
          changed = true;
        }
      };
      if (encodings.length === 1) {
        // No simulcast (the browser could not, or an older server): one stream at the cap.
        set(encodings[0], "maxBitrate", (this.maxVideoKbps || DEFAULT_CAP_KBPS) * 1000);
      } else {
        for (const encoding of encodings) {
          const index = VIDEO_LAYERS.findIndex((l) => l.rid === encoding.rid);
          if (index < 0) continue;
          const sent = index < rates.length;
          set(encoding, "active", sent);
          set(encoding, "scaleResolutionDownBy", VIDEO_LAYERS[index].scale);
          if (sent) set(encoding, "maxBitrate", rates[index] * 1000);
        }
      }
      if (!changed) continue;
      try {
        await tr.sender.setParameters(params);
      } catch (err) {
        console.warn("video layers not configured", err?.name);
      }
    }
  }

  iceGathered() {
    const pc = this.pc;
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (pc.iceGatheringState !== "complete") return;
        pc.removeEventListener("icegatheringstatechange", done);
        clearTimeout(timer);
        resolve();
      };
      // A slow STUN server must not hold the answer forever: send what we have.
      const timer = setTimeout(() => {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }, ICE_GATHER_TIMEOUT_MS);
      pc.addEventListener("icegatheringstatechange", done);
    });
  }

  /** Group received tracks by participant through the latest `streams` map. */
  reconcile() {
    if (this.closed) return;
    const wanted = new Map();
    for (const tr of this.pc.getTransceivers()) {
      const info = this.remoteInfo(tr);
      if (!info || isStopped(tr) || !tr.receiver.track) continue;
      const pid = info.participant_id;
      if (!wanted.has(pid)) wanted.set(pid, []);
      wanted.get(pid).push(tr.receiver.track);
    }
    let changed = false;
    for (const [pid, tracks] of wanted) {
      let stream = this.remote.get(pid);
      if (!stream) {
        stream = new MediaStream();
        this.remote.set(pid, stream);
        changed = true;
      }
      for (const old of stream.getTracks()) {
        if (!tracks.includes(old)) {
          stream.removeTrack(old);
          changed = true;
        }
      }
      for (const track of tracks) {
        if (!stream.getTracks().includes(track)) {
          stream.addTrack(track);
          changed = true;
        }
      }
    }
    for (const pid of [...this.remote.keys()]) {
      if (!wanted.has(pid)) {
        this.remote.delete(pid);
        changed = true;
      }
    }
    if (changed) this.onRemoteChange(this.remote);
  }

  /** Audio level (0..1) of each remote participant, from the RTP receivers. */
  audioLevels() {
    const levels = new Map();
    if (this.closed) return levels;
    for (const tr of this.pc.getTransceivers()) {
      const info = this.remoteInfo(tr);
      if (!info || info.kind !== "audio" || isStopped(tr)) continue;
      let level = 0;
      try {
        for (const src of tr.receiver.getSynchronizationSources?.() || []) {
          level = Math.max(level, src.audioLevel || 0);
        }
      } catch {
        level = 0;
      }
      levels.set(info.participant_id, Math.max(levels.get(info.participant_id) || 0, level));
    }
    return levels;
  }

  close() {
    this.closed = true;
    this.remote.clear();
    try {
      this.pc.close();
    } catch {
      // Already closed.
    }
  }
}

function isStopped(tr) {
  return tr.stopped === true || tr.currentDirection === "stopped";
}

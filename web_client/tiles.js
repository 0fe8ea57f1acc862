// The participant grid of the hearing screen: this participant's own tile first, then one
// tile per participant in the hearing (their video, or initials when there is none), and a
// highlight on whoever speaks.

import { $, h } from "./dom.js";
import { roleName, t } from "./i18n.js";
import { networkBadges } from "./quality.js";

const SPEAKING_THRESHOLD = 0.04;
// Long enough to carry a speaker through the pauses between sentences.
const SPEAKER_HOLD_MS = 1200;
const SPEAKER_TICK_MS = 250;

/** Who speaks now: the loudest level over a threshold, held through short pauses. */
export class ActiveSpeaker {
  constructor() {
    this.id = null;
    this.heardAt = 0;
  }

  /**
   * @param {Map<string, number>} levels  audio level (0..1) by participant id
   * @param {number} now  milliseconds, monotonic
   * @returns {string|null} the active speaker's id
   */
  update(levels, now) {
    let loudest = null;
    let loudestLevel = SPEAKING_THRESHOLD;
    for (const [id, level] of levels) {
      if (level > loudestLevel) {
        loudest = id;
        loudestLevel = level;
      }
    }
    if (loudest) {
      this.id = loudest;
      this.heardAt = now;
    } else if (this.id && now - this.heardAt > SPEAKER_HOLD_MS) {
      this.id = null;
    }
    return this.id;
  }
}

/** The #tiles grid: a `.tile[data-tile-id]` per participant, `.speaking` on the speaker. */
export class ParticipantTiles {
  /**
   * @param {{id: string, display_name: string, role: string}} me  this participant
   * @param {{audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} local  own tracks
   *   chosen at "join" (null when refused or not published)
   * @param {() => Map<string, number>} levels  audio levels by participant id, with "self"
   *   for this participant's own microphone
   * @param {{micOn: boolean, camOn: boolean, hand: boolean}} ownMedia  what the own tile shows
   */
  constructor({ me, local, levels, ownMedia }) {
    this.me = me;
    this.local = local;
    this.levels = levels;
    this.ownMedia = ownMedia;
    this.grid = $("#tiles");
    this.roster = [];
    this.remote = new Map(); // participant id -> MediaStream from the server
    this.tiles = new Map(); // participant id -> tile element (not the own tile)
    this.speaker = new ActiveSpeaker();
    this.selfTile = this.makeSelfTile();
    this.grid.replaceChildren(this.selfTile);
    this.onTap = () => this.playAll();
    this.grid.addEventListener("click", this.onTap);
    this.timer = setInterval(() => this.highlightSpeaker(), SPEAKER_TICK_MS);
  }

  destroy() {
    clearInterval(this.timer);
    this.grid.removeEventListener("click", this.onTap);
    for (const tile of this.tiles.values()) detachMedia(tile);
    this.tiles.clear();
    this.grid.replaceChildren();
  }

  /** The hearing's participants changed (the `roster` message). */
  setRoster(roster) {
    this.roster = roster;
    this.render();
  }

  /** The server's streams changed: participant id -> MediaStream. */
  setRemoteStreams(streams) {
    this.remote = new Map(streams);
    this.renderOthers();
  }

  /** This participant's microphone, camera or hand changed. */
  setOwnMedia(ownMedia) {
    this.ownMedia = ownMedia;
    this.renderSelf();
  }

  render() {
    this.renderOthers();
    this.renderSelf();
  }

  makeSelfTile() {
    const video = h("video", { class: "mirror", muted: true, playsInline: true, autoplay: true });
    video.setAttribute("playsinline", "");
    video.setAttribute("muted", "");
    if (this.local.video) {
      video.srcObject = new MediaStream([this.local.video]);
      video.play().catch(() => {});
    }
    return h("div", { class: "tile self", dataset: { tileId: this.me.id, self: "1" } },
      video,
      h("div", { class: "avatar" }, initials(this.me.display_name)),
      h("div", { class: "tile-label" }));
  }

  renderSelf() {
    const tile = this.selfTile;
    const { micOn, camOn, hand } = this.ownMedia;
    tile.querySelector("video").hidden = !camOn;
    tile.querySelector(".avatar").hidden = camOn;
    tile.querySelector(".tile-label").replaceChildren(
      ...labelParts(`${this.me.display_name} (${t("hearing.you")})`, this.me.role, !micOn, hand),
    );
  }

  renderOthers() {
    const visible = new Map();
    for (const p of this.roster) {
      // A reconnecting participant keeps the tile (dimmed, "reconnecting…").
      if (p.id !== this.me.id && p.state === "admitted" && (p.connected !== false || p.reconnecting)) {
        visible.set(p.id, p);
      }
    }
    for (const id of this.remote.keys()) {
      if (!visible.has(id) && id !== this.me.id) {
        visible.set(id, this.roster.find((p) => p.id === id) || { id, display_name: "…" });
      }
    }
    for (const [id, tile] of this.tiles) {
      if (!visible.has(id)) {
        detachMedia(tile);
        tile.remove();
        this.tiles.delete(id);
      }
    }
    for (const [id, p] of visible) {
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = h("div", { class: "tile", dataset: { tileId: id } },
          h("div", { class: "avatar" }), h("div", { class: "tile-label" }));
        this.tiles.set(id, tile);
        this.grid.append(tile);
      }
      fillTile(tile, p, this.remote.get(id));
    }
    const others = this.tiles.size;
    this.grid.dataset.count = String(others + 1);
    this.grid.dataset.layout = others === 0 ? "solo" : others === 1 ? "one" : others === 2 ? "two" : "many";
    let alone = $("#tiles .alone");
    if (others === 0 && !alone) {
      alone = h("p", { class: "alone muted" });
      this.grid.append(alone);
    } else if (others > 0 && alone) {
      alone.remove();
      alone = null;
    }
    if (alone) alone.textContent = t("hearing.alone");
  }

  /** A tap anywhere on the tiles starts any video the browser refused to autoplay. */
  playAll() {
    for (const media of this.grid.querySelectorAll("video, audio")) {
      if (media.paused) media.play().catch(() => {});
    }
    for (const tile of this.tiles.values()) tile.classList.remove("needs-tap");
  }

  highlightSpeaker() {
    const speaker = this.speaker.update(this.levels(), performance.now());
    this.selfTile.classList.toggle("speaking", speaker === "self" || speaker === this.me.id);
    for (const [id, tile] of this.tiles) tile.classList.toggle("speaking", speaker === id);
  }
}

function fillTile(tile, p, stream) {
  let video = tile.querySelector("video");
  if (stream && !video) {
    // Muted: the sound plays from the tile's <audio> (see playSound).
    video = h("video", {
      playsInline: true, autoplay: true, muted: true, dataset: { participantId: p.id },
    });
    video.setAttribute("playsinline", "");
    video.setAttribute("muted", "");
    video.srcObject = stream;
    tile.prepend(video);
    video.play().catch(() => tile.classList.add("needs-tap"));
  } else if (!stream && video) {
    detachMedia(tile);
  } else if (stream && video.srcObject !== stream) {
    video.srcObject = stream;
    video.play().catch(() => tile.classList.add("needs-tap"));
  }
  playSound(tile, p, stream);
  const hasVideo = Boolean(stream?.getVideoTracks().length) && p.video !== false;
  if (video) video.classList.toggle("audio-only", !hasVideo);
  const avatar = tile.querySelector(".avatar");
  avatar.textContent = initials(p.display_name);
  avatar.hidden = hasVideo;
  tile.querySelector(".tile-label").replaceChildren(
    ...labelParts(p.display_name, p.role, p.muted || p.audio === false, p.hand),
    ...networkBadges(p),
  );
  tile.classList.toggle("hand", Boolean(p.hand));
  tile.classList.toggle("reconnecting", Boolean(p.reconnecting));
}

/**
 * A participant's sound plays from an <audio> of its own: a <video> does not start (and so
 * plays no sound) until a first picture arrives, and some participants never send one (the
 * camera refused, or a browser without the hearing's video codec, like Firefox without
 * OpenH264 in an H.264 hearing). Audio and video stay in sync below the elements (one
 * stream id per participant, docs/protocol.md).
 */
function playSound(tile, p, stream) {
  const tracks = stream ? stream.getAudioTracks() : [];
  let audio = tile.querySelector("audio");
  if (!tracks.length) {
    if (audio) detach(audio);
    return;
  }
  const playing = audio?.srcObject?.getAudioTracks() || [];
  if (audio && playing.length === tracks.length && tracks.every((t) => playing.includes(t))) return;
  if (!audio) {
    audio = h("audio", { autoplay: true, dataset: { soundOf: p.id } });
    tile.append(audio);
  }
  audio.srcObject = new MediaStream(tracks);
  audio.play().catch(() => tile.classList.add("needs-tap"));
}

function detachMedia(tile) {
  for (const media of tile.querySelectorAll("video, audio")) detach(media);
}

function detach(media) {
  media.srcObject = null;
  media.remove();
}

function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return (parts.slice(0, 2).map((s) => s[0]).join("") || "?").toUpperCase();
}

function labelParts(name, role, micOff, hand) {
  return [
    micOff ? h("span", { class: "ico ico-mic off", "aria-hidden": "true" }) : null,
    hand ? h("span", { class: "ico ico-hand on", "aria-hidden": "true" }) : null,
    h("span", { class: "name" }, name),
    role ? h("span", { class: "role" }, roleName(role)) : null,
  ].filter(Boolean);
}

// The hearing screen: participant tiles, the active speaker, controls, chat, the people
// panel, and (for hosts) the lobby with admit / deny and per-participant mute / remove.

import { $, h } from "./dom.js";
import { formatTime, roleName, t } from "./i18n.js";
import { networkBadges } from "./quality.js";

const SPEAKING_THRESHOLD = 0.04;
const SPEAKER_HOLD_MS = 1200;

export class HearingView {
  /**
   * opts: me, hearing, permissions, send(msg), onLeave(), onEnd(),
   * local: {stream, audio, video}, levels() -> Map pid -> level (remote + "self")
   */
  constructor(opts) {
    Object.assign(this, opts);
    this.isHost = this.permissions.includes("admit");
    this.roster = [];
    this.remote = new Map();
    this.tiles = new Map();
    this.micOn = Boolean(this.local.audio);
    this.camOn = Boolean(this.local.video);
    this.hand = false;
    this.serverMuted = false;
    this.unread = 0;
    this.chat = [];
    this.speaker = null;
    this.speakerAt = 0;
    this.bind();
    this.selfTile = this.makeSelfTile();
    $("#tiles").replaceChildren(this.selfTile);
    this.render();
    this.timer = setInterval(() => this.tickSpeaker(), 250);
  }

  bind() {
    const on = (sel, fn) => {
      const el = $(sel);
      const handler = (e) => fn(e);
      el.addEventListener("click", handler);
      (this.unbinders ||= []).push(() => el.removeEventListener("click", handler));
    };
    on("#btn-mic", () => this.toggleMic());
    on("#btn-cam", () => this.toggleCam());
    on("#btn-hand", () => {
      this.hand = !this.hand;
      this.send({ type: "hand", raised: this.hand });
      this.renderControls();
    });
    on("#btn-chat", () => this.togglePanel("chat-panel"));
    on("#btn-people", () => this.togglePanel("people-panel"));
    on("#btn-leave", () => {
      if (window.confirm(t("hearing.leaveConfirm"))) this.onLeave();
    });
    on("#btn-end", () => {
      if (window.confirm(t("hearing.endConfirm"))) this.send({ type: "end" });
    });
    for (const btn of document.querySelectorAll(".panel-close")) {
      on(`.panel-close[data-panel="${btn.dataset.panel}"]`, () => this.togglePanel(btn.dataset.panel, false));
    }
    on("#tiles", () => this.playAll());
    // Lobby and people lists use event delegation on stable containers.
    on("#lobby-list", (e) => this.onAction(e));
    on("#people-list", (e) => this.onAction(e));
    const form = $("#chat-form");
    const submit = (e) => {
      e.preventDefault();
      const input = $("#chat-input");
      const text = input.value.trim();
      if (!text) return;
      if (this.send({ type: "chat", text: text.slice(0, 2000) })) input.value = "";
    };
    form.addEventListener("submit", submit);
    this.unbinders.push(() => form.removeEventListener("submit", submit));
  }

  destroy() {
    clearInterval(this.timer);
    for (const off of this.unbinders || []) off();
    for (const tile of this.tiles.values()) this.detachVideo(tile);
    this.tiles.clear();
    $("#tiles").replaceChildren();
    $("#lobby-list").replaceChildren();
    $("#people-list").replaceChildren();
    $("#chat-messages").replaceChildren();
  }

  onAction(event) {
    const btn = event.target.closest("button[data-action]");
    if (!btn) return;
    const item = btn.closest("[data-participant-id]");
    const pid = item?.dataset.participantId;
    if (!pid) return;
    const entry = this.roster.find((p) => p.id === pid);
    const action = btn.dataset.action;
    if (action === "admit" || action === "deny") {
      btn.disabled = true;
      this.send({ type: action, participant_id: pid });
    } else if (action === "mute") {
      this.send({ type: "mute", participant_id: pid, muted: !entry?.muted });
    } else if (action === "remove") {
      const name = entry?.display_name || "";
      if (window.confirm(t("hearing.removeConfirm", { name }))) {
        this.send({ type: "remove", participant_id: pid });
      }
    }
  }

  // ---- Local media -----------------------------------------------------------

  toggleMic() {
    if (!this.local.audio || this.serverMuted) return;
    this.micOn = !this.micOn;
    this.local.audio.enabled = this.micOn;
    this.sendMediaState();
    this.renderControls();
    this.renderSelf();
  }

  toggleCam() {
    if (!this.local.video) return;
    this.camOn = !this.camOn;
    this.local.video.enabled = this.camOn;
    this.sendMediaState();
    this.renderControls();
    this.renderSelf();
  }

  sendMediaState() {
    this.send({
      type: "media_state",
      audio: Boolean(this.local.audio) && this.micOn && !this.serverMuted,
      video: Boolean(this.local.video) && this.camOn,
    });
  }

  setServerMuted(muted) {
    this.serverMuted = muted;
    if (this.local.audio) {
      if (muted) {
        this.micOn = false;
        this.local.audio.enabled = false;
      }
    }
    this.banner(t(muted ? "hearing.mutedBy" : "hearing.unmutedBy"));
    this.sendMediaState();
    this.renderControls();
    this.renderSelf();
  }

  banner(text, ms = 5000) {
    const el = $("#banner");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.bannerTimer);
    this.bannerTimer = setTimeout(() => {
      el.hidden = true;
    }, ms);
  }

  // ---- Roster and tiles ------------------------------------------------------------

  setRoster(list) {
    const before = new Map(this.roster.map((p) => [p.id, p]));
    this.roster = Array.isArray(list) ? list : [];
    for (const p of this.roster) {
      const old = before.get(p.id);
      if (p.hand && old && !old.hand && p.id !== this.me.id) {
        this.banner(t("hearing.handRaised", { name: p.display_name }));
      }
    }
    const mine = this.roster.find((p) => p.id === this.me.id);
    if (mine && mine.muted !== this.serverMuted && mine.muted !== undefined) {
      this.serverMuted = mine.muted;
      if (mine.muted && this.local.audio) {
        this.micOn = false;
        this.local.audio.enabled = false;
      }
    }
    this.render();
  }

  setRemoteStreams(map) {
    this.remote = new Map(map);
    this.renderTiles();
  }

  render() {
    this.renderTiles();
    this.renderLobby();
    this.renderPeople();
    this.renderControls();
    this.renderSelf();
    this.renderChat();
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
    const showVideo = Boolean(this.local.video) && this.camOn;
    tile.querySelector("video").hidden = !showVideo;
    tile.querySelector(".avatar").hidden = showVideo;
    tile.querySelector(".tile-label").replaceChildren(
      ...labelParts(`${this.me.display_name} (${t("hearing.you")})`, this.me.role,
        !(this.local.audio && this.micOn), this.hand),
    );
  }

  renderTiles() {
    const visible = new Map();
    for (const p of this.roster) {
      // A reconnecting participant keeps the tile (dimmed, "reconnecting…").
      if (p.id !== this.me.id && p.state === "admitted" && (p.connected !== false || p.reconnecting)) {
        visible.set(p.id, p);
      }
    }
    for (const pid of this.remote.keys()) {
      if (!visible.has(pid) && pid !== this.me.id) {
        visible.set(pid, this.roster.find((p) => p.id === pid) || { id: pid, display_name: "…" });
      }
    }
    const grid = $("#tiles");
    for (const [pid, tile] of this.tiles) {
      if (!visible.has(pid)) {
        this.detachVideo(tile);
        tile.remove();
        this.tiles.delete(pid);
      }
    }
    for (const [pid, p] of visible) {
      let tile = this.tiles.get(pid);
      if (!tile) {
        tile = h("div", { class: "tile", dataset: { tileId: pid } },
          h("div", { class: "avatar" }), h("div", { class: "tile-label" }));
        this.tiles.set(pid, tile);
        grid.append(tile);
      }
      this.fillTile(tile, p, this.remote.get(pid));
    }
    grid.dataset.count = String(this.tiles.size + 1);
    const n = this.tiles.size;
    grid.dataset.layout = n === 0 ? "solo" : n === 1 ? "one" : n === 2 ? "two" : "many";
    let alone = $("#tiles .alone");
    if (this.tiles.size === 0 && !alone) {
      alone = h("p", { class: "alone muted" });
      grid.append(alone);
    } else if (this.tiles.size > 0 && alone) {
      alone.remove();
      alone = null;
    }
    if (alone) alone.textContent = t("hearing.alone");
  }

  fillTile(tile, p, stream) {
    let video = tile.querySelector("video");
    if (stream && !video) {
      video = h("video", { playsInline: true, autoplay: true, dataset: { participantId: p.id } });
      video.setAttribute("playsinline", "");
      video.srcObject = stream;
      tile.prepend(video);
      video.play().catch(() => tile.classList.add("needs-tap"));
    } else if (!stream && video) {
      this.detachVideo(tile);
    } else if (stream && video.srcObject !== stream) {
      video.srcObject = stream;
      video.play().catch(() => tile.classList.add("needs-tap"));
    }
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

  detachVideo(tile) {
    const video = tile.querySelector("video");
    if (video) {
      video.srcObject = null;
      video.remove();
    }
  }

  /** A tap anywhere on the tiles starts any video the browser refused to autoplay. */
  playAll() {
    for (const video of document.querySelectorAll("#tiles video")) {
      if (video.paused) video.play().catch(() => {});
    }
    for (const tile of this.tiles.values()) tile.classList.remove("needs-tap");
  }

  tickSpeaker() {
    const levels = this.levels();
    let best = null;
    let bestLevel = SPEAKING_THRESHOLD;
    for (const [pid, level] of levels) {
      if (level > bestLevel) {
        best = pid;
        bestLevel = level;
      }
    }
    const now = performance.now();
    if (best) {
      this.speaker = best;
      this.speakerAt = now;
    } else if (this.speaker && now - this.speakerAt > SPEAKER_HOLD_MS) {
      this.speaker = null;
    }
    const selfId = this.me.id;
    this.selfTile.classList.toggle("speaking", this.speaker === "self" || this.speaker === selfId);
    for (const [pid, tile] of this.tiles) tile.classList.toggle("speaking", this.speaker === pid);
  }

  // ---- Lobby and people --------------------------------------------------------

  renderLobby() {
    const strip = $("#lobby-strip");
    if (!this.isHost) {
      strip.hidden = true;
      return;
    }
    const waiting = this.roster.filter((p) => p.state === "lobby" && p.connected !== false);
    strip.hidden = waiting.length === 0;
    $("#lobby-heading").textContent = t("hearing.lobby", { count: waiting.length });
    $("#lobby-list").replaceChildren(
      ...waiting.map((p) =>
        h("li", { class: "lobby-entry", dataset: { participantId: p.id } },
          h("span", { class: "who" },
            h("span", { class: "name" }, p.display_name),
            h("span", { class: "role" }, roleName(p.role))),
          h("span", { class: "lobby-actions" },
            h("button", { type: "button", class: "btn btn-primary btn-small",
              dataset: { action: "admit" } }, t("hearing.admit")),
            h("button", { type: "button", class: "btn btn-ghost btn-small",
              dataset: { action: "deny" } }, t("hearing.deny"))))),
    );
  }

  renderPeople() {
    const canMute = this.permissions.includes("mute");
    const canRemove = this.permissions.includes("remove");
    const people = this.roster.filter((p) => p.state === "admitted");
    $("#people-list").replaceChildren(
      ...people.map((p) => {
        const isMe = p.id === this.me.id;
        return h("li", { class: "person", dataset: { participantId: p.id } },
          h("span", { class: "who" },
            h("span", { class: "name" }, isMe ? `${p.display_name} (${t("hearing.you")})` : p.display_name),
            h("span", { class: "role" }, roleName(p.role)),
            ...networkBadges(p)),
          h("span", { class: "flags" },
            p.hand ? h("span", { class: "ico ico-hand on", title: t("hearing.hand.up") }) : null,
            p.muted || p.audio === false ? h("span", { class: "ico ico-mic off" }) : null),
          !isMe && (canMute || canRemove)
            ? h("span", { class: "person-actions" },
              canMute ? h("button", { type: "button", class: "btn btn-small",
                dataset: { action: "mute" } }, t(p.muted ? "hearing.unmute" : "hearing.mute")) : null,
              canRemove ? h("button", { type: "button", class: "btn btn-small btn-danger",
                dataset: { action: "remove" } }, t("hearing.remove")) : null)
            : null);
      }),
    );
  }

  renderControls() {
    const setCtrl = (sel, label, on, disabled) => {
      const btn = $(sel);
      btn.querySelector(".ctrl-label").textContent = t(btn.dataset.short);
      btn.setAttribute("aria-label", label);
      btn.title = label;
      btn.classList.toggle("off", !on);
      btn.setAttribute("aria-pressed", String(Boolean(on)));
      btn.disabled = Boolean(disabled);
    };
    const micAvailable = Boolean(this.local.audio);
    setCtrl("#btn-mic", t(this.micOn && micAvailable ? "hearing.mic.on" : "hearing.mic.off"),
      this.micOn && micAvailable, !micAvailable || this.serverMuted);
    setCtrl("#btn-cam", t(this.camOn && this.local.video ? "hearing.cam.on" : "hearing.cam.off"),
      this.camOn && this.local.video, !this.local.video);
    const handBtn = $("#btn-hand");
    handBtn.hidden = !this.permissions.includes("hand");
    handBtn.querySelector(".ctrl-label").textContent = t("ctrl.hand");
    handBtn.title = t(this.hand ? "hearing.hand.down" : "hearing.hand.up");
    handBtn.setAttribute("aria-label", handBtn.title);
    handBtn.setAttribute("aria-pressed", String(this.hand));
    handBtn.classList.toggle("active", this.hand);
    $("#btn-chat").hidden = !this.permissions.includes("chat");
    $("#btn-end").hidden = !this.permissions.includes("end");
    const badge = $("#chat-unread");
    badge.hidden = this.unread === 0;
    badge.textContent = String(this.unread);
  }

  togglePanel(id, force) {
    const panel = document.getElementById(id);
    const open = force ?? panel.hidden;
    for (const other of ["chat-panel", "people-panel"]) {
      document.getElementById(other).hidden = other === id ? !open : true;
    }
    if (id === "chat-panel" && open) {
      this.unread = 0;
      this.renderControls();
      $("#chat-input").focus();
      const list = $("#chat-messages");
      list.scrollTop = list.scrollHeight;
    }
  }

  // ---- Chat ------------------------------------------------------------------------

  addChat(msg) {
    this.chat.push(msg);
    if (this.chat.length > 500) this.chat.shift();
    if ($("#chat-panel").hidden && msg.from !== this.me.id) this.unread += 1;
    this.renderChat();
    this.renderControls();
  }

  renderChat() {
    const list = $("#chat-messages");
    if (!this.chat.length) {
      list.replaceChildren(h("li", { class: "muted" }, t("hearing.chat.empty")));
      return;
    }
    list.replaceChildren(
      ...this.chat.map((m) =>
        h("li", { class: m.from === this.me.id ? "mine" : "" },
          h("div", { class: "chat-meta" },
            h("span", { class: "name" }, m.display_name || ""),
            h("span", { class: "role" }, m.role ? roleName(m.role) : ""),
            h("time", {}, m.at ? formatTime(m.at) : "")),
          h("div", { class: "chat-text" }, m.text))),
    );
    list.scrollTop = list.scrollHeight;
  }
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

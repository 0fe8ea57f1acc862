// The hearing screen, put together from its parts: the participant tiles, the control bar,
// the chat and the people panel (with the hosts' lobby strip), and the banner over them.
// The participant page talks to this one object; the parts talk to each other through it.

import { $ } from "./dom.js";
import { ChatPanel } from "./chat_panel.js";
import { HearingControls } from "./hearing_controls.js";
import { t } from "./i18n.js";
import { PeoplePanel } from "./people_panel.js";
import { ParticipantTiles } from "./tiles.js";

const BANNER_MS = 5000;

/** The live hearing screen of one admitted participant, until destroy(). */
export class HearingView {
  /**
   * @param {{id: string, display_name: string, role: string}} me  this participant
   * @param {string[]} permissions  what the server lets this participant do (the welcome's)
   * @param {{stream: MediaStream, audio: MediaStreamTrack|null, video: MediaStreamTrack|null}}
   *   local  own media chosen at "join"
   * @param {(msg: object) => boolean} send  a protocol message; false when not connected
   * @param {() => void} onLeave  the participant confirmed leaving the hearing
   * @param {() => Map<string, number>} levels  audio levels by participant id, "self" for
   *   this participant's microphone (the active speaker)
   */
  constructor({ me, permissions, local, send, onLeave, levels }) {
    this.me = me;
    this.roster = [];
    this.bannerTimer = null;
    this.controls = new HearingControls({
      permissions,
      local,
      send,
      notify: (text) => this.banner(text),
      onLeave,
      onOwnMediaChange: () => this.tiles.setOwnMedia(this.controls.ownMedia()),
      onPanelOpened: (id) => {
        if (id === "chat-panel") this.chat.opened();
      },
    });
    this.tiles = new ParticipantTiles({ me, local, levels, ownMedia: this.controls.ownMedia() });
    this.people = new PeoplePanel({ selfId: me.id, permissions, send });
    this.chat = new ChatPanel({ selfId: me.id, send });
    this.render();
  }

  destroy() {
    clearTimeout(this.bannerTimer);
    this.controls.destroy();
    this.tiles.destroy();
    this.people.destroy();
    this.chat.destroy();
  }

  /** The hearing's participants changed (the `roster` message). */
  setRoster(list) {
    const before = new Map(this.roster.map((p) => [p.id, p]));
    this.roster = Array.isArray(list) ? list : [];
    for (const p of this.roster) {
      const old = before.get(p.id);
      if (p.hand && old && !old.hand && p.id !== this.me.id) {
        this.banner(t("hearing.handRaised", { name: p.display_name }));
      }
    }
    this.controls.followRoster(this.roster.find((p) => p.id === this.me.id));
    this.controls.render();
    this.tiles.setOwnMedia(this.controls.ownMedia());
    this.tiles.setRoster(this.roster);
    this.people.setRoster(this.roster);
  }

  /** The server's streams changed: participant id -> MediaStream. */
  setRemoteStreams(streams) {
    this.tiles.setRemoteStreams(streams);
  }

  /** A `chat` message. */
  addChat(msg) {
    this.chat.add(msg);
  }

  /** A host muted or unmuted this participant (the `muted` message). */
  setServerMuted(muted) {
    this.controls.setServerMuted(muted);
  }

  /** Tell the server what this page publishes (a new connection starts knowing nothing). */
  sendMediaState() {
    this.controls.sendMediaState();
  }

  /** A short message over the hearing that goes away by itself. */
  banner(text, ms = BANNER_MS) {
    const el = $("#banner");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.bannerTimer);
    this.bannerTimer = setTimeout(() => {
      el.hidden = true;
    }, ms);
  }

  /** Everything again, e.g. in another language. */
  render() {
    this.tiles.render();
    this.people.render();
    this.controls.render();
    this.chat.render();
  }
}

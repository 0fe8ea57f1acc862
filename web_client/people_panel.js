// Who is in the hearing and who waits to get in: the people panel (with a host's mute and
// remove) and, for hosts, the lobby strip over the tiles with admit and deny.

import { $, h } from "./dom.js";
import { roleName, t } from "./i18n.js";
import { networkBadges } from "./quality.js";

/** #people-list and the hosts' #lobby-strip; buttons carry data-action on a data-participant-id row. */
export class PeoplePanel {
  /**
   * @param {string} selfId  this participant's id (no actions on oneself)
   * @param {string[]} permissions  from the welcome: "admit" shows the lobby strip, "mute"
   *   and "remove" the per-participant buttons
   * @param {(msg: object) => boolean} send  a protocol message to the server
   */
  constructor({ selfId, permissions, send }) {
    this.selfId = selfId;
    this.permissions = permissions;
    this.send = send;
    this.roster = [];
    this.lobbyList = $("#lobby-list");
    this.peopleList = $("#people-list");
    // Delegation on the stable lists: their rows are rebuilt on every roster.
    this.onClick = (event) => this.act(event);
    this.lobbyList.addEventListener("click", this.onClick);
    this.peopleList.addEventListener("click", this.onClick);
  }

  destroy() {
    this.lobbyList.removeEventListener("click", this.onClick);
    this.peopleList.removeEventListener("click", this.onClick);
    this.lobbyList.replaceChildren();
    this.peopleList.replaceChildren();
  }

  /** The hearing's participants changed (the `roster` message). */
  setRoster(roster) {
    this.roster = roster;
    this.render();
  }

  act(event) {
    const btn = event.target.closest("button[data-action]");
    if (!btn) return;
    const id = btn.closest("[data-participant-id]")?.dataset.participantId;
    if (!id) return;
    const entry = this.roster.find((p) => p.id === id);
    const action = btn.dataset.action;
    if (action === "admit" || action === "deny") {
      // One answer per person: the row goes when the next roster arrives.
      btn.disabled = true;
      this.send({ type: action, participant_id: id });
    } else if (action === "mute") {
      this.send({ type: "mute", participant_id: id, muted: !entry?.muted });
    } else if (action === "remove") {
      if (window.confirm(t("hearing.removeConfirm", { name: entry?.display_name || "" }))) {
        this.send({ type: "remove", participant_id: id });
      }
    }
  }

  render() {
    this.renderLobby();
    this.renderPeople();
  }

  renderLobby() {
    const strip = $("#lobby-strip");
    if (!this.permissions.includes("admit")) {
      strip.hidden = true;
      return;
    }
    const waiting = this.roster.filter((p) => p.state === "lobby" && p.connected !== false);
    strip.hidden = waiting.length === 0;
    $("#lobby-heading").textContent = t("hearing.lobby", { count: waiting.length });
    this.lobbyList.replaceChildren(
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
    this.peopleList.replaceChildren(
      ...people.map((p) => {
        const isMe = p.id === this.selfId;
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
}

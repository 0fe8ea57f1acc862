// The hearing's chat: the messages panel, the form that sends one, and the unread count on
// the control bar's chat button while the panel is closed.

import { $, h } from "./dom.js";
import { formatTime, roleName, t } from "./i18n.js";

// The protocol's limit for one chat message.
const MAX_TEXT = 2000;
// What a long hearing keeps on a phone.
const MAX_KEPT = 500;

/** #chat-panel with #chat-messages and #chat-form, and the #chat-unread badge. */
export class ChatPanel {
  /**
   * @param {string} selfId  this participant's id (own messages are set apart, never unread)
   * @param {(msg: object) => boolean} send  a protocol message; false when not connected,
   *   and then the typed text stays in the box
   */
  constructor({ selfId, send }) {
    this.selfId = selfId;
    this.send = send;
    this.messages = [];
    this.unread = 0;
    this.panel = $("#chat-panel");
    this.list = $("#chat-messages");
    this.form = $("#chat-form");
    this.onSubmit = (event) => {
      event.preventDefault();
      const input = $("#chat-input");
      const text = input.value.trim();
      if (!text) return;
      if (this.send({ type: "chat", text: text.slice(0, MAX_TEXT) })) input.value = "";
    };
    this.form.addEventListener("submit", this.onSubmit);
  }

  destroy() {
    this.form.removeEventListener("submit", this.onSubmit);
    this.list.replaceChildren();
  }

  /** A `chat` message from the server (own messages come back this way too). */
  add(msg) {
    this.messages.push(msg);
    if (this.messages.length > MAX_KEPT) this.messages.shift();
    if (this.panel.hidden && msg.from !== this.selfId) this.unread += 1;
    this.render();
  }

  /** The panel was opened: everything is read, the newest message in view. */
  opened() {
    this.unread = 0;
    this.renderUnread();
    $("#chat-input").focus();
    this.list.scrollTop = this.list.scrollHeight;
  }

  render() {
    this.renderUnread();
    if (!this.messages.length) {
      this.list.replaceChildren(h("li", { class: "muted" }, t("hearing.chat.empty")));
      return;
    }
    this.list.replaceChildren(
      ...this.messages.map((m) =>
        h("li", { class: m.from === this.selfId ? "mine" : "" },
          h("div", { class: "chat-meta" },
            h("span", { class: "name" }, m.display_name || ""),
            h("span", { class: "role" }, m.role ? roleName(m.role) : ""),
            h("time", {}, m.at ? formatTime(m.at) : "")),
          h("div", { class: "chat-text" }, m.text))),
    );
    this.list.scrollTop = this.list.scrollHeight;
  }

  renderUnread() {
    const badge = $("#chat-unread");
    badge.hidden = this.unread === 0;
    badge.textContent = String(this.unread);
  }
}

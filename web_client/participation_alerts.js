// For hosts: a party who must follow the hearing cannot (their page loses more than a tenth
// of the audio, or they are disconnected). The judge sees who and since when, so the court
// can repeat what was missed; when they can follow again the note says what interval it was.

import { h } from "./dom.js";
import { formatTime, roleName, t } from "./i18n.js";

// A resolved alert stays this long, with the interval missed, then goes.
const RESOLVED_SHOWN_MS = 20000;

/** The `#participation-alerts` list on a host's hearing screen. */
export class ParticipationAlerts {
  /** @param {HTMLElement} container  where the alerts are listed (hidden when empty) */
  constructor(container) {
    this.container = container;
    this.alerts = new Map(); // participant id -> the latest participation_alert message
    this.timers = new Map();
  }

  /** A `participation_alert` message from the server. */
  handle(msg) {
    if (!msg || typeof msg.participant_id !== "string") return;
    clearTimeout(this.timers.get(msg.participant_id));
    this.alerts.set(msg.participant_id, msg);
    if (msg.resolved) {
      this.timers.set(msg.participant_id, setTimeout(() => {
        this.alerts.delete(msg.participant_id);
        this.render();
      }, RESOLVED_SHOWN_MS));
    }
    this.render();
  }

  /**
   * A `page_replaced` message: the party's link was opened on another page, which now holds
   * the seat. Shown like a resolved alert: the judge may want to ask who is there now.
   */
  replaced(msg) {
    if (!msg || typeof msg.participant_id !== "string") return;
    this.handle({ ...msg, reason: "replaced", resolved: true, since: new Date().toISOString() });
  }

  render() {
    const items = [...this.alerts.values()].map((a) => {
      const who = `${a.display_name} (${roleName(a.role)})`;
      const since = a.since ? formatTime(a.since, true) : "—";
      const text = a.reason === "replaced" ? t("participation.replaced", { who, since }) : a.resolved
        ? t("participation.restored", { who, since, until: a.until ? formatTime(a.until, true) : "—" })
        : t(`participation.${a.reason === "disconnected" ? "disconnected" : "cannotHear"}`, { who, since });
      return h("li", {
        class: a.resolved ? "participation-ok" : "participation-lost",
        dataset: { participantId: a.participant_id, reason: a.reason, resolved: a.resolved ? "1" : "0" },
      }, text);
    });
    this.container.replaceChildren(...items);
    this.container.hidden = items.length === 0;
  }

  destroy() {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

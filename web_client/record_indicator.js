// "On the record": the indicator every admitted page shows, the host's switch, and the
// recorder alert hosts must see at once when the official record is losing media.

import { $, h } from "./dom.js";
import { onLanguageChange, t } from "./i18n.js";

/** Owns #record-indicator, #btn-record and #recorder-alert on the participant page. */
export class RecordIndicator {
  constructor({ onRecord, canSwitch, send, nameOf, banner }) {
    this.on = Boolean(onRecord);
    this.canSwitch = canSwitch;
    this.send = send;
    this.nameOf = nameOf;
    this.banner = banner;
    this.faults = new Map(); // track -> alert message
    this.indicator = $("#record-indicator");
    this.button = $("#btn-record");
    this.alert = $("#recorder-alert");
    this.button.hidden = !canSwitch;
    this.button.onclick = () => this.send({ type: "record", on: !this.on });
    onLanguageChange(() => this.render());
    this.render();
  }

  /** A host switched the record on or off (the `record` message). */
  setOn(on) {
    if (this.on === Boolean(on)) return;
    this.on = Boolean(on);
    this.banner(t(this.on ? "record.turnedOn" : "record.turnedOff"));
    this.render();
  }

  /** A `recorder_alert` (hosts only): shown until every faulty track records again. */
  handleAlert(msg) {
    const track = String(msg.track || "");
    if (msg.resolved) {
      this.faults.delete(track);
      if (this.faults.size === 0) this.banner(t("record.resolved"));
    } else {
      this.faults.set(track, msg);
    }
    this.render();
  }

  render() {
    this.indicator.hidden = false;
    this.indicator.dataset.on = String(this.on);
    this.indicator.textContent = t(this.on ? "record.on" : "record.off");
    this.button.querySelector(".ctrl-label").textContent =
      t(this.on ? "record.switchOff" : "record.switchOn");
    this.alert.replaceChildren(...[...this.faults.values()].map((msg) => h(
      "p",
      { class: "recorder-fault", dataset: { track: String(msg.track || "") } },
      msg.track === "disk"
        ? t("record.alertDisk", { reason: String(msg.reason || "") })
        : t("record.alert", {
          who: this.nameOf(msg.participant_id) || String(msg.participant_id || ""),
          reason: String(msg.reason || ""),
        }),
    )));
    this.alert.hidden = this.faults.size === 0;
  }
}

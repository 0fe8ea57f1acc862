// The hearing screen's control bar: this participant's microphone and camera (which a host
// can mute from the server), the raised hand, the chat and people panels, leave, and the
// hosts' "end the hearing".

import { $ } from "./dom.js";
import { t } from "./i18n.js";

const PANELS = ["chat-panel", "people-panel"];

/** The buttons of nav.controls and the side panels they open. */
export class HearingControls {
  /**
   * @param {string[]} permissions  what the server lets this participant do ("hand",
   *   "chat", "end", ...), from the welcome
   * @param {{audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} local  own tracks
   *   chosen at "join" (null when refused or not published); switched by enabling them
   * @param {(msg: object) => boolean} send  a protocol message to the server
   * @param {(text: string) => void} notify  a short banner over the hearing
   * @param {() => void} onLeave  the participant confirmed leaving the hearing
   * @param {() => void} onOwnMediaChange  microphone, camera or hand changed (see ownMedia)
   * @param {(panelId: string) => void} onPanelOpened  "chat-panel" or "people-panel" opened
   */
  constructor({ permissions, local, send, notify, onLeave, onOwnMediaChange, onPanelOpened }) {
    this.permissions = permissions;
    this.local = local;
    this.send = send;
    this.notify = notify;
    this.onLeave = onLeave;
    this.onOwnMediaChange = onOwnMediaChange;
    this.onPanelOpened = onPanelOpened;
    this.micOn = Boolean(local.audio);
    this.camOn = Boolean(local.video);
    this.hand = false;
    this.serverMuted = false; // a host muted this participant: the microphone stays off
    this.unbinders = [];
    this.bind();
  }

  bind() {
    const on = (el, fn) => {
      el.addEventListener("click", fn);
      this.unbinders.push(() => el.removeEventListener("click", fn));
    };
    on($("#btn-mic"), () => this.toggleMic());
    on($("#btn-cam"), () => this.toggleCam());
    on($("#btn-hand"), () => this.toggleHand());
    on($("#btn-chat"), () => this.togglePanel("chat-panel"));
    on($("#btn-people"), () => this.togglePanel("people-panel"));
    on($("#btn-leave"), () => {
      if (window.confirm(t("hearing.leaveConfirm"))) this.onLeave();
    });
    on($("#btn-end"), () => {
      if (window.confirm(t("hearing.endConfirm"))) this.send({ type: "end" });
    });
    for (const btn of document.querySelectorAll(".panel-close")) {
      on(btn, () => this.togglePanel(btn.dataset.panel, false));
    }
  }

  destroy() {
    for (const off of this.unbinders) off();
    this.unbinders = [];
  }

  /** What this participant's own tile shows. */
  ownMedia() {
    return {
      micOn: Boolean(this.local.audio) && this.micOn,
      camOn: Boolean(this.local.video) && this.camOn,
      hand: this.hand,
    };
  }

  toggleMic() {
    if (!this.local.audio || this.serverMuted) return;
    this.micOn = !this.micOn;
    this.local.audio.enabled = this.micOn;
    this.ownMediaChanged();
  }

  toggleCam() {
    if (!this.local.video) return;
    this.camOn = !this.camOn;
    this.local.video.enabled = this.camOn;
    this.ownMediaChanged();
  }

  toggleHand() {
    this.hand = !this.hand;
    this.send({ type: "hand", raised: this.hand });
    this.render();
    this.onOwnMediaChange();
  }

  ownMediaChanged() {
    this.sendMediaState();
    this.render();
    this.onOwnMediaChange();
  }

  /** Tell the server what this page publishes (again after every reconnect). */
  sendMediaState() {
    this.send({
      type: "media_state",
      audio: Boolean(this.local.audio) && this.micOn && !this.serverMuted,
      video: Boolean(this.local.video) && this.camOn,
    });
  }

  /** A host muted or unmuted this participant (the `muted` message). */
  setServerMuted(muted) {
    this.serverMuted = muted;
    if (muted) this.silenceMic();
    this.notify(t(muted ? "hearing.mutedBy" : "hearing.unmutedBy"));
    this.ownMediaChanged();
  }

  /**
   * The roster's word on this participant's mute, which the page may not have heard as a
   * `muted` message (it was muted while reconnecting, or before the view existed).
   */
  followRoster(mine) {
    if (!mine || mine.muted === undefined || mine.muted === this.serverMuted) return;
    this.serverMuted = mine.muted;
    if (mine.muted) this.silenceMic();
  }

  silenceMic() {
    if (!this.local.audio) return;
    this.micOn = false;
    this.local.audio.enabled = false;
  }

  /** Open or close a side panel (`open` undefined: toggle); one panel at a time. */
  togglePanel(id, open) {
    const opening = open ?? document.getElementById(id).hidden;
    for (const panel of PANELS) {
      document.getElementById(panel).hidden = panel === id ? !opening : true;
    }
    if (opening) this.onPanelOpened(id);
  }

  render() {
    const setCtrl = (btn, label, on, disabled) => {
      btn.querySelector(".ctrl-label").textContent = t(btn.dataset.short);
      btn.setAttribute("aria-label", label);
      btn.title = label;
      btn.classList.toggle("off", !on);
      btn.setAttribute("aria-pressed", String(Boolean(on)));
      btn.disabled = Boolean(disabled);
    };
    const { micOn, camOn } = this.ownMedia();
    setCtrl($("#btn-mic"), t(micOn ? "hearing.mic.on" : "hearing.mic.off"),
      micOn, !this.local.audio || this.serverMuted);
    setCtrl($("#btn-cam"), t(camOn ? "hearing.cam.on" : "hearing.cam.off"), camOn, !this.local.video);
    const handBtn = $("#btn-hand");
    handBtn.hidden = !this.permissions.includes("hand");
    handBtn.querySelector(".ctrl-label").textContent = t("ctrl.hand");
    handBtn.title = t(this.hand ? "hearing.hand.down" : "hearing.hand.up");
    handBtn.setAttribute("aria-label", handBtn.title);
    handBtn.setAttribute("aria-pressed", String(this.hand));
    handBtn.classList.toggle("active", this.hand);
    $("#btn-chat").hidden = !this.permissions.includes("chat");
    $("#btn-end").hidden = !this.permissions.includes("end");
  }
}

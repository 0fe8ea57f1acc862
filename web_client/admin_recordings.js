// The clerk's "Recordings" section: every recording on this server with its state, size,
// duration and verification result, and download buttons (zip, composite). Downloads send
// the admin token in the Authorization header, never in a URL, so they go through fetch.

import { errorText } from "./admin_api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const DOWNLOADABLE = new Set(["ready", "failed", "incomplete"]);

export class RecordingsPanel {
  constructor(api, container, { onAuthFailure }) {
    this.api = api;
    this.container = container;
    this.onAuthFailure = onAuthFailure;
    this.recordings = [];
    this.heading = h("h2", { id: "recordings-heading" });
    this.error = h("p", { class: "form-error", role: "alert", hidden: true });
    this.list = h("ul", { id: "recording-list", class: "participant-list" });
    this.container.replaceChildren(this.heading, this.error, this.list);
    this.render();
  }

  async refresh() {
    try {
      const body = await this.api.request("GET", "/api/recordings");
      this.recordings = body.recordings || [];
      this.error.hidden = true;
    } catch (err) {
      if (!this.onAuthFailure(err)) this.showError(err);
    }
    this.render();
  }

  showError(err) {
    this.error.textContent = errorText(err);
    this.error.hidden = false;
  }

  render() {
    this.heading.textContent = t("rec.title");
    if (!this.recordings.length) {
      this.list.replaceChildren(h("li", { class: "muted" }, t("rec.none")));
      return;
    }
    this.list.replaceChildren(...this.recordings.map((r) => this.item(r)));
  }

  item(r) {
    const state = t(`rec.state.${r.state}`, { pct: Math.round((r.progress || 0) * 100) });
    const mb = ((r.size_bytes || 0) / 1e6).toFixed(1);
    const seconds = Math.round(r.duration_s || 0);
    const facts = [state, t("rec.size", { mb }),
      t("rec.duration", { min: Math.floor(seconds / 60), sec: seconds % 60 })];
    const v = r.verification;
    const verdict = !v ? t("rec.unchecked")
      : v.ok ? t("rec.verified") : t("rec.not_verified", { problems: v.problems.join("; ") });
    const buttons = [];
    if (DOWNLOADABLE.has(r.state)) {
      buttons.push(this.button("rec.zip", "zip",
        () => this.download(`/api/hearings/${encodeURIComponent(r.hearing_id)}/recording`,
          `recording-${r.hearing_id}.zip`)));
      if (r.has_composite) {
        buttons.push(this.button("rec.composite", "composite",
          () => this.download(
            `/api/hearings/${encodeURIComponent(r.hearing_id)}/recording/composite.mp4`,
            `${r.hearing_id}-composite.mp4`)));
      }
      buttons.push(this.button("rec.verify", "verify", () => this.verify(r.hearing_id)));
    }
    return h("li", { class: "recording", dataset: { hearingId: r.hearing_id, state: r.state } },
      h("strong", {}, `${r.case_number || ""} ${r.title || r.hearing_id}`.trim()),
      h("span", { class: "recording-facts" }, facts.join(" · ")),
      h("span", { class: v && !v.ok ? "recording-verdict form-error" : "recording-verdict" },
        verdict),
      h("span", { class: "actions" }, ...buttons));
  }

  button(key, action, onclick) {
    return h("button", { type: "button", class: "btn", dataset: { action }, onclick },
      t(key));
  }

  async download(path, filename) {
    try {
      const response = await fetch(path, {
        headers: { Authorization: `Bearer ${this.api.token}` }, cache: "no-store",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      this.showError(err);
    }
  }

  async verify(hearingId) {
    try {
      await this.api.request("POST", `/api/recordings/${encodeURIComponent(hearingId)}/verify`);
    } catch (err) {
      if (!this.onAuthFailure(err)) this.showError(err);
    }
    await this.refresh();
  }
}

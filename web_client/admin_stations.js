// The clerk's "Facility workstations" section: create a workstation and show its one-time
// enrolment link with a QR code, list workstations with their status, re-issue a link, revoke.

import { ApiError, errorText } from "./admin_api.js";
import { h, svgDataUrl } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";

export class StationsPanel {
  constructor(api, container, { onAuthFailure, onChanged }) {
    this.api = api;
    this.container = container;
    this.onAuthFailure = onAuthFailure;
    this.onChanged = onChanged;
    this.stations = [];
    // Station id -> the enrolment answer; shown until the page reloads, never fetched again.
    this.links = new Map();
    this.build();
  }

  /** Workstations a participant can be assigned to (not revoked). */
  assignable() {
    return this.stations.filter((s) => s.status !== "revoked");
  }

  nameOf(id) {
    return this.stations.find((s) => s.id === id)?.name || id;
  }

  build() {
    this.heading = h("h2", { id: "stations-heading" });
    this.nameLabel = h("span");
    this.facilityLabel = h("span");
    this.nameInput = h("input", { id: "station-name", name: "name", maxlength: "80",
      required: true, autocomplete: "off" });
    this.facilityInput = h("input", { id: "station-facility", name: "facility", maxlength: "120",
      required: true, autocomplete: "off" });
    this.createButton = h("button", { id: "station-create", type: "submit", class: "btn btn-primary" });
    this.error = h("p", { id: "station-error", class: "form-error", role: "alert", hidden: true });
    this.list = h("ul", { id: "station-list", class: "participant-list" });
    this.form = h("form", { novalidate: true, onsubmit: (e) => this.create(e) },
      h("div", { class: "field-row" },
        h("label", { class: "field" }, this.nameLabel, this.nameInput),
        h("label", { class: "field" }, this.facilityLabel, this.facilityInput)),
      this.error, this.createButton);
    this.container.replaceChildren(this.heading, this.list, this.form);
    this.render();
  }

  async refresh() {
    try {
      const data = await this.api.request("GET", "/api/stations");
      this.stations = data.stations || [];
      this.render();
    } catch (err) {
      this.fail(err);
    }
  }

  fail(err) {
    if (err instanceof ApiError && this.onAuthFailure(err)) return;
    this.error.textContent = errorText(err);
    this.error.hidden = false;
  }

  render() {
    this.heading.textContent = t("admin.stations");
    this.nameLabel.textContent = t("admin.stations.name");
    this.facilityLabel.textContent = t("admin.stations.facility");
    this.createButton.textContent = t("admin.stations.create");
    if (!this.stations.length) {
      this.list.replaceChildren(h("li", { class: "muted empty" }, t("admin.stations.none")));
      return;
    }
    this.list.replaceChildren(...[...this.stations].reverse().map((s) => this.item(s)));
  }

  item(s) {
    const revoked = s.status === "revoked";
    const link = this.links.get(s.id);
    return h("li", { class: `station-item${revoked ? " revoked" : ""}`,
      dataset: { stationId: s.id, status: s.status } },
    h("div", { class: "participant-head" },
      h("span", { class: "participant-name" }, s.name),
      h("span", { class: "participant-role" }, s.facility),
      h("span", { class: `badge station-status pstate-${revoked ? "revoked" : s.status === "enrolled" ? "admitted" : "lobby"}` },
        t(`admin.stations.status.${s.status}`)),
      revoked ? null : h("button", {
        type: "button", class: "btn btn-small btn-ghost", dataset: { action: "new-link" },
        onclick: () => this.newLink(s),
      }, t("admin.stations.newLink")),
      revoked ? null : h("button", {
        type: "button", class: "btn btn-small btn-ghost", dataset: { action: "revoke-station" },
        onclick: () => this.revoke(s),
      }, t("admin.stations.revoke"))),
    link && !revoked && s.status !== "enrolled" ? this.linkBox(s, link) : null);
  }

  linkBox(s, link) {
    return h("div", { class: "link-box" },
      h("div", { class: "link-text" },
        h("p", { class: "muted link-hint" },
          t("admin.stations.enrolLink", { time: formatDateTime(link.enrolment_expires_at) })),
        h("code", { class: "enrol-url", dataset: { stationId: s.id } }, link.enrol_url)),
      h("img", { class: "enrol-qr", alt: link.enrol_url, width: "180", height: "180",
        src: svgDataUrl(link.enrol_qr_svg || "") }));
  }

  async create(event) {
    event.preventDefault();
    this.error.hidden = true;
    this.createButton.disabled = true;
    try {
      const created = await this.api.request("POST", "/api/stations", {
        name: this.nameInput.value.trim(), facility: this.facilityInput.value.trim(),
      });
      this.links.set(created.id, created);
      this.nameInput.value = "";
      await this.refresh();
      this.onChanged();
    } catch (err) {
      this.fail(err);
    } finally {
      this.createButton.disabled = false;
    }
  }

  async newLink(s) {
    try {
      const renewed = await this.api.request(
        "POST", `/api/stations/${encodeURIComponent(s.id)}/enrolment`);
      this.links.set(s.id, renewed);
      await this.refresh();
    } catch (err) {
      this.fail(err);
    }
  }

  async revoke(s) {
    if (!window.confirm(t("admin.stations.revokeConfirm", { name: s.name }))) return;
    try {
      await this.api.request("DELETE", `/api/stations/${encodeURIComponent(s.id)}`);
      this.links.delete(s.id);
      await this.refresh();
      this.onChanged();
    } catch (err) {
      this.fail(err);
    }
  }
}

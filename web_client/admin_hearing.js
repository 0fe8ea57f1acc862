// One hearing on the clerk's page: participants and their links, revoke, end, legal hold,
// audit timeline.
// The skeleton is built once; refreshes update it in place so a half-typed name or a
// selected link is not wiped every few seconds.

import { ApiError, errorText } from "./admin_api.js";
import { h, svgDataUrl } from "./dom.js";
import { eventName, formatDateTime, formatTime, ROLE_NAMES, roleName, t } from "./i18n.js";

const HOSTS = new Set(["judge", "mediator", "clerk"]);
// The timeline comes a page at a time: a flooded hearing's thousands of events took the page
// seconds to render in one piece.
const EVENTS_PAGE = 200;

export class HearingDetail {
  constructor(api, id, container, { onChanged, onAuthFailure, stations }) {
    this.api = api;
    this.stations = stations; // the StationsPanel: assignable workstations and their names
    this.id = id;
    this.container = container;
    this.onChanged = onChanged;
    this.onAuthFailure = onAuthFailure;
    this.hearing = null;
    this.events = []; // the timeline from its start, as far as loaded
    this.eventsNext = null; // the next page's cursor while the clerk has not loaded it
    this.links = new Map(); // participant id -> {join_url, join_qr_svg}; shown once, kept in memory
    this.items = new Map(); // participant id -> <li>
    this.closed = false;
    this.build();
  }

  close() {
    this.closed = true;
  }

  build() {
    this.title = h("h2", { class: "detail-title" }, t("common.loading"));
    this.info = h("div", { class: "detail-info" });
    this.error = h("p", { class: "form-error", role: "alert", hidden: true });
    this.endButton = h("button", {
      type: "button", id: "hearing-end", class: "btn btn-danger",
      onclick: () => this.end(),
    });
    this.participantsHeading = h("h3");
    this.list = h("ul", { class: "participant-list" });
    this.nameInput = h("input", {
      id: "participant-name", name: "display_name", required: true, maxlength: "120",
      autocomplete: "off",
    });
    this.roleSelect = h("select", { id: "participant-role", name: "role" });
    this.stationSelect = h("select", { id: "participant-station", name: "station_id" });
    this.stationLabel = h("span");
    this.addButton = h("button", { id: "participant-add", type: "submit", class: "btn btn-primary" });
    this.addError = h("p", { class: "form-error", role: "alert", hidden: true });
    this.nameLabel = h("span");
    this.roleLabel = h("span");
    this.addHeading = h("h3");
    this.form = h(
      "form",
      { class: "add-participant", novalidate: true, onsubmit: (e) => this.add(e) },
      this.addHeading,
      h("div", { class: "field-row" },
        h("label", { class: "field" }, this.nameLabel, this.nameInput),
        h("label", { class: "field" }, this.roleLabel, this.roleSelect)),
      h("label", { class: "field" }, this.stationLabel, this.stationSelect),
      this.addError,
      this.addButton,
    );
    this.buildLegalHold();
    this.eventsHeading = h("h3");
    this.eventList = h("ol", { class: "event-list" });
    this.moreEvents = h("button", {
      type: "button", class: "btn btn-ghost btn-small more-events", hidden: true,
      onclick: () => this.loadMoreEvents(),
    });
    this.container.replaceChildren(
      h("div", { class: "detail-head" }, this.title, this.info),
      this.error,
      this.participantsHeading,
      this.list,
      this.form,
      h("div", { class: "detail-actions" }, this.endButton),
      this.holdBox,
      h("details", { class: "events", open: true },
        h("summary", {}, this.eventsHeading), this.eventList, this.moreEvents),
    );
    this.container.dataset.hearingId = this.id;
    this.fillRoles();
  }

  // The court must keep a hearing under legal hold (e.g. an appeal) whatever the retention
  // period: placing one takes a reason, which the timeline records.
  buildLegalHold() {
    this.holdHeading = h("h3");
    this.holdStatus = h("p", { id: "legal-hold-status", class: "muted", role: "status" });
    this.holdReasonLabel = h("span");
    this.holdReason = h("input", {
      id: "legal-hold-reason", name: "reason", maxlength: "500", autocomplete: "off",
    });
    this.holdPlace = h("button", { id: "legal-hold-place", type: "submit", class: "btn" });
    this.holdLift = h("button", {
      id: "legal-hold-lift", type: "button", class: "btn btn-ghost",
      onclick: () => this.liftHold(),
    });
    this.holdError = h("p", { class: "form-error", role: "alert", hidden: true });
    this.holdForm = h("form", { class: "legal-hold-form", novalidate: true,
      onsubmit: (e) => this.placeHold(e) },
    h("label", { class: "field" }, this.holdReasonLabel, this.holdReason), this.holdPlace);
    this.holdBox = h("section", { class: "legal-hold" },
      this.holdHeading, this.holdStatus, this.holdForm, this.holdLift, this.holdError);
  }

  renderLegalHold() {
    const hr = this.hearing;
    this.holdHeading.textContent = t("admin.hold.title");
    this.holdReasonLabel.textContent = t("admin.hold.reason");
    this.holdPlace.textContent = t("admin.hold.place");
    this.holdLift.textContent = t("admin.hold.lift");
    const hold = hr.legal_hold;
    this.holdBox.classList.toggle("held", Boolean(hold));
    if (hold) {
      this.holdStatus.textContent = t("admin.hold.held", {
        reason: hold.reason, by: hold.placed_by, at: formatDateTime(hold.placed_at),
      });
    } else if (hr.retention_expires_at) {
      this.holdStatus.textContent = t("admin.hold.expires", {
        date: formatDateTime(hr.retention_expires_at),
      });
    } else {
      this.holdStatus.textContent = t("admin.hold.keptForever");
    }
    this.holdForm.hidden = Boolean(hold);
    this.holdLift.hidden = !hold;
  }

  async placeHold(event) {
    event.preventDefault();
    this.holdError.hidden = true;
    const reason = this.holdReason.value.trim();
    if (!reason) {
      this.holdError.textContent = t("admin.hold.needReason");
      this.holdError.hidden = false;
      this.holdReason.focus();
      return;
    }
    this.holdPlace.disabled = true;
    try {
      await this.api.placeLegalHold(this.id, reason);
      this.holdReason.value = "";
      await this.refresh();
    } catch (err) {
      this.fail(err, this.holdError);
    } finally {
      this.holdPlace.disabled = false;
    }
  }

  async liftHold() {
    if (!window.confirm(t("admin.hold.liftConfirm"))) return;
    this.holdError.hidden = true;
    try {
      await this.api.liftLegalHold(this.id);
      await this.refresh();
    } catch (err) {
      this.fail(err, this.holdError);
    }
  }

  fillRoles() {
    const previous = this.roleSelect.value;
    this.roleSelect.replaceChildren(...ROLE_NAMES.map((r) => new Option(roleName(r), r)));
    this.roleSelect.value = previous || this.defaultRole();
  }

  fillStations() {
    this.stationLabel.textContent = t("admin.detail.station");
    const previous = this.stationSelect.value;
    const options = (this.stations?.assignable() || []).map((s) =>
      new Option(`${s.name} · ${s.facility}`, s.id));
    this.stationSelect.replaceChildren(new Option(t("admin.detail.noStation"), ""), ...options);
    this.stationSelect.value = options.some((o) => o.value === previous) ? previous : "";
  }

  defaultRole() {
    const host = this.hearing?.kind === "mediation" ? "mediator" : "judge";
    const hasHost = (this.hearing?.participants || []).some(
      (p) => HOSTS.has(p.role) && !p.revoked_at,
    );
    return hasHost ? "defendant" : host;
  }

  async refresh() {
    if (this.closed) return;
    try {
      // Once read to the end, each refresh asks only for what is new; while pages remain
      // unread, the clerk asks for them with "more".
      const reading = this.eventsNext === null;
      const after = this.events.length;
      const [hearing, page] = await Promise.all([
        this.api.getHearing(this.id),
        reading ? this.api.events(this.id, after, EVENTS_PAGE) : null,
      ]);
      if (this.closed) return;
      const first = !this.hearing;
      this.hearing = hearing;
      // Two refreshes may overlap: only the answer that continues the timeline is kept.
      if (page && this.eventsNext === null && this.events.length === after) this.addEvents(page);
      this.error.hidden = true;
      if (first && !this.nameInput.value) this.roleSelect.value = this.defaultRole();
      this.render();
    } catch (err) {
      this.fail(err);
    }
  }

  addEvents(page) {
    this.events.push(...page.events);
    this.eventsNext = page.next;
  }

  async loadMoreEvents() {
    const after = this.eventsNext;
    if (after === null || after !== this.events.length) return;
    this.moreEvents.disabled = true;
    try {
      const page = await this.api.events(this.id, after, EVENTS_PAGE);
      if (this.closed || this.events.length !== after) return;
      this.addEvents(page);
      this.renderEvents();
    } catch (err) {
      this.fail(err);
    } finally {
      this.moreEvents.disabled = false;
    }
  }

  fail(err, where = this.error) {
    if (err instanceof ApiError && this.onAuthFailure(err)) return;
    where.textContent = errorText(err);
    where.hidden = false;
  }

  render() {
    this.participantsHeading.textContent = t("admin.detail.participants");
    this.addHeading.textContent = t("admin.detail.add");
    this.nameLabel.textContent = t("admin.detail.name");
    this.roleLabel.textContent = t("admin.detail.role");
    this.addButton.textContent = t("admin.detail.addSubmit");
    this.fillStations();
    this.endButton.textContent = t("admin.detail.end");
    this.eventsHeading.textContent = t("admin.detail.events");
    this.fillRoles();
    const hr = this.hearing;
    if (!hr) return;
    this.title.textContent = `${hr.case_number} — ${hr.title}`;
    const ended = hr.state === "ended";
    this.info.replaceChildren(
      h("span", { class: `badge state-${hr.state}` }, t(`hstate.${hr.state}`)),
      h("span", { class: "badge" }, t(`kind.${hr.kind}`)),
      h("span", { class: "badge" }, String(hr.language).toUpperCase()),
      h("span", { class: "badge" }, t("admin.detail.codec", { codec: hr.video_codec || "vp8" })),
      h("span", { class: "detail-when" },
        t("admin.detail.when", { start: formatDateTime(hr.starts_at), end: formatTime(hr.ends_at) })),
    );
    this.endButton.hidden = ended;
    this.form.hidden = ended;
    this.renderParticipants(ended);
    this.renderLegalHold();
    this.renderEvents();
  }

  renderParticipants(ended) {
    const people = [...(this.hearing.participants || [])].sort((a, b) =>
      String(a.created_at).localeCompare(String(b.created_at)));
    if (!people.length) {
      this.items.clear();
      this.list.replaceChildren(h("li", { class: "muted empty" }, t("admin.detail.noParticipants")));
      return;
    }
    const seen = new Set();
    const ordered = people.map((p) => {
      seen.add(p.id);
      let li = this.items.get(p.id);
      if (!li) {
        li = h("li", { class: "participant", dataset: { participantId: p.id } },
          h("div", { class: "participant-head" }));
        this.items.set(p.id, li);
      }
      this.fillParticipant(li, p, ended);
      return li;
    });
    for (const id of [...this.items.keys()]) if (!seen.has(id)) this.items.delete(id);
    // Re-append in order; moving existing nodes keeps their link boxes and selection.
    const current = [...this.list.children];
    if (current.length !== ordered.length || current.some((el, i) => el !== ordered[i])) {
      this.list.replaceChildren(...ordered);
    }
  }

  fillParticipant(li, p, ended) {
    const revoked = Boolean(p.revoked_at);
    const state = revoked ? "revoked" : p.state || (p.connected ? "admitted" : "offline");
    li.classList.toggle("revoked", revoked);
    li.querySelector(".participant-head").replaceChildren(
      h("span", { class: `dot state-${state}`, "aria-hidden": "true" }),
      h("span", { class: "participant-name" }, p.display_name),
      h("span", { class: "participant-role" }, roleName(p.role)),
      p.station_id ? h("span", { class: "badge participant-station", dataset: { stationId: p.station_id } },
        `${t("admin.detail.station")}: ${this.stations?.nameOf(p.station_id) ?? p.station_id}`) : null,
      h("span", { class: `badge pstate-${state}` }, t(`pstate.${state}`)),
      !revoked && !ended
        ? h("button", {
          type: "button", class: "btn btn-small btn-ghost revoke",
          dataset: { action: "revoke", participantId: p.id },
          onclick: () => this.revoke(p),
        }, t("admin.detail.revoke"))
        : null,
    );
    const link = this.links.get(p.id);
    let box = li.querySelector(".link-box");
    if (link && !revoked && !box) {
      box = this.linkBox(p.id, link);
      li.append(box);
    } else if (box && revoked) {
      box.remove();
    } else if (box) {
      box.querySelector(".copy").textContent = t("admin.detail.copy");
      box.querySelector(".link-hint").textContent = t("admin.detail.linkOnce");
      box.querySelector(".join-qr").alt = t("admin.detail.qr");
    }
  }

  linkBox(pid, link) {
    const url = h("code", { class: "join-url", dataset: { participantId: pid } }, link.join_url);
    const fallback = h("input", {
      class: "join-url-field", readonly: true, value: link.join_url, hidden: true,
      "aria-label": link.join_url, onfocus: (e) => e.target.select(),
    });
    const status = h("span", { class: "copy-status", role: "status" });
    const copy = h("button", {
      type: "button", class: "btn btn-small copy", dataset: { participantId: pid },
      onclick: async () => {
        try {
          if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
          await navigator.clipboard.writeText(link.join_url);
          status.textContent = t("admin.detail.copied");
        } catch {
          fallback.hidden = false;
          fallback.focus();
          fallback.select();
          status.textContent = t("admin.detail.copyFailed");
        }
      },
    }, t("admin.detail.copy"));
    const qr = h("img", {
      class: "join-qr", alt: t("admin.detail.qr"), width: "180", height: "180",
      src: svgDataUrl(link.join_qr_svg || ""), dataset: { participantId: pid },
    });
    return h("div", { class: "link-box" },
      h("div", { class: "link-text" }, url, fallback,
        h("div", { class: "link-actions" }, copy, status),
        h("p", { class: "muted link-hint" }, t("admin.detail.linkOnce"))),
      qr);
  }

  renderEvents() {
    // In the order things happened; "more" below loads the next page.
    const events = this.events;
    this.moreEvents.textContent = t("admin.detail.moreEvents");
    this.moreEvents.hidden = this.eventsNext === null;
    if (!events.length) {
      this.eventList.replaceChildren(h("li", { class: "muted" }, t("admin.detail.noEvents")));
      return;
    }
    const names = new Map((this.hearing?.participants || []).map((p) => [p.id, p.display_name]));
    const who = (id) => (names.has(id) ? names.get(id) : id);
    this.eventList.replaceChildren(
      ...events.map((ev) =>
        h("li", { class: "event", dataset: { kind: ev.kind } },
          h("time", { datetime: ev.at }, formatTime(ev.at, true)),
          h("span", { class: "event-kind" }, eventName(ev.kind)),
          ev.actor ? h("span", { class: "event-actor" }, who(ev.actor)) : null,
          h("span", { class: "event-data" }, summarize(ev.data, who)))),
    );
  }

  async add(event) {
    event.preventDefault();
    this.addError.hidden = true;
    this.addButton.disabled = true;
    try {
      const p = await this.api.addParticipant(this.id, this.nameInput.value.trim(),
        this.roleSelect.value, this.stationSelect.value || null);
      this.links.set(p.id, { join_url: p.join_url, join_qr_svg: p.join_qr_svg });
      this.nameInput.value = "";
      this.stationSelect.value = "";
      await this.refresh();
      this.roleSelect.value = this.defaultRole();
      this.onChanged();
    } catch (err) {
      this.fail(err, this.addError);
      this.nameInput.focus();
    } finally {
      this.addButton.disabled = false;
    }
  }

  async revoke(p) {
    if (!window.confirm(t("admin.detail.revokeConfirm", { name: p.display_name }))) return;
    try {
      await this.api.revokeParticipant(this.id, p.id);
      this.links.delete(p.id);
      await this.refresh();
      this.onChanged();
    } catch (err) {
      this.fail(err);
    }
  }

  async end() {
    if (!window.confirm(t("admin.detail.endConfirm"))) return;
    try {
      await this.api.endHearing(this.id);
      await this.refresh();
      this.onChanged();
    } catch (err) {
      this.fail(err);
    }
  }
}

function summarize(data, who) {
  if (!data || typeof data !== "object") return data ? String(data) : "";
  return Object.entries(data)
    .map(([k, v]) => {
      if (k === "participant_id") return who(v);
      if (k === "role") return roleName(v);
      return `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`;
    })
    .join(" · ");
}

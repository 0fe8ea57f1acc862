// The facility workstation page (/station): enrolment from a one-time link, then today's
// hearings for this workstation with a large join button and an automatic join at the start.
//
// The station credential lives in localStorage so a restarted browser needs no new
// enrolment; it is only ever sent in the Authorization header of /api/station/ calls.

import { $, h, showScreen } from "./dom.js";
import { applyI18n, bindLanguageSelect, formatTime, onLanguageChange, roleName, t } from "./i18n.js";
import { STATION_RETURN_KEY } from "./station_return.js";

const CREDENTIAL_KEY = "qashyq.station.credential";
const AUTO_JOIN_KEY = "qashyq.station.autoJoin";
// Hearings this tab already joined by itself: coming back from one must not bounce into it.
const AUTO_JOINED_KEY = "qashyq.station.autoJoined";
const SCREENS = ["screen-loading", "screen-unenrolled", "screen-revoked", "screen-list"];
const REFRESH_MS = 30000;
const RETRY_MS = 5000;
// Join a minute early: the defendant waits in the lobby when the judge opens the hearing.
const AUTO_JOIN_LEAD_MS = 60000;

const state = {
  credential: null,
  station: null,
  hearings: [],
  clockOffsetMs: 0, // server clock minus this computer's: kiosk clocks drift
  joining: null,
  loadTimer: null,
  revoked: false,
};

// ---- storage ---------------------------------------------------------------------------

function storageGet(store, key) {
  try {
    return store.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(store, key, value) {
  try {
    if (value === null) store.removeItem(key);
    else store.setItem(key, value);
  } catch {
    // Without storage the workstation must be enrolled again after a restart.
  }
}

function autoJoinOn() {
  return storageGet(localStorage, AUTO_JOIN_KEY) !== "off";
}

function autoJoined() {
  return new Set((storageGet(sessionStorage, AUTO_JOINED_KEY) || "").split(" ").filter(Boolean));
}

function markAutoJoined(id) {
  const ids = autoJoined();
  ids.add(id);
  storageSet(sessionStorage, AUTO_JOINED_KEY, [...ids].join(" "));
}

// ---- HTTP ------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || (status ? `http_${status}` : "network");
    this.details = body?.details || {};
  }
}

async function call(method, path, body, credential = state.credential) {
  const headers = { Accept: "application/json" };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new HttpError(0, null);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return data;
}

function now() {
  return Date.now() + state.clockOffsetMs;
}

// ---- enrolment -------------------------------------------------------------------------

function takeEnrolmentCode() {
  const match = /^#enrol=(.+)$/.exec(location.hash);
  if (!match) return null;
  // The code is single-use, but it still must not stay in the address bar or history.
  history.replaceState(null, "", location.pathname);
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

async function enrol(code) {
  $("#loading-text").textContent = t("station.enrolling");
  showScreen("screen-loading", SCREENS);
  try {
    const result = await call("POST", "/api/stations/enrol", { code }, null);
    state.credential = result.credential;
    storageSet(localStorage, CREDENTIAL_KEY, result.credential);
    return true;
  } catch (err) {
    if (state.credential) return true; // already enrolled: a stale link changes nothing
    const el = $("#enrol-error");
    el.textContent = t("station.enrolFailed", { reason: err.message });
    el.hidden = false;
    showScreen("screen-unenrolled", SCREENS);
    return false;
  }
}

// ---- the list ----------------------------------------------------------------------------

function today() {
  const start = new Date(now());
  start.setHours(0, 0, 0, 0);
  const end = new Date(start);
  end.setDate(end.getDate() + 1);
  return { from: start.toISOString(), to: end.toISOString() };
}

async function load() {
  clearTimeout(state.loadTimer);
  let next = REFRESH_MS;
  try {
    const data = await call("GET", `/api/station/hearings?${new URLSearchParams(today())}`);
    if (data.now) state.clockOffsetMs = new Date(data.now).getTime() - Date.now();
    state.station = data.station;
    state.hearings = Array.isArray(data.hearings) ? data.hearings : [];
    $("#offline").hidden = true;
    showScreen("screen-list", SCREENS);
    render();
  } catch (err) {
    if (handleAuthError(err)) return;
    // Network or server trouble: keep what is shown and try again soon.
    $("#offline").hidden = false;
    if (!state.station) showScreen("screen-list", SCREENS);
    next = RETRY_MS;
  }
  state.loadTimer = setTimeout(load, next);
}

function handleAuthError(err) {
  if (err.code === "station_revoked") {
    // The credential is kept: every restart shows this screen again, not an enrolment prompt.
    state.revoked = true;
    showScreen("screen-revoked", SCREENS);
    return true;
  }
  if (err.status === 401) {
    storageSet(localStorage, CREDENTIAL_KEY, null);
    state.credential = null;
    showScreen("screen-unenrolled", SCREENS);
    return true;
  }
  return false;
}

function render() {
  const station = state.station;
  if (station) $("#station-label").textContent = `${station.name} · ${station.facility}`;
  const ul = $("#station-hearings");
  if (!state.hearings.length) {
    ul.replaceChildren(h("li", { class: "station-empty" }, t("station.none")));
    return;
  }
  ul.replaceChildren(...state.hearings.map((hr) => {
    const ended = hr.state === "ended";
    const button = h("button", {
      type: "button", class: "station-join", dataset: { hearingId: hr.id },
      onclick: () => join(hr.id),
    });
    return h("li", { class: `station-hearing${ended ? " ended" : ""}`, dataset: { hearingId: hr.id } },
      h("span", { class: "station-hearing-time" },
        `${formatTime(hr.starts_at)}–${formatTime(hr.ends_at)}`),
      h("span", { class: "station-hearing-case" }, hr.case_number),
      h("span", { class: "station-hearing-title" }, hr.title),
      h("span", { class: "station-hearing-who" },
        `${hr.participant.display_name} · ${roleName(hr.participant.role)}`),
      h("span", { class: "station-note" }),
      button);
  }));
  tick();
}

/** Once a second: the clock, the join buttons' state, and the automatic join. */
function tick() {
  const at = now();
  $("#clock").textContent = formatTime(new Date(at).toISOString(), true);
  for (const hr of state.hearings) {
    const li = document.querySelector(`.station-hearing[data-hearing-id="${CSS.escape(hr.id)}"]`);
    if (!li) continue;
    const button = li.querySelector(".station-join");
    const note = li.querySelector(".station-note");
    const ended = hr.state === "ended" || at >= new Date(hr.ends_at).getTime();
    const open = at >= new Date(hr.opens_at).getTime();
    const autoAt = new Date(hr.starts_at).getTime() - AUTO_JOIN_LEAD_MS;
    button.disabled = ended || !open || Boolean(state.joining);
    button.textContent = ended ? t("station.ended")
      : state.joining === hr.id ? t("station.joining")
        : open ? t("station.join") : t("station.joinOpens", { time: formatTime(hr.opens_at) });
    const autoPending = !ended && autoJoinOn() && !autoJoined().has(hr.id);
    note.textContent = autoPending && at < autoAt
      ? t("station.autoAt", { time: formatTime(new Date(autoAt).toISOString()) }) : "";
    if (autoPending && open && at >= autoAt && !state.joining) {
      markAutoJoined(hr.id);
      join(hr.id);
    }
  }
}

async function join(hearingId) {
  if (state.joining) return;
  state.joining = hearingId;
  tick();
  try {
    const result = await call("POST", `/api/station/hearings/${encodeURIComponent(hearingId)}/join`);
    markAutoJoined(hearingId);
    // The join page offers (and after the hearing takes) the way back here.
    storageSet(sessionStorage, STATION_RETURN_KEY, location.pathname);
    location.assign(result.join_url);
  } catch (err) {
    state.joining = null;
    if (handleAuthError(err)) return;
    $("#offline").hidden = err.status !== 0;
    load();
  }
}

// ---- start -------------------------------------------------------------------------------

async function init() {
  applyI18n(document);
  bindLanguageSelect($("#lang"));
  onLanguageChange(() => {
    if (state.station) render();
  });
  storageSet(sessionStorage, STATION_RETURN_KEY, null);
  const auto = $("#auto-join");
  auto.checked = autoJoinOn();
  auto.addEventListener("change", () => {
    storageSet(localStorage, AUTO_JOIN_KEY, auto.checked ? "on" : "off");
    tick();
  });
  setInterval(() => {
    if (state.station && !state.revoked) tick();
  }, 1000);

  state.credential = storageGet(localStorage, CREDENTIAL_KEY);
  const code = takeEnrolmentCode();
  if (code && !(await enrol(code))) return;
  if (!state.credential) {
    showScreen("screen-unenrolled", SCREENS);
    return;
  }
  showScreen("screen-loading", SCREENS);
  load();
}

init();

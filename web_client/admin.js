// The clerk's page: sign in, the day's hearings, create a hearing, open one.

import {
  AdminApi, ApiError, errorText, localDateTimeValue, localDateValue, localIsoWithOffset,
} from "./admin_api.js";
import { HearingDetail } from "./admin_hearing.js";
import { RecordingsPanel } from "./admin_recordings.js";
import { StationsPanel } from "./admin_stations.js";
import { $, h } from "./dom.js";
import { applyI18n, bindLanguageSelect, formatTime, onLanguageChange, t } from "./i18n.js";

const TOKEN_KEY = "qashyq.admin.token";
const REFRESH_MS = 4000;

let api = null;
let detail = null;
let stations = null;
let recordings = null;
let hearings = [];
let refreshTimer = null;
let refreshing = false;

function showError(el, err) {
  el.textContent = errorText(err);
  el.hidden = false;
}

function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function saveToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Without storage the clerk signs in again after a reload.
  }
}

// ---- Sign in ---------------------------------------------------------------

async function signIn(token) {
  const candidate = new AdminApi(token);
  await candidate.whoami();
  api = candidate;
  saveToken(token);
  startMain();
}

function showSignIn() {
  api = null;
  stopRefresh();
  $("#main-view").hidden = true;
  $("#signout").hidden = true;
  $("#signin-view").hidden = false;
  $("#signin-token").focus();
}

function onSignOut() {
  saveToken(null);
  detail?.close();
  detail = null;
  showSignIn();
}

function handleAuthFailure(err) {
  if (err instanceof ApiError && err.status === 401) {
    onSignOut();
    showError($("#signin-error"), err);
    return true;
  }
  return false;
}

// ---- Day list --------------------------------------------------------------

function selectedDay() {
  const value = $("#day").value;
  const [y, m, d] = value ? value.split("-").map(Number) : [];
  const start = value ? new Date(y, m - 1, d) : new Date();
  start.setHours(0, 0, 0, 0);
  const end = new Date(start);
  end.setDate(end.getDate() + 1);
  return { start, end };
}

function shiftDay(delta) {
  const { start } = selectedDay();
  start.setDate(start.getDate() + delta);
  $("#day").value = localDateValue(start);
  onDayChange();
}

function onDayChange() {
  hearings = [];
  renderHearings();
  defaultStartsAt();
  refresh();
}

async function loadHearings() {
  const { start, end } = selectedDay();
  const list = await api.listHearings(localIsoWithOffset(start), localIsoWithOffset(end));
  list.sort((a, b) => String(a.starts_at).localeCompare(String(b.starts_at)));
  hearings = list;
  $("#hearings-error").hidden = true;
  renderHearings();
}

function renderHearings() {
  const ul = $("#hearings");
  const selected = detail?.id;
  if (!hearings.length) {
    ul.replaceChildren(h("li", { class: "muted empty" }, t("admin.noHearings")));
    return;
  }
  ul.replaceChildren(
    ...hearings.map((hr) =>
      h(
        "li",
        { dataset: { hearingId: hr.id }, class: hr.id === selected ? "selected" : "" },
        h(
          "button",
          { type: "button", class: "hearing-item", onclick: () => openHearing(hr.id) },
          h("span", { class: "hearing-time" }, `${formatTime(hr.starts_at)}–${formatTime(hr.ends_at)}`),
          h("span", { class: "hearing-case" }, hr.case_number),
          h("span", { class: "hearing-title" }, hr.title),
          h(
            "span",
            { class: "hearing-meta" },
            h("span", { class: `badge state-${hr.state}` }, t(`hstate.${hr.state}`)),
            h("span", { class: "badge" }, t(`kind.${hr.kind}`)),
            h("span", { class: "badge" }, String(hr.language).toUpperCase()),
            hr.state !== "ended"
              ? h("span", { class: "counts" },
                t("admin.counts", { connected: hr.connected ?? 0, lobby: hr.lobby ?? 0 }))
              : null,
          ),
        ),
      ),
    ),
  );
}

function openHearing(id) {
  if (detail?.id !== id) {
    detail?.close();
    detail = new HearingDetail(api, id, $("#hearing-detail"), {
      onChanged: () => refresh(),
      onAuthFailure: handleAuthFailure,
      stations,
    });
  }
  renderHearings();
  detail.refresh();
  if (window.matchMedia("(max-width: 899px)").matches) {
    $("#hearing-detail").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

// ---- Refresh loop ----------------------------------------------------------

async function refresh() {
  if (!api || refreshing) return;
  refreshing = true;
  try {
    await loadHearings();
    if (detail) await detail.refresh();
    if (recordings) await recordings.refresh();
  } catch (err) {
    if (!handleAuthFailure(err)) showError($("#hearings-error"), err);
  } finally {
    refreshing = false;
  }
}

function startRefresh() {
  stopRefresh();
  refreshTimer = setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
}

function stopRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
}

// ---- Create ----------------------------------------------------------------

function defaultStartsAt() {
  const { start } = selectedDay();
  const now = new Date();
  let at;
  if (start.toDateString() === now.toDateString()) {
    at = new Date(now);
    at.setMinutes(at.getMinutes() < 30 ? 30 : 60, 0, 0);
  } else {
    at = new Date(start);
    at.setHours(10, 0, 0, 0);
  }
  $("#hearing-starts-at").value = localDateTimeValue(at);
}

async function onCreate(event) {
  event.preventDefault();
  const errEl = $("#hearing-error");
  const okEl = $("#hearing-ok");
  errEl.hidden = true;
  okEl.hidden = true;
  const startsValue = $("#hearing-starts-at").value;
  const startsAt = startsValue ? new Date(startsValue) : null;
  const durationText = $("#hearing-duration").value.trim();
  const duration = /^\d+$/.test(durationText) ? Number(durationText) : durationText;
  const body = {
    case_number: $("#hearing-case-number").value.trim(),
    title: $("#hearing-title").value.trim(),
    kind: $("#hearing-kind").value,
    // An empty or unparsable date goes to the API as is: its message explains it.
    starts_at: startsAt && !Number.isNaN(startsAt.getTime()) ? localIsoWithOffset(startsAt) : "",
    duration_minutes: duration,
    language: $("#hearing-language").value,
    video_codec: $("#hearing-codec").value,
  };
  const button = $("#hearing-create");
  button.disabled = true;
  try {
    const created = await api.createHearing(body);
    okEl.textContent = t("admin.create.done");
    okEl.hidden = false;
    $("#hearing-case-number").value = "";
    $("#hearing-title").value = "";
    if (created?.starts_at) {
      $("#day").value = localDateValue(new Date(created.starts_at));
    }
    await refresh();
    if (created?.id) openHearing(created.id);
  } catch (err) {
    if (!handleAuthFailure(err)) {
      showError(errEl, err);
      const field = err.details?.field;
      const input = field && document.querySelector(`#hearing-form [name="${CSS.escape(field)}"]`);
      if (input) input.focus();
    }
  } finally {
    button.disabled = false;
  }
}

// ---- Start -----------------------------------------------------------------

function startMain() {
  $("#signin-view").hidden = true;
  $("#signin-error").hidden = true;
  $("#signin-token").value = "";
  $("#main-view").hidden = false;
  $("#signout").hidden = false;
  if (!$("#day").value) $("#day").value = localDateValue(new Date());
  $("#hearing-language").value = document.documentElement.lang;
  defaultStartsAt();
  renderHearings();
  stations = new StationsPanel(api, $("#stations"), {
    onAuthFailure: handleAuthFailure,
    onChanged: () => detail?.render(),
  });
  stations.refresh().then(() => detail?.render());
  recordings = new RecordingsPanel(api, $("#recordings"), { onAuthFailure: handleAuthFailure });
  refresh();
  startRefresh();
}

function init() {
  applyI18n(document);
  bindLanguageSelect($("#lang"));
  onLanguageChange(() => {
    renderHearings();
    stations?.render();
    recordings?.render();
    detail?.render();
  });

  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("#signin-token").value.trim();
    const errEl = $("#signin-error");
    errEl.hidden = true;
    if (!token) {
      showError(errEl, new Error(t("admin.signin.bad")));
      return;
    }
    $("#signin").disabled = true;
    try {
      await signIn(token);
    } catch (err) {
      showError(errEl, err);
    } finally {
      $("#signin").disabled = false;
    }
  });
  $("#signout").addEventListener("click", onSignOut);
  $("#day").addEventListener("change", onDayChange);
  $("#day-prev").addEventListener("click", () => shiftDay(-1));
  $("#day-next").addEventListener("click", () => shiftDay(1));
  $("#day-today").addEventListener("click", () => {
    $("#day").value = localDateValue(new Date());
    onDayChange();
  });
  $("#hearing-form").addEventListener("submit", onCreate);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });

  const saved = readToken();
  if (saved) {
    signIn(saved).catch((err) => {
      saveToken(null);
      showSignIn();
      if (!(err instanceof ApiError && err.status === 401)) showError($("#signin-error"), err);
    });
  } else {
    showSignIn();
  }
}

init();

// The participant page flow: token from the fragment -> signaling -> pre-join -> lobby ->
// hearing, and an error screen for every way it can end.

import { $, showScreen } from "./dom.js";
import { HearingView } from "./hearing_view.js";
import { RecordIndicator } from "./record_indicator.js";
import {
  applyI18n, bindLanguageSelect, formatDateTime, onLanguageChange, roleName, setLanguage, t,
} from "./i18n.js";
import { MediaSession } from "./media_session.js";
import { levelMeter, PreJoin, unlockAudio } from "./prejoin.js";
import { AudioOnlySwitch, LinkMonitor } from "./quality.js";
import { SignalingClient } from "./signaling_client.js";
import { STATION_RETURN_KEY } from "./station_strings.js";

const SCREENS = ["screen-connecting", "screen-prejoin", "screen-lobby", "screen-hearing", "screen-error"];
const TOKEN_KEY = "qashyq.join.token";
const FATAL_CODES = new Set([4400, 4401, 4403, 4408, 4409, 4410, 4413, 4429]);
// Enough tries to cover the server's reconnection grace (60 s by default), the seat is kept.
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000, 10000];

const state = {
  token: null,
  signaling: null,
  welcome: null,
  me: null,
  permissions: [],
  roster: [],
  joined: false, // the user pressed join
  local: null, // {stream, audio, video}
  session: null,
  view: null,
  pendingOffer: null,
  prejoin: null,
  userPickedLanguage: false,
  reconnectAttempt: 0,
  reconnectTimer: null,
  lastError: null, // what the error screen shows, re-rendered on language change
  ended: false,
  selfMeter: null,
  audioOnly: null, // AudioOnlySwitch, kept across reconnects
  monitor: null, // LinkMonitor
};

// ---- Token -----------------------------------------------------------------------

function takeToken() {
  let fromHash = location.hash.replace(/^#/, "").trim();
  try {
    fromHash = decodeURIComponent(fromHash);
  } catch {
    // Not percent-encoded: use it as it is; the server judges it.
  }
  if (fromHash) {
    // The token must not stay in the address bar, history or a shared screenshot.
    history.replaceState(null, "", location.pathname + location.search);
    try {
      sessionStorage.setItem(TOKEN_KEY, fromHash);
    } catch {
      // Without storage a reload needs the link again.
    }
    return fromHash;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

// ---- Signaling ---------------------------------------------------------------------

function connect() {
  clearTimeout(state.reconnectTimer);
  state.signaling?.close();
  state.signaling = new SignalingClient({ onWelcome, onMessage, onClose });
  if (!state.joined) showScreen("screen-connecting", SCREENS);
  state.signaling.connect(state.token);
}

function send(msg) {
  return state.signaling ? state.signaling.send(msg) : false;
}

function onWelcome(msg) {
  state.reconnectAttempt = 0;
  state.welcome = msg;
  state.me = msg.you || {};
  state.permissions = Array.isArray(msg.permissions) ? msg.permissions : [];
  state.roster = Array.isArray(msg.roster) ? msg.roster : [];
  state.pendingOffer = null;
  if (!state.userPickedLanguage && msg.hearing?.language) setLanguage(msg.hearing.language, false);
  $("#banner").hidden = true;
  renderHearingInfo();
  if (!state.joined) {
    showPrejoin();
  } else if (state.me.state === "admitted") {
    enterHearing();
  } else {
    showLobby();
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case "offer":
      if (state.session) state.session.handleOffer(msg);
      else state.pendingOffer = msg; // answered once the user has joined
      break;
    case "admitted":
      state.me = { ...state.me, state: "admitted" };
      if (state.joined) enterHearing();
      break;
    case "roster":
      state.roster = Array.isArray(msg.participants) ? msg.participants : [];
      state.view?.setRoster(state.roster);
      break;
    case "chat":
      state.view?.addChat(msg);
      break;
    case "muted":
      state.view?.setServerMuted(Boolean(msg.muted));
      break;
    case "ended":
      state.ended = true;
      break;
    case "record":
      if (state.welcome?.hearing) state.welcome.hearing.on_record = Boolean(msg.on);
      state.record?.setOn(Boolean(msg.on));
      break;
    case "recorder_alert":
      state.record?.handleAlert(msg);
      break;
    default:
      // Non-fatal errors and unknown types: never answered.
      break;
  }
}

function onClose({ code, error, everWelcomed }) {
  teardownMedia(false);
  if (state.ended && !FATAL_CODES.has(code)) code = 4410;
  if (FATAL_CODES.has(code)) {
    // Whatever comes next (another try, "continue here") starts again at the pre-join.
    stopLocal();
    state.joined = false;
    state.local = null;
    state.prejoin?.finish("receive");
    state.prejoin = null;
    showError({ code, error });
    return;
  }
  // Network loss, server restart (1001), or no answer: try again for a while.
  if (everWelcomed && state.reconnectAttempt < RECONNECT_DELAYS_MS.length) {
    const delay = RECONNECT_DELAYS_MS[state.reconnectAttempt++];
    if (state.joined && state.me?.state === "admitted") {
      showScreen("screen-hearing", SCREENS);
      const banner = $("#banner");
      banner.textContent = t("error.reconnecting");
      banner.hidden = false;
      state.view?.destroy();
      state.view = null;
    } else {
      showScreen("screen-connecting", SCREENS);
      $("#connecting-text").textContent = t("error.reconnecting");
    }
    state.reconnectTimer = setTimeout(connect, delay);
    return;
  }
  showError({ code, error, network: true });
}

// ---- Screens ---------------------------------------------------------------------------

function renderHearingInfo() {
  const hr = state.welcome?.hearing;
  if (!hr) return;
  $("#hearing-label").textContent = t("join.hearing", { case: hr.case_number });
  $("#prejoin-kind").textContent = t(`kind.${hr.kind}`);
  $("#prejoin-case").textContent = t("join.hearing", { case: hr.case_number });
  $("#prejoin-title").textContent = hr.title || "";
  $("#prejoin-time").textContent = hr.starts_at
    ? t("join.startsAt", { time: formatDateTime(hr.starts_at) }) : "";
  const you = t("join.you", { name: state.me.display_name, role: roleName(state.me.role) });
  $("#prejoin-you").textContent = you;
  $("#lobby-you").textContent = you;
  $("#lobby-text").textContent = t(hr.kind === "mediation" ? "lobby.textMediation" : "lobby.text");
}

function showPrejoin() {
  showScreen("screen-prejoin", SCREENS);
  if (state.prejoin) return;
  state.prejoin = new PreJoin(
    {
      preview: $("#preview"),
      previewOff: $("#preview-off"),
      meterBar: $("#mic-meter-bar"),
      cameraSelect: $("#camera-select"),
      micSelect: $("#mic-select"),
      message: $("#media-message"),
      actions: $("#media-actions"),
    },
    { canPublish: state.permissions.includes("publish"), onJoin: join },
  );
  state.prejoin.start();
  // A workstation's one click was its big join button: no second click on a kiosk.
  if (stationReturn()) join("full");
}

async function join(mode = "full") {
  unlockAudio();
  if (state.joined || state.joining) return;
  state.joining = true;
  $("#join").disabled = true;
  try {
    // A tap on "join" while the camera prompt is still open waits for its answer.
    await state.prejoin?.settled();
  } finally {
    state.joining = false;
    $("#join").disabled = false;
  }
  if (state.joined || !state.signaling) return;
  state.joined = true;
  state.local = state.prejoin
    ? state.prejoin.finish(mode)
    : { stream: new MediaStream(), audio: null, video: null };
  state.prejoin = null;
  if (state.me.state === "admitted") enterHearing();
  else showLobby();
}

function showLobby() {
  showScreen("screen-lobby", SCREENS);
}

function enterHearing() {
  showScreen("screen-hearing", SCREENS);
  $("#banner").hidden = true;
  if (!state.selfMeter && state.local?.audio) state.selfMeter = levelMeter(state.local.audio);
  if (!state.view) {
    state.view = new HearingView({
      me: state.me,
      hearing: state.welcome.hearing,
      permissions: state.permissions,
      local: state.local,
      send,
      onLeave: leave,
      levels: () => {
        const levels = state.session ? state.session.audioLevels() : new Map();
        levels.set("self", state.selfMeter ? state.selfMeter.level() : 0);
        return levels;
      },
    });
  }
  state.view.setRoster(state.roster);
  if (!state.record) {
    state.record = new RecordIndicator({
      onRecord: state.welcome.hearing?.on_record,
      canSwitch: state.permissions.includes("record"),
      send,
      nameOf: (id) => state.roster.find((p) => p.id === id)?.display_name,
      banner: (text) => state.view?.banner(text),
    });
  }
  if (!state.session) {
    state.session = new MediaSession({
      selfId: state.me.id,
      iceServers: state.welcome.ice_servers,
      iceTransportPolicy: state.welcome.ice_transport_policy,
      maxVideoKbps: state.welcome.hearing?.max_video_kbps,
      canPublish: state.permissions.includes("publish"),
      onAnswer: (sdp) => send({ type: "answer", sdp }),
      onRemoteChange: (remote) => state.view?.setRemoteStreams(remote),
      onConnectionState: (connection) => {
        $("#screen-hearing").dataset.media = connection;
        // aiortc has no ICE restart: a failed connection is rebuilt through a new session.
        if (connection === "failed") rebuildConnection();
      },
    });
    state.session.setLocalTracks({ audio: state.local.audio, video: state.local.video });
    if (state.pendingOffer) {
      state.session.handleOffer(state.pendingOffer);
      state.pendingOffer = null;
    }
  }
  state.view.sendMediaState();
  state.audioOnly ||= new AudioOnlySwitch({
    button: $("#btn-audio-only"),
    send,
    notify: (text) => state.view?.banner(text),
  });
  state.audioOnly.apply();
  state.monitor ||= new LinkMonitor({
    getPc: () => state.session?.pc || null,
    send,
    onPoor: () => state.audioOnly?.poorLink(),
  });
}

/** Media failed while signaling lives: start over; the server keeps the seat meanwhile. */
function rebuildConnection() {
  if (!state.joined || state.ended) return;
  state.signaling?.close();
  teardownMedia(false);
  state.view?.destroy();
  state.view = null;
  connect();
}

function teardownMedia(stopTracks) {
  state.session?.close();
  state.session = null;
  if (stopTracks) stopLocal();
}

function stopLocal() {
  for (const track of state.local?.stream?.getTracks() || []) track.stop();
  state.selfMeter?.close();
  state.selfMeter = null;
}

function leave() {
  // Said out loud so the server gives the seat up instead of holding it for a reconnect.
  send({ type: "leave" });
  state.signaling?.close();
  state.monitor?.close();
  state.monitor = null;
  teardownMedia(true);
  state.view?.destroy();
  state.view = null;
  state.joined = false;
  state.local = null;
  showError({ left: true });
}

// ---- Errors --------------------------------------------------------------------------

function showError(info) {
  state.lastError = info;
  state.view?.destroy();
  state.view = null;
  renderError();
  showScreen("screen-error", SCREENS);
}

function renderError() {
  const info = state.lastError;
  if (!info) return;
  const screen = $("#screen-error");
  const code = info.code ?? 0;
  const errCode = info.error?.code || "";
  screen.dataset.closeCode = String(code);
  screen.dataset.errorCode = info.left ? "left" : errCode || (info.network ? "network" : "");
  const title = $("#error-title");
  const text = $("#error-text");
  const extra = $("#error-extra");
  const action = $("#error-action");
  title.textContent = t("error.title");
  $(".error-card").classList.toggle("neutral", Boolean(info.left) || code === 4408 || code === 4410);
  extra.hidden = true;
  action.hidden = true;
  action.onclick = null;
  const reconnect = (label) => {
    action.textContent = t(label);
    action.hidden = false;
    action.onclick = () => {
      state.reconnectAttempt = 0;
      state.lastError = null;
      connect();
    };
  };
  if (info.left) {
    title.textContent = t("error.left");
    text.textContent = "";
    reconnect("error.reconnect");
  } else if (info.fatalText) {
    text.textContent = t(info.fatalText);
  } else if (code === 4403) {
    const key = { link_revoked: "error.link_revoked", removed: "error.removed",
      denied: "error.denied", station_revoked: "error.station_revoked" }[errCode] || "error.4403";
    text.textContent = t(key);
  } else if (code === 4408) {
    title.textContent = t("error.title.early");
    const details = info.error?.details || {};
    text.textContent = t("error.4408", {
      time: details.starts_at ? formatDateTime(details.starts_at) : "—",
    });
    if (details.opens_at) {
      extra.textContent = t("error.4408.opens", { time: formatDateTime(details.opens_at) });
      extra.hidden = false;
    }
    reconnect("error.reconnect");
  } else if (code === 4410) {
    title.textContent = t("hstate.ended");
    text.textContent = t("error.4410");
  } else if (code === 4409) {
    text.textContent = t("error.4409");
    reconnect("error.continueHere");
  } else if (FATAL_CODES.has(code)) {
    text.textContent = t(`error.${code}`);
    if (code === 4429 || code === 4400) reconnect("error.reconnect");
  } else {
    text.textContent = t("error.network");
    reconnect("error.reconnect");
  }
  offerStationReturn();
}

// ---- Facility workstation ----------------------------------------------------------------

const STATION_RETURN_AFTER_MS = 15000;
let stationReturnTimer = null;

/** The station page this tab came from, if a facility workstation opened this hearing. */
function stationReturn() {
  try {
    return sessionStorage.getItem(STATION_RETURN_KEY);
  } catch {
    return null;
  }
}

/** On a workstation the error screen leads back to its list of hearings, by itself too. */
function offerStationReturn() {
  const target = stationReturn();
  const back = $("#error-station");
  back.hidden = !target;
  if (!target) return;
  back.onclick = () => location.assign(target);
  if (stationReturnTimer) return;
  stationReturnTimer = setTimeout(() => {
    stationReturnTimer = null;
    // Unless someone pressed "reconnect" meanwhile and is back in the hearing.
    if (!$("#screen-error").hidden) location.assign(target);
  }, STATION_RETURN_AFTER_MS);
}

// ---- Start -------------------------------------------------------------------------------

function init() {
  applyI18n(document);
  bindLanguageSelect($("#lang"), () => {
    state.userPickedLanguage = true;
  });
  onLanguageChange(() => {
    renderHearingInfo();
    renderError();
    state.prejoin?.relabel();
    state.view?.render();
    state.audioOnly?.render();
  });
  $("#join").addEventListener("click", () => join("full"));
  $("#lobby-leave").addEventListener("click", leave);
  // Mobile browsers keep audio locked until the first tap.
  document.addEventListener("pointerdown", unlockAudio, { once: true, capture: true });
  // Back online (tunnel, network switch): reconnect now instead of waiting for the backoff.
  window.addEventListener("online", () => {
    if (state.reconnectTimer && !state.signaling?.ws && !state.lastError) connect();
  });

  state.token = takeToken();
  if (!state.token) {
    showError({ fatalText: "error.noToken", code: 0 });
    return;
  }
  if (!window.RTCPeerConnection || !window.WebSocket) {
    showError({ fatalText: "error.unsupported", code: 0 });
    return;
  }
  connect();
}

init();

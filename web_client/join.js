// The participant page. One JoinPage holds where the participant is (`phase`) and every
// transition is a named method; the screen shown is derived from the phase.
//
//   connecting --welcome--> prejoin --join--> lobby --admitted--> hearing
//   (a participant who joined before a reconnect goes from the welcome straight to lobby/hearing)
//   prejoin | lobby | hearing --socket lost--> reconnecting --welcome--> (as above)
//   reconnecting --socket lost--> reconnecting (backoff) ... --tries used up--> error
//   any --fatal close--> error | ended;  lobby | hearing --leave--> left
//   error | left --"reconnect" / "continue here"--> connecting

import { $, showScreen } from "./dom.js";
import { isHearingOver, renderErrorScreen } from "./error_screen.js";
import { HearingView } from "./hearing_view.js";
import { renderHearingSummary } from "./hearing_summary.js";
import { applyI18n, bindLanguageSelect, onLanguageChange, setLanguage, t } from "./i18n.js";
import { takeToken } from "./join_link.js";
import { canUseVideoCodec, MediaSession } from "./media_session.js";
import { levelMeter, PreJoin, unlockAudio } from "./prejoin.js";
import { AudioOnlySwitch, LinkMonitor } from "./quality.js";
import { RecordIndicator } from "./record_indicator.js";
import { CLOSE_CODES, isFatalClose, SignalingClient } from "./signaling_client.js";
import { StationReturn, stationReturnTarget } from "./station_return.js";
import { ViewReport } from "./view_report.js";
import { ParticipationAlerts } from "./participation_alerts.js";

const SCREENS = ["screen-connecting", "screen-prejoin", "screen-lobby", "screen-hearing", "screen-error"];
// Enough tries to cover the server's reconnection grace (60 s by default), the seat is kept.
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000, 10000];
// Phases in which the visit is over and the error screen says why.
const OVER = new Set(["error", "ended", "left"]);

/** The participant page: signaling, the participant's place in the hearing, and its screens. */
class JoinPage {
  /** @param {string|null} token  the link's token (null: the link was opened incomplete) */
  constructor(token) {
    /** @type {"connecting"|"prejoin"|"lobby"|"hearing"|"reconnecting"|"error"|"ended"|"left"} */
    this.phase = "connecting";
    this.token = token;
    this.signaling = null; // SignalingClient of the current attempt
    this.welcome = null; // the last welcome: the hearing, ICE servers, limits
    this.me = null; // this participant as the server sees it; me.state: "lobby" | "admitted"
    this.permissions = [];
    this.roster = [];
    this.prejoin = null; // PreJoin while the camera and microphone are being checked
    this.joining = false; // "join" pressed while the camera prompt is still open
    this.local = null; // {stream, audio, video} chosen at "join"; null until the participant joins
    this.pendingOffer = null; // an offer that came before "join": answered in the hearing
    this.session = null; // MediaSession, while in the hearing
    this.view = null; // HearingView, while the hearing screen is live
    this.record = null; // RecordIndicator, from the first entry into the hearing on
    this.selfMeter = null; // level of the participant's own microphone (active speaker)
    this.audioOnly = null; // AudioOnlySwitch, kept across reconnects
    this.monitor = null; // LinkMonitor, kept across reconnects
    this.viewReport = null; // ViewReport: what the page shows, told to the server
    // Hosts: parties who cannot follow the hearing now (participation_alert messages).
    this.participation = new ParticipationAlerts($("#participation-alerts"));
    this.userPickedLanguage = false;
    this.reconnectAttempt = 0;
    this.reconnectTimer = null;
    this.hearingEnded = false; // the server said `ended`: the close that follows is final
    this.end = null; // VisitEnd (error_screen.js) while the visit is over
    this.stationReturn = new StationReturn($("#error-station"), () => OVER.has(this.phase));
  }

  /** Whether the participant pressed "join" (and so holds their chosen media). */
  get joined() {
    return this.local !== null;
  }

  /** Whether the participant sits in the hearing itself (not in the lobby). */
  get seatedInHearing() {
    return this.joined && this.me?.state === "admitted";
  }

  // ---- Phase and screen ---------------------------------------------------------------

  enter(phase) {
    this.phase = phase;
    showScreen(this.screen(), SCREENS);
    this.renderPhase();
  }

  screen() {
    switch (this.phase) {
      case "connecting": return "screen-connecting";
      case "prejoin": return "screen-prejoin";
      case "lobby": return "screen-lobby";
      case "hearing": return "screen-hearing";
      // Someone in the hearing keeps seeing it (under a banner) while the link comes back.
      case "reconnecting": return this.seatedInHearing ? "screen-hearing" : "screen-connecting";
      default: return "screen-error";
    }
  }

  /** What the phase's screen says in words: redone on every language switch. */
  renderPhase() {
    if (this.phase === "connecting" || this.phase === "reconnecting") {
      $("#connecting-text").textContent =
        t(this.phase === "reconnecting" ? "error.reconnecting" : "join.connecting");
    }
    if (OVER.has(this.phase)) {
      renderErrorScreen(this.end, () => this.startOver());
      this.stationReturn.offer();
    }
  }

  renderHearingInfo() {
    if (this.welcome?.hearing) renderHearingSummary(this.welcome.hearing, this.me);
  }

  // ---- Signaling ----------------------------------------------------------------------

  /** Open signaling: the first time, a retry (phase stays "reconnecting"), or a fresh start. */
  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.signaling?.close();
    this.signaling = new SignalingClient({
      onWelcome: (msg) => this.onWelcome(msg),
      onMessage: (msg) => this.onMessage(msg),
      onClose: (info) => this.onClose(info),
    });
    if (this.phase !== "reconnecting") this.enter("connecting");
    this.signaling.connect(this.token);
  }

  send(msg) {
    return this.signaling ? this.signaling.send(msg) : false;
  }

  onWelcome(msg) {
    this.reconnectAttempt = 0;
    this.welcome = msg;
    this.me = msg.you || {};
    this.permissions = Array.isArray(msg.permissions) ? msg.permissions : [];
    this.roster = Array.isArray(msg.roster) ? msg.roster : [];
    this.pendingOffer = null;
    if (!this.userPickedLanguage && msg.hearing?.language) setLanguage(msg.hearing.language, false);
    $("#banner").hidden = true;
    this.renderHearingInfo();
    if (!this.joined) this.enterPrejoin();
    else if (this.me.state === "admitted") this.enterHearing();
    else this.enterLobby();
  }

  onMessage(msg) {
    switch (msg.type) {
      case "offer":
        if (this.session) this.session.handleOffer(msg);
        else this.pendingOffer = msg;
        break;
      case "admitted":
        this.me = { ...this.me, state: "admitted" };
        if (this.joined) this.enterHearing();
        break;
      case "roster":
        this.roster = Array.isArray(msg.participants) ? msg.participants : [];
        this.view?.setRoster(this.roster);
        break;
      case "roster_update":
        this.roster = updatedRoster(this.roster, msg);
        this.view?.setRoster(this.roster);
        break;
      case "chat":
        this.view?.addChat(msg);
        break;
      case "muted":
        this.view?.setServerMuted(Boolean(msg.muted));
        break;
      case "ended":
        this.hearingEnded = true;
        break;
      case "record":
        if (this.welcome?.hearing) this.welcome.hearing.on_record = Boolean(msg.on);
        this.record?.setOn(Boolean(msg.on));
        break;
      case "recorder_alert":
        this.record?.handleAlert(msg);
        break;
      case "downlink":
        this.audioOnly?.setByLink(Boolean(msg.audio_only));
        break;
      case "participation_alert":
        this.participation.handle(msg);
        break;
      case "error":
        // A message over its rate was dropped (docs/protocol.md, Message rates): say so, or
        // the person would think their chat line went out.
        if (msg.code === "rate_limited") {
          const seconds = Math.max(1, Math.ceil(Number(msg.details?.retry_after_s) || 1));
          this.view?.banner(t("hearing.rateLimited", { seconds }));
        }
        break;
      case "page_replaced":
        this.participation.replaced(msg);
        break;
      default:
        // Other non-fatal errors and unknown types: never answered.
        break;
    }
  }

  onClose({ code, error }) {
    this.closeMedia(false);
    if (this.hearingEnded && !isFatalClose(code)) code = CLOSE_CODES.HEARING_ENDED;
    if (isFatalClose(code)) {
      // Whatever comes next (another try, "continue here") starts again at the pre-join.
      this.stopLocalMedia();
      this.local = null;
      this.prejoin?.finish("receive");
      this.prejoin = null;
      this.finishVisit({ code, error });
      return;
    }
    // Network loss, server restart (1001), or no answer. A page that never got in (still
    // "connecting") learns nothing by retrying; one that was welcomed keeps trying a while.
    if (this.phase !== "connecting" && this.reconnectAttempt < RECONNECT_DELAYS_MS.length) {
      // The server said it is going away (a restart): the seat waits for this page there.
      const why = code === CLOSE_CODES.GOING_AWAY ? "error.server_restarting" : "error.reconnecting";
      this.startReconnecting(RECONNECT_DELAYS_MS[this.reconnectAttempt++], why);
      return;
    }
    this.finishVisit({ code, error, network: true });
  }

  // ---- Transitions --------------------------------------------------------------------

  enterPrejoin() {
    this.enter("prejoin");
    if (this.prejoin) return;
    this.prejoin = new PreJoin(
      {
        preview: $("#preview"),
        previewOff: $("#preview-off"),
        meterBar: $("#mic-meter-bar"),
        cameraSelect: $("#camera-select"),
        micSelect: $("#mic-select"),
        message: $("#media-message"),
        actions: $("#media-actions"),
      },
      {
        canPublish: this.permissions.includes("publish"),
        videoUsable: canUseVideoCodec(this.welcome?.hearing?.video_codec),
        onJoin: (mode) => this.join(mode),
      },
    );
    this.prejoin.start();
    // A workstation's one click was its big join button: no second click on a kiosk.
    if (stationReturnTarget()) this.join("full");
  }

  /** The participant pressed "join" (mode: "full", "audio" or "receive"). */
  async join(mode = "full") {
    unlockAudio();
    if (this.joined || this.joining) return;
    this.joining = true;
    $("#join").disabled = true;
    try {
      // A tap on "join" while the camera prompt is still open waits for its answer.
      await this.prejoin?.settled();
    } finally {
      this.joining = false;
      $("#join").disabled = false;
    }
    // Meanwhile the visit may have ended; a lost link keeps the choice for the welcome.
    if (this.joined || (this.phase !== "prejoin" && this.phase !== "reconnecting")) return;
    this.local = this.prejoin
      ? this.prejoin.finish(mode)
      : { stream: new MediaStream(), audio: null, video: null };
    this.prejoin = null;
    if (this.phase === "reconnecting") return;
    if (this.me.state === "admitted") this.enterHearing();
    else this.enterLobby();
  }

  enterLobby() {
    this.enter("lobby");
  }

  enterHearing() {
    this.enter("hearing");
    $("#banner").hidden = true;
    if (!this.selfMeter && this.local?.audio) this.selfMeter = levelMeter(this.local.audio);
    const send = (msg) => this.send(msg);
    this.view ||= new HearingView({
      me: this.me,
      permissions: this.permissions,
      local: this.local,
      send,
      onLeave: () => this.leave(),
      levels: () => {
        const levels = this.session ? this.session.audioLevels() : new Map();
        levels.set("self", this.selfMeter ? this.selfMeter.level() : 0);
        return levels;
      },
    });
    this.view.setRoster(this.roster);
    this.record ||= new RecordIndicator({
      onRecord: this.welcome.hearing?.on_record,
      canSwitch: this.permissions.includes("record"),
      send,
      nameOf: (id) => this.roster.find((p) => p.id === id)?.display_name,
      banner: (text) => this.view?.banner(text),
    });
    if (!this.session) this.openMedia();
    this.view.sendMediaState();
    this.audioOnly ||= new AudioOnlySwitch({
      button: $("#btn-audio-only"),
      send,
      notify: (text) => this.view?.banner(text),
    });
    this.audioOnly.apply();
    this.monitor ||= new LinkMonitor({ getPc: () => this.session?.pc || null, send });
    this.viewReport ||= new ViewReport({ grid: $("#tiles"), send });
    this.viewReport.resend();
  }

  openMedia() {
    this.session = new MediaSession({
      selfId: this.me.id,
      iceServers: this.welcome.ice_servers,
      iceTransportPolicy: this.welcome.ice_transport_policy,
      maxVideoKbps: this.welcome.hearing?.max_video_kbps,
      canPublish: this.permissions.includes("publish"),
      onAnswer: (sdp) => this.send({ type: "answer", sdp }),
      onRemoteChange: (remote) => this.view?.setRemoteStreams(remote),
      onConnectionState: (connection) => {
        $("#screen-hearing").dataset.media = connection;
        // aiortc has no ICE restart: a failed connection is rebuilt through a new session.
        if (connection === "failed") this.rebuildConnection();
      },
    });
    this.session.setLocalTracks({ audio: this.local.audio, video: this.local.video });
    if (this.pendingOffer) {
      this.session.handleOffer(this.pendingOffer);
      this.pendingOffer = null;
    }
  }

  /** Signaling was lost: try again after `delayMs`; the server keeps the seat meanwhile. */
  startReconnecting(delayMs, why = "error.reconnecting") {
    this.enter("reconnecting");
    if (this.seatedInHearing) {
      const banner = $("#banner");
      banner.textContent = t(why);
      banner.hidden = false;
      this.view?.destroy();
      this.view = null;
    }
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** Media failed while signaling lives: start over; the server keeps the seat meanwhile. */
  rebuildConnection() {
    if (!this.joined || this.hearingEnded) return;
    this.signaling?.close();
    this.closeMedia(false);
    this.view?.destroy();
    this.view = null;
    this.enter("reconnecting");
    this.connect();
  }

  /** The participant leaves on purpose. */
  leave() {
    // Said out loud so the server gives the seat up instead of holding it for a reconnect.
    this.send({ type: "leave" });
    this.signaling?.close();
    this.monitor?.close();
    this.monitor = null;
    this.viewReport?.close();
    this.viewReport = null;
    this.closeMedia(true);
    this.view?.destroy();
    this.view = null;
    this.local = null;
    this.finishVisit({ left: true });
  }

  /** The visit is over (`end`: a VisitEnd): the error screen says why. */
  finishVisit(end) {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.end = end;
    this.view?.destroy();
    this.view = null;
    this.enter(end.left ? "left" : isHearingOver(end) ? "ended" : "error");
  }

  /** The error screen's "reconnect" / "continue here": a fresh start with new tries. */
  startOver() {
    this.reconnectAttempt = 0;
    this.end = null;
    this.connect();
  }

  closeMedia(stopTracks) {
    this.session?.close();
    this.session = null;
    if (stopTracks) this.stopLocalMedia();
  }

  stopLocalMedia() {
    for (const track of this.local?.stream?.getTracks() || []) track.stop();
    this.selfMeter?.close();
    this.selfMeter = null;
  }

  // ---- Start --------------------------------------------------------------------------

  start() {
    applyI18n(document);
    bindLanguageSelect($("#lang"), () => {
      this.userPickedLanguage = true;
    });
    onLanguageChange(() => {
      this.renderHearingInfo();
      this.renderPhase();
      this.prejoin?.relabel();
      this.view?.render();
      this.audioOnly?.render();
    });
    $("#join").addEventListener("click", () => this.join("full"));
    $("#lobby-leave").addEventListener("click", () => this.leave());
    // Mobile browsers keep audio locked until the first tap.
    document.addEventListener("pointerdown", unlockAudio, { once: true, capture: true });
    // Back online (tunnel, network switch): reconnect now instead of waiting for the backoff.
    window.addEventListener("online", () => {
      if (this.phase === "reconnecting" && !this.signaling?.ws) this.connect();
    });
    if (!this.token) {
      this.finishVisit({ fatalText: "error.noToken", code: 0 });
      return;
    }
    if (!window.RTCPeerConnection || !window.WebSocket) {
      this.finishVisit({ fatalText: "error.unsupported", code: 0 });
      return;
    }
    this.connect();
  }
}

new JoinPage(takeToken()).start();

/** The roster after a `roster_update`: changed entries in place, new ones last, gone ones out. */
function updatedRoster(roster, msg) {
  const changed = new Map((Array.isArray(msg.participants) ? msg.participants : [])
    .map((p) => [p.id, p]));
  const left = new Set(Array.isArray(msg.left) ? msg.left : []);
  const kept = roster.filter((p) => !left.has(p.id)).map((p) => {
    const next = changed.get(p.id);
    changed.delete(p.id);
    return next || p;
  });
  return [...kept, ...changed.values()];
}

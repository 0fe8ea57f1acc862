// The WebSocket signaling connection (docs/protocol.md): hello, welcome, heartbeat, and the
// close code with the error frame that explains it.

export const PROTOCOL_VERSION = 1;
const HELLO_TIMEOUT_MS = 15000;

/**
 * The WebSocket close codes of the protocol ("Close codes" in docs/protocol.md), by name.
 * 1006 never crosses the wire: the browser reports it when a socket dies without a close
 * frame, and this client reports it when nothing answers.
 */
export const CLOSE_CODES = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // the server is shutting down
  NO_CLOSE_FRAME: 1006,
  PROTOCOL_ERROR: 4400, // protocol_error, handshake_timeout
  LINK_INVALID: 4401, // link_invalid
  REFUSED: 4403, // one of REFUSAL_REASONS
  TOO_EARLY: 4408, // too_early; details.starts_at, details.opens_at
  REPLACED: 4409, // the same participant connected from another page
  HEARING_ENDED: 4410,
  MESSAGE_TOO_LARGE: 4413,
  SLOW_CLIENT: 4429,
});

/** The error frame codes a 4403 close comes with: why this participant may not be here. */
export const REFUSAL_REASONS = Object.freeze([
  "link_revoked", "removed", "denied", "station_revoked", "flooding",
]);

/**
 * The close codes after which trying again by itself cannot help: the server meant it, and
 * the page says why. Any other close (1001, 1006, ...) is a lost connection worth retrying.
 */
export const FATAL_CLOSE_CODES = Object.freeze([
  CLOSE_CODES.PROTOCOL_ERROR, CLOSE_CODES.LINK_INVALID, CLOSE_CODES.REFUSED,
  CLOSE_CODES.TOO_EARLY, CLOSE_CODES.REPLACED, CLOSE_CODES.HEARING_ENDED,
  CLOSE_CODES.MESSAGE_TOO_LARGE, CLOSE_CODES.SLOW_CLIENT,
]);

/** Whether a close with `code` ends the visit (see FATAL_CLOSE_CODES). */
export function isFatalClose(code) {
  return FATAL_CLOSE_CODES.includes(code);
}

/** One signaling connection: hello with the link's token, welcome, heartbeat, close. */
export class SignalingClient {
  /**
   * handlers: onWelcome(msg), onMessage(msg), onClose({code, error}) where
   * `error` is the fatal error frame that came before the close, if any.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.heartbeat = null;
    this.welcomed = false;
    this.fatal = null;
    this.closedByUs = false;
  }

  static url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws`;
  }

  connect(token) {
    this.welcomed = false;
    this.fatal = null;
    this.closedByUs = false;
    this.lastHeard = Date.now();
    let ws;
    try {
      ws = new WebSocket(SignalingClient.url());
    } catch {
      this.finish(CLOSE_CODES.NO_CLOSE_FRAME);
      return;
    }
    this.ws = ws;
    // No answer at all (a dead 3G link can keep a socket "connecting" for minutes).
    this.helloTimer = setTimeout(() => {
      if (!this.welcomed && this.ws === ws) {
        ws.close();
        this.finish(CLOSE_CODES.NO_CLOSE_FRAME);
      }
    }, HELLO_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      this.send({ type: "hello", token, protocol: PROTOCOL_VERSION });
    });
    ws.addEventListener("message", (event) => this.onFrame(event.data));
    ws.addEventListener("close", (event) => {
      if (this.ws === ws) this.finish(event.code);
    });
  }

  onFrame(data) {
    this.lastHeard = Date.now();
    if (typeof data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // Never answer what we do not understand.
    }
    if (!msg || typeof msg !== "object" || typeof msg.type !== "string") return;
    if (msg.type === "welcome") {
      this.welcomed = true;
      clearTimeout(this.helloTimer);
      this.startHeartbeat(msg.heartbeat_s);
      this.handlers.onWelcome(msg);
      return;
    }
    if (msg.type === "error" && msg.fatal) {
      this.fatal = msg;
      return;
    }
    if (msg.type === "pong") return;
    this.handlers.onMessage(msg);
  }

  startHeartbeat(seconds) {
    this.stopHeartbeat();
    const period = Math.max(2, Number(seconds) || 20) * 1000;
    this.heartbeat = setInterval(() => {
      // A dead mobile link often never reports a close: nothing heard for three periods
      // (pongs included) means the connection is gone.
      if (Date.now() - this.lastHeard > 3 * period) {
        const ws = this.ws;
        this.ws = null;
        try {
          ws?.close();
        } catch {
          // Already closing.
        }
        this.finish(CLOSE_CODES.NO_CLOSE_FRAME);
        return;
      }
      this.send({ type: "ping" });
    }, period);
  }

  stopHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  /** Close on purpose (leaving); no onClose is reported. */
  close() {
    this.closedByUs = true;
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    clearTimeout(this.helloTimer);
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(CLOSE_CODES.NORMAL);
  }

  finish(code) {
    this.ws = null;
    this.stopHeartbeat();
    clearTimeout(this.helloTimer);
    if (this.closedByUs) return;
    this.handlers.onClose({ code, error: this.fatal });
  }
}

// The WebSocket signaling connection (docs/protocol.md): hello, welcome, heartbeat, and the
// close code with the error frame that explains it.

export const PROTOCOL_VERSION = 1;
const HELLO_TIMEOUT_MS = 15000;

export class SignalingClient {
  /**
   * handlers: onWelcome(msg), onMessage(msg), onClose({code, error, everWelcomed})
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
      this.finish(1006);
      return;
    }
    this.ws = ws;
    // No answer at all (a dead 3G link can keep a socket "connecting" for minutes).
    this.helloTimer = setTimeout(() => {
      if (!this.welcomed && this.ws === ws) {
        ws.close();
        this.finish(1006);
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
        this.finish(1006);
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
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }

  finish(code) {
    const wasWelcomed = this.welcomed;
    this.ws = null;
    this.stopHeartbeat();
    clearTimeout(this.helloTimer);
    if (this.closedByUs) return;
    this.handlers.onClose({ code, error: this.fatal, everWelcomed: wasWelcomed });
  }
}

// What this page shows, told to the server (`view`, docs/protocol.md): for each remote tile,
// whether it can be seen and its size in device pixels, and whether the page is hidden (a
// phone's screen off, another tab). The server then sends each participant's video at the
// smallest layer that fills its tile and nothing for tiles nobody can see, which on a weak
// phone link is the difference between video and none.

const CHECK_EVERY_MS = 2000;
// Resizing a window fires dozens of events a second; the server takes a view at most a few
// times a second (docs/protocol.md, Message rates), so reports are at least this far apart.
const MIN_GAP_MS = 500;

/** Watches the tiles in `#tiles` and sends a `view` message whenever what it shows changes. */
export class ViewReport {
  /**
   * @param {HTMLElement} grid  the tile grid (`.tile[data-tile-id]`, own tile `data-self`)
   * @param {(msg: object) => boolean} send  the signaling channel
   */
  constructor({ grid, send }) {
    this.grid = grid;
    this.send = send;
    this.last = "";
    this.sentAt = 0;
    this.pending = null;
    this.check = () => this.schedule();
    this.timer = setInterval(this.check, CHECK_EVERY_MS);
    document.addEventListener("visibilitychange", this.check);
    window.addEventListener("resize", this.check);
  }

  /** Report soon: now, or once MIN_GAP_MS has passed since the last report. */
  schedule() {
    if (this.pending) return;
    const wait = Math.max(0, this.sentAt + MIN_GAP_MS - Date.now());
    this.pending = setTimeout(() => {
      this.pending = null;
      this.report();
    }, wait);
  }

  /** Send the view now if it changed. */
  report() {
    const tiles = {};
    const scale = window.devicePixelRatio || 1;
    const viewport = { width: window.innerWidth, height: window.innerHeight };
    for (const tile of this.grid.querySelectorAll(".tile[data-tile-id]")) {
      if (tile.dataset.self) continue;
      const box = tile.getBoundingClientRect();
      const visible = box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
        && box.top < viewport.height && box.left < viewport.width;
      tiles[tile.dataset.tileId] = {
        visible,
        width: Math.min(8192, Math.round(box.width * scale)),
        height: Math.min(8192, Math.round(box.height * scale)),
      };
    }
    const message = { type: "view", tiles, hidden: document.hidden === true };
    const text = JSON.stringify(message);
    if (text === this.last) return;
    if (this.send(message)) {
      this.last = text;
      this.sentAt = Date.now();
    }
  }

  /** A new signaling connection knows nothing of the view yet: say it again. */
  resend() {
    this.last = "";
    this.report();
  }

  close() {
    clearInterval(this.timer);
    clearTimeout(this.pending);
    document.removeEventListener("visibilitychange", this.check);
    window.removeEventListener("resize", this.check);
  }
}

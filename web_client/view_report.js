// What this page shows, told to the server (`view`, docs/protocol.md): for each remote tile,
// whether it can be seen and its size in device pixels, and whether the page is hidden (a
// phone's screen off, another tab). The server then sends each participant's video at the
// smallest layer that fills its tile and nothing for tiles nobody can see, which on a weak
// phone link is the difference between video and none.

const CHECK_EVERY_MS = 2000;

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
    this.check = () => this.report();
    this.timer = setInterval(this.check, CHECK_EVERY_MS);
    document.addEventListener("visibilitychange", this.check);
    window.addEventListener("resize", this.check);
  }

  /** Send the view now if it changed (also called when the tiles change). */
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
    if (this.send(message)) this.last = text;
  }

  /** A new signaling connection knows nothing of the view yet: say it again. */
  resend() {
    this.last = "";
    this.report();
  }

  close() {
    clearInterval(this.timer);
    document.removeEventListener("visibilitychange", this.check);
    window.removeEventListener("resize", this.check);
  }
}

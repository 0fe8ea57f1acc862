// Drives Debian's firefox-esr for the Python tests (tests/fixtures/firefox.py), over WebDriver
// BiDi with puppeteer-core (which downloads nothing: the browser is /usr/bin/firefox-esr).
//
// Protocol: one JSON object per line on stdin, one answer per line on stdout, in order.
//   request  {"id": 1, "op": "open", ...}
//   answer   {"id": 1, "ok": true, "result": ...} or {"id": 1, "ok": false, "error": "..."}
// The first line this process writes is {"ready": true, "version": "..", "pid": <Firefox's
// pid>} (or {"ready": false, "error": "..."} if Firefox did not start). Ops:
//   open {width?, height?, init?}        a page in a fresh browser context -> page id; init:
//                                        a script run before the page's own in every document
//   goto {page, url}                     navigate and wait for the load event
//   evaluate {page, expression, arg?}    the expression's value as JSON (a function is called
//                                        with arg; promises are awaited)
//   click {page, selector}               click the first element matching the selector
//   focus {page}                         bring the page's window to the front
//   viewport {page, width, height}       resize the page's viewport (CSS pixels)
//   screenshot {page, path}              a PNG of the page
//   errors {page}                        console errors/warnings and uncaught exceptions
//   close                                close Firefox and exit
// Closing stdin closes Firefox too, so a test process that dies never leaves a browser behind.

import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const EXECUTABLE = process.env.QASHYQ_FIREFOX || "/usr/bin/firefox-esr";

// Fake camera and microphone without asking; media plays without a gesture; and nothing that
// calls out of the machine (updates, telemetry, safe browsing, captive portal checks, remote
// settings, the OpenH264 plugin download), so a test never waits on, or fails with, the
// network. Puppeteer and Firefox's remote agent already set most "for testing" prefs.
const PREFS = {
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
  "media.gmp-manager.updateEnabled": false,
  "media.gmp-manager.url": "http://127.0.0.1:9/gmp",
  "media.gmp-gmpopenh264.autoupdate": false,
  "app.update.auto": false,
  "app.update.enabled": false,
  "app.normandy.enabled": false,
  "browser.safebrowsing.provider.mozilla.updateURL": "",
  "browser.safebrowsing.provider.google4.updateURL": "",
  "browser.safebrowsing.update.enabled": false,
  "browser.region.network.url": "",
  "browser.region.update.enabled": false,
  "captivedetect.canonicalURL": "",
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.dns.disablePrefetch": true,
  "network.prefetch-next": false,
  "network.trr.mode": 5,
  "toolkit.telemetry.enabled": false,
  "toolkit.telemetry.unified": false,
  "toolkit.telemetry.server": "",
  "datareporting.policy.dataSubmissionEnabled": false,
  "dom.push.connection.enabled": false,
  "extensions.blocklist.enabled": false,
  "messaging-system.rsexperimentloader.enabled": false,
  "browser.ping-centre.telemetry": false,
  "privacy.resistFingerprinting": false,
};

let browser = null;
const pages = new Map();
let nextPage = 1;

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function pageOf(request) {
  const entry = pages.get(request.page);
  if (!entry) throw new Error(`no page ${request.page}`);
  return entry;
}

const ops = {
  async open({ width = 1280, height = 800, init }) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width, height });
    const errors = [];
    page.on("console", (message) => {
      const type = message.type();
      if (type === "error" || type === "warn") errors.push(`${type}: ${message.text()}`);
    });
    page.on("pageerror", (error) => errors.push(`pageerror: ${error?.message || error}`));
    if (init) await page.evaluateOnNewDocument(init);
    const id = nextPage++;
    pages.set(id, { context, page, errors });
    return id;
  },
  async goto(request) {
    await pageOf(request).page.goto(request.url, { waitUntil: "load" });
    return null;
  },
  async evaluate(request) {
    // Like Playwright's page.evaluate: a function is called with `arg`, promises awaited.
    const arg = JSON.stringify(request.arg ?? null);
    const value = await pageOf(request).page.evaluate(`(async () => {
      const value = (${request.expression});
      return typeof value === "function" ? await value(${arg}) : await value;
    })()`);
    return value === undefined ? null : value;
  },
  async click(request) {
    await pageOf(request).page.click(request.selector);
    return null;
  },
  async focus(request) {
    const { page } = pageOf(request);
    await page.bringToFront();
    await page.evaluate("window.focus()");
    return null;
  },
  async viewport(request) {
    await pageOf(request).page.setViewport({ width: request.width, height: request.height });
    return null;
  },
  async screenshot(request) {
    await pageOf(request).page.screenshot({ path: request.path, fullPage: true });
    return request.path;
  },
  async errors(request) {
    return [...pageOf(request).errors];
  },
};

async function shutdown(code) {
  const closing = browser;
  browser = null;
  if (closing) {
    try {
      await closing.close();
    } catch {
      // Already gone: the process is killed below anyway.
      closing.process()?.kill("SIGKILL");
    }
  }
  process.exit(code);
}

async function main() {
  try {
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: EXECUTABLE,
      headless: true,
      protocol: "webDriverBiDi",
      extraPrefsFirefox: PREFS,
      // The fixture owns the process's lifetime; signals to node must not orphan Firefox.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      dumpio: process.env.QASHYQ_FIREFOX_DUMPIO === "1",
    });
  } catch (error) {
    send({ ready: false, error: String(error?.stack || error) });
    process.exit(1);
  }
  browser.on("disconnected", () => {
    if (browser) {
      send({ event: "disconnected" });
      process.exit(2);
    }
  });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => shutdown(0));
  send({ ready: true, version: await browser.version(), pid: browser.process()?.pid ?? null });

  const lines = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  lines.on("line", (line) => {
    chain = chain.then(async () => {
      let request;
      try {
        request = JSON.parse(line);
      } catch {
        send({ id: null, ok: false, error: "not JSON" });
        return;
      }
      if (request.op === "close") {
        send({ id: request.id, ok: true, result: null });
        await shutdown(0);
        return;
      }
      const op = ops[request.op];
      if (!op) {
        send({ id: request.id, ok: false, error: `unknown op ${request.op}` });
        return;
      }
      try {
        send({ id: request.id, ok: true, result: await op(request) });
      } catch (error) {
        send({ id: request.id, ok: false, error: String(error?.message || error) });
      }
    });
  });
  lines.on("close", () => {
    chain.then(() => shutdown(0));
  });
}

main();

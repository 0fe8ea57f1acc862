// The participant's link: https://court/join#<token>. The token travels in the fragment so
// it never reaches a server log; the page takes it from there once and keeps it for reloads.

const TOKEN_KEY = "qashyq.join.token";

/**
 * The link's token: from the address's fragment the first time (then wiped from the address
 * bar), from sessionStorage on a reload; null when the link was opened incomplete.
 */
export function takeToken() {
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

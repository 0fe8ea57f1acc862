// The participant page's last screen: why the visit ended, in the participant's words, and
// the one action that can help (reconnect, continue here) when there is one.

import { $ } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";
import { CLOSE_CODES, isFatalClose, REFUSAL_REASONS } from "./signaling_client.js";

/**
 * Why a visit ended, one of:
 *   {left: true}                the participant left the hearing;
 *   {fatalText: key, code: 0}   the page cannot even start (no token, no WebRTC);
 *   {code, error}               the server closed the socket: close code and error frame;
 *   {code, error, network: true} the connection was lost and could not be restored.
 * @typedef {{left?: boolean, fatalText?: string, code?: number, error?: object|null,
 *   network?: boolean}} VisitEnd
 */

/** Whether `end` is the hearing being over (as opposed to a failure or the user leaving). */
export function isHearingOver(end) {
  return end.code === CLOSE_CODES.HEARING_ENDED;
}

/**
 * Fill #screen-error for `end`. Its data-close-code and data-error-code attributes say
 * what happened in machine terms (tests read them). `onReconnect` runs when the participant
 * presses the screen's action button, shown only where trying again can help.
 * @param {VisitEnd} end
 * @param {() => void} onReconnect
 */
export function renderErrorScreen(end, onReconnect) {
  const screen = $("#screen-error");
  const code = end.code ?? 0;
  const errorCode = end.error?.code || "";
  screen.dataset.closeCode = String(code);
  screen.dataset.errorCode = end.left ? "left" : errorCode || (end.network ? "network" : "");
  const title = $("#error-title");
  const text = $("#error-text");
  const extra = $("#error-extra");
  const action = $("#error-action");
  title.textContent = t("error.title");
  // Leaving, "not yet" and "over" are no failures: the card is not painted as one.
  $(".error-card").classList.toggle("neutral",
    Boolean(end.left) || code === CLOSE_CODES.TOO_EARLY || code === CLOSE_CODES.HEARING_ENDED);
  extra.hidden = true;
  action.hidden = true;
  action.onclick = null;
  const offer = (label) => {
    action.textContent = t(label);
    action.hidden = false;
    action.onclick = onReconnect;
  };
  if (end.left) {
    title.textContent = t("error.left");
    text.textContent = "";
    offer("error.reconnect");
  } else if (end.fatalText) {
    text.textContent = t(end.fatalText);
  } else if (code === CLOSE_CODES.REFUSED) {
    text.textContent = t(REFUSAL_REASONS.includes(errorCode) ? `error.${errorCode}` : "error.4403");
  } else if (code === CLOSE_CODES.TOO_EARLY) {
    title.textContent = t("error.title.early");
    const details = end.error?.details || {};
    text.textContent = t("error.4408", {
      time: details.starts_at ? formatDateTime(details.starts_at) : "—",
    });
    if (details.opens_at) {
      extra.textContent = t("error.4408.opens", { time: formatDateTime(details.opens_at) });
      extra.hidden = false;
    }
    offer("error.reconnect");
  } else if (code === CLOSE_CODES.HEARING_ENDED) {
    title.textContent = t("hstate.ended");
    text.textContent = t("error.4410");
  } else if (code === CLOSE_CODES.REPLACED) {
    text.textContent = t("error.4409");
    offer("error.continueHere");
  } else if (isFatalClose(code)) {
    text.textContent = t(`error.${code}`);
    // A bad frame or a slow moment may not happen again; a bad link will.
    if (code === CLOSE_CODES.SLOW_CLIENT || code === CLOSE_CODES.PROTOCOL_ERROR) {
      offer("error.reconnect");
    }
  } else {
    text.textContent = t("error.network");
    offer("error.reconnect");
  }
}

// Which hearing this is and who the participant is in it, as the welcome says: on the top
// bar, the pre-join card and the lobby.

import { $ } from "./dom.js";
import { formatDateTime, roleName, t } from "./i18n.js";

/**
 * Fill the hearing's summary in the current language (again after a language switch).
 * @param {object} hearing  the welcome's `hearing`
 * @param {object} me  the welcome's `you`
 */
export function renderHearingSummary(hearing, me) {
  $("#hearing-label").textContent = t("join.hearing", { case: hearing.case_number });
  $("#prejoin-kind").textContent = t(`kind.${hearing.kind}`);
  $("#prejoin-case").textContent = t("join.hearing", { case: hearing.case_number });
  $("#prejoin-title").textContent = hearing.title || "";
  $("#prejoin-time").textContent = hearing.starts_at
    ? t("join.startsAt", { time: formatDateTime(hearing.starts_at) }) : "";
  const you = t("join.you", { name: me.display_name, role: roleName(me.role) });
  $("#prejoin-you").textContent = you;
  $("#lobby-you").textContent = you;
  // A mediation is run by a mediator, not a judge: the lobby says who admits.
  $("#lobby-text").textContent =
    t(hearing.kind === "mediation" ? "lobby.textMediation" : "lobby.text");
}

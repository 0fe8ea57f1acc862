// The admin HTTP API, with the token in the Authorization header (never in the URL).

import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "error";
    this.details = details || {};
  }
}

export class AdminApi {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "network", "", { cause: String(err) });
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, data?.code, data?.message, data?.details);
    }
    return data;
  }

  whoami() {
    return this.request("GET", "/api/whoami");
  }

  listHearings(from, to) {
    const q = new URLSearchParams({ from, to });
    return this.request("GET", `/api/hearings?${q}`).then((d) => d.hearings || []);
  }

  createHearing(fields) {
    return this.request("POST", "/api/hearings", fields);
  }

  getHearing(id) {
    return this.request("GET", `/api/hearings/${encodeURIComponent(id)}`);
  }

  addParticipant(id, displayName, role, stationId = null) {
    const body = { display_name: displayName, role };
    if (stationId) body.station_id = stationId;
    return this.request("POST", `/api/hearings/${encodeURIComponent(id)}/participants`, body);
  }

  revokeParticipant(id, pid) {
    return this.request(
      "DELETE",
      `/api/hearings/${encodeURIComponent(id)}/participants/${encodeURIComponent(pid)}`,
    );
  }

  endHearing(id) {
    return this.request("POST", `/api/hearings/${encodeURIComponent(id)}/end`);
  }

  placeLegalHold(id, reason) {
    return this.request("PUT", `/api/hearings/${encodeURIComponent(id)}/legal-hold`, { reason });
  }

  liftLegalHold(id) {
    return this.request("DELETE", `/api/hearings/${encodeURIComponent(id)}/legal-hold`);
  }

  /** A page of the audit timeline: {events, next} (`next`: the following page's `after`). */
  events(id, after = 0, limit = 200) {
    const query = new URLSearchParams({ after: String(after), limit: String(limit) });
    return this.request("GET", `/api/hearings/${encodeURIComponent(id)}/events?${query}`).then(
      (d) => ({ events: d.events || [], next: d.next ?? null }),
    );
  }
}

/** An ISO 8601 string with the local offset, e.g. 2025-03-01T10:00:00+05:00. */
export function localIsoWithOffset(date) {
  const pad = (n) => String(Math.abs(Math.trunc(n))).padStart(2, "0");
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/** "YYYY-MM-DD" of a local date, for <input type=date>. */
export function localDateValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** "YYYY-MM-DDTHH:MM" of a local date, for <input type=datetime-local>. */
export function localDateTimeValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${localDateValue(date)}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A message for the user about a failed request. */
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 0) return t("common.network");
    if (err.status === 401) return t("admin.signin.bad");
    return err.message || err.code;
  }
  return String(err?.message || err);
}


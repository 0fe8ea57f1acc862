// The way back from a hearing to a facility workstation's list of hearings. The station page
// leaves its address in sessionStorage when it hands the tab to the join page; the join page
// then joins without a second click, and when the visit ends it leads back to the list, by
// itself too: nobody may be at a kiosk's keyboard to press a button.

/** sessionStorage key: set while a workstation's page hands the tab to the join page. */
export const STATION_RETURN_KEY = "qashyq.station.return";

const RETURN_AFTER_MS = 15000;

/** The station page this tab came from, if a facility workstation opened this hearing. */
export function stationReturnTarget() {
  try {
    return sessionStorage.getItem(STATION_RETURN_KEY);
  } catch {
    return null;
  }
}

/** The error screen's "back to the list of hearings" button and the automatic return. */
export class StationReturn {
  /**
   * @param {HTMLButtonElement} button  the "back" button on the error screen
   * @param {() => boolean} visitStillOver  asked when the time is up: false when someone
   *   pressed "reconnect" meanwhile and is back in the hearing, so the tab stays
   */
  constructor(button, visitStillOver) {
    this.button = button;
    this.visitStillOver = visitStillOver;
    this.timer = null;
  }

  /** Show the way back (only on a workstation) and start the automatic return once. */
  offer() {
    const target = stationReturnTarget();
    this.button.hidden = !target;
    if (!target) return;
    this.button.onclick = () => location.assign(target);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.visitStillOver()) location.assign(target);
    }, RETURN_AFTER_MS);
  }
}

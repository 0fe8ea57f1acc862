"""Failed admin authentications: counted for ``/metrics`` and logged, at a bounded rate.

A burst of wrong tokens (someone guessing) must leave a trace an operator sees, but must
neither flood the log nor ever write what was sent: a line says how many failed, why, and
from where, never the token.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)

# At most one line per this many seconds; the failures in between are summed into the next.
LOG_INTERVAL_S = 10.0


class AuthFailures:
    """Counts of failed admin authentications by reason (the error's stable code)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.counts: Counter[str] = Counter()
        self._unlogged: Counter[str] = Counter()
        self._unlogged_from: set[str] = set()
        self._last_line: float | None = None

    def note(self, reason: str, remote: str | None) -> None:
        """Count one failure; log it, or leave it for the next line if one was just logged."""
        self.counts[reason] += 1
        self._unlogged[reason] += 1
        self._unlogged_from.add(remote or "unknown")
        now = self._clock()
        if self._last_line is not None and now - self._last_line < LOG_INTERVAL_S:
            return
        self._last_line = now
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self._unlogged.items()))
        senders = ", ".join(sorted(self._unlogged_from)[:5])
        log.warning("failed admin authentication: %s (from %s)", reasons, senders)
        self._unlogged.clear()
        self._unlogged_from.clear()

    def prometheus(self) -> list[str]:
        """The counter in Prometheus text format."""
        lines = [
            "# HELP qashyq_admin_auth_failures_total Requests refused for a missing, wrong, "
            "expired or revoked admin token.",
            "# TYPE qashyq_admin_auth_failures_total counter",
        ]
        for reason, count in sorted(self.counts.items()):
            lines.append(f'qashyq_admin_auth_failures_total{{reason="{reason}"}} {count}')
        if not self.counts:
            lines.append('qashyq_admin_auth_failures_total{reason="not_authenticated"} 0')
        return lines


AUTH_FAILURES_KEY = web.AppKey("qashyq_auth_failures", AuthFailures)

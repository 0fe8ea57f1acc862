"""RTP sequence arithmetic, loss detection (for NACKs) and reception statistics (for RRs)."""

from __future__ import annotations

import time

from aiortc.rtp import RtpPacket

# Until a link's round-trip time is measured (RTCP), and the least it is taken to be.
DEFAULT_RTT = 0.1
MIN_RTT = 0.02
# A hole is given up after this long, or four round trips on a slow link: by then the
# subscribers' jitter buffers gave up on it (the recorder waits as long).
MIN_NACK_AGE = 1.0
MAX_NACK_ATTEMPTS = 10
# A jump larger than this is a restart (or a long outage), not loss worth repairing.
MAX_GAP = 128
# Windows of inbound loss kept: a receiver's report covers up to this many seconds (Chromium
# reports on audio every ~5 s).
KEPT_LOSS_WINDOWS = 6


def seq_add(a: int, b: int) -> int:
    """Add modulo 2**16."""
    return (a + b) & 0xFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance from b to a on the 16-bit sequence circle (a - b)."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


class MissingPackets:
    """Tracks gaps in a received sequence and says which ones to NACK, and when.

    A NACK is repeated only after one round trip (an answer cannot come sooner), so a slow
    link is not flooded with requests whose answers are already on their way.
    """

    def __init__(self) -> None:
        self._highest: int | None = None
        # seq -> (first noticed, last requested, attempts)
        self._missing: dict[int, tuple[float, float, int]] = {}
        self.rtt = DEFAULT_RTT

    def add(self, seq: int, now: float) -> list[int]:
        """Record an arrival; return the sequence numbers to NACK now (possibly none)."""
        highest = self._highest
        if highest is None:
            self._highest = seq
            return []
        delta = (seq - highest) & 0xFFFF
        missing = self._missing
        if delta == 1 and not missing:
            self._highest = seq  # the common case: in order, nothing outstanding
            return []
        if 0 < delta < 0x8000:
            if delta <= MAX_GAP:
                for i in range(1, delta):
                    missing[(highest + i) & 0xFFFF] = (now, 0.0, 0)
            else:
                missing.clear()
            self._highest = seq
        else:
            missing.pop(seq, None)
        due: list[int] = []
        rtt = max(MIN_RTT, self.rtt)
        max_age = max(MIN_NACK_AGE, 4 * rtt)
        for lost, (first, last, attempts) in list(missing.items()):
            if now - first > max_age or attempts >= MAX_NACK_ATTEMPTS:
                del missing[lost]
            elif now - last >= rtt:
                missing[lost] = (first, now, attempts + 1)
                due.append(lost)
        return sorted(due, key=lambda s: seq_diff(s, self._highest or 0))


class ReceptionStatistics:
    """RFC 3550 receiver statistics of one incoming stream (for receiver reports)."""

    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._base: int | None = None
        self._highest = 0
        self._cycles = 0
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_transit: float | None = None
        self._last_sr: int | None = None
        self._last_sr_at = 0.0
        # (expected, received) at the start of the current window, and the last window's
        # loss: readers at any pace see the same recent loss.
        self._window_start: tuple[int, int, float] | None = None
        self._window_losses: tuple[float, ...] = ()

    def add(self, packet: RtpPacket) -> int:
        """Count one received packet; the cumulative number lost so far (``packets_lost``)."""
        seq: int = packet.sequence_number
        self.received += 1
        if self._base is None:
            self._base = self._highest = seq
        else:
            delta = (seq - self._highest) & 0xFFFF
            if 0 < delta < 0x8000:
                if seq < self._highest:
                    self._cycles += 1 << 16
                self._highest = seq
        transit = time.monotonic() * self._clock_rate - packet.timestamp
        if self._last_transit is not None:
            self._jitter += (abs(transit - self._last_transit) - self._jitter) / 16
        self._last_transit = transit
        lost = self._cycles + self._highest - self._base + 1 - self.received
        return lost if lost > 0 else 0

    @property
    def extended_highest(self) -> int:
        """Highest sequence number received, extended with wrap-around cycles."""
        return self._cycles + self._highest

    @property
    def expected(self) -> int:
        """Packets expected since the first one."""
        return 0 if self._base is None else self.extended_highest - self._base + 1

    @property
    def packets_lost(self) -> int:
        """Cumulative packets lost (never negative: duplicates are not gains)."""
        return max(0, self.expected - self.received)

    @property
    def jitter(self) -> int:
        """Interarrival jitter in RTP clock units."""
        return int(self._jitter)

    def take_fraction_lost(self) -> int:
        """Fraction lost since the previous call, in 1/256 units (RFC 3550 6.4.1)."""
        expected = self.expected - self._expected_prior
        received = self.received - self._received_prior
        self._expected_prior = self.expected
        self._received_prior = self.received
        lost = expected - received
        if expected <= 0 or lost <= 0:
            return 0
        return min(255, (lost << 8) // expected)

    def recent_fraction_lost(self, now: float, window_s: float = 1.0, windows: int = 3
                             ) -> float:
        """The share of packets lost on the way in: the worst of the last ``windows`` full
        windows (0..1, at most ``KEPT_LOSS_WINDOWS``), so a report covering a slightly
        different span still sees it."""
        if self._window_start is None:
            self._window_start = (self.expected, self.received, now)
        elif now - self._window_start[2] >= window_s:
            expected = self.expected - self._window_start[0]
            received = self.received - self._window_start[1]
            loss = max(0, expected - received) / expected if expected > 0 else 0.0
            self._window_losses = (*self._window_losses[1 - KEPT_LOSS_WINDOWS:], loss)
            self._window_start = (self.expected, self.received, now)
        if not self._window_losses:
            # Younger than a window: what it lost so far (a phone's first second on a weak
            # uplink is its worst, and must not pass for whole).
            expected = self.expected
            return max(0, expected - self.received) / expected if expected > 0 else 0.0
        return max(self._window_losses[-windows:])

    def sender_report(self, ntp_timestamp: int, now: float) -> None:
        """Remember the publisher's last sender report (for LSR/DLSR in our reports)."""
        self._last_sr = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self._last_sr_at = now

    def lsr_dlsr(self, now: float) -> tuple[int, int]:
        """LSR and DLSR fields for a receiver report (both 0 before any sender report)."""
        if self._last_sr is None:
            return 0, 0
        return self._last_sr, int(max(0.0, now - self._last_sr_at) * 65536)

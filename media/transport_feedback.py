"""Transport-wide congestion control feedback for a publisher (draft-holmer-rmcat-transport-
wide-cc-extensions-01, RTCP RTPFB FMT 15).

The server asks every publisher to number all its packets with one transport-wide sequence
number and answers, every ``FEEDBACK_INTERVAL_S``, with when each of them arrived (or that it
did not). From that the publisher's own congestion controller (Chrome's and Firefox's
send-side Google Congestion Control) sees its uplink's queue grow before anything is lost,
and its probes, and sets its encoders' rates: a phone on a 250 kbit/s uplink adapts by
delay instead of by loss. The server only reports; it estimates nothing here.
"""

from __future__ import annotations

import struct

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
FEEDBACK_INTERVAL_S = 0.1
# Packets reported in one feedback at most (a 16-bit status count, and one MTU of RTCP).
MAX_PACKETS = 400
_TICK_US = 250  # receive deltas are multiples of 250 microseconds
_REFERENCE_US = 64_000  # the reference time counts 64 ms steps
_HEADER = struct.Struct("!BBHIIHHI")
_NOT_RECEIVED, _SMALL_DELTA, _LARGE_DELTA = 0, 1, 2


class TransportFeedback:
    """Arrivals of one publisher's packets, turned into feedback packets as they are due."""

    def __init__(self) -> None:
        # unwrapped transport sequence number -> arrival (microseconds, monotonic)
        self._arrivals: dict[int, int] = {}
        self._highest: int | None = None
        self._next_base: int | None = None
        self._count = 0

    @property
    def sent(self) -> int:
        """How many feedback packets were built so far (the publisher numbers its packets)."""
        return self._count

    def add(self, sequence_number: int, arrival_s: float) -> None:
        """Note a packet's arrival (any packet with the transport sequence number)."""
        unwrapped = self._unwrap(sequence_number)
        if self._next_base is not None and unwrapped < self._next_base:
            return  # reported as lost already; too late to matter to the sender
        self._arrivals.setdefault(unwrapped, int(arrival_s * 1_000_000))

    def _unwrap(self, sequence_number: int) -> int:
        if self._highest is None:
            self._highest = sequence_number
            return sequence_number
        delta = (sequence_number - self._highest) & 0xFFFF
        unwrapped = self._highest + (delta if delta < 0x8000 else delta - 0x10000)
        self._highest = max(self._highest, unwrapped)
        return unwrapped

    def build(self, sender_ssrc: int, media_ssrc: int) -> bytes | None:
        """The next feedback packet, or None when nothing arrived since the last one."""
        if not self._arrivals:
            return None
        received = sorted(self._arrivals)
        base = received[0]
        if self._next_base is not None and received[0] - self._next_base < MAX_PACKETS // 2:
            # Holes since the last feedback are reported as lost; after a long silence (the
            # sender paused, or a burst was lost whole) the report starts at what arrived.
            base = self._next_base
        last = min(received[-1], base + MAX_PACKETS - 1)
        reported = [s for s in received if s <= last]
        first_arrival = self._arrivals[reported[0]]
        reference = first_arrival // _REFERENCE_US
        previous_us = reference * _REFERENCE_US
        symbols: list[int] = []
        deltas = bytearray()
        for seq in range(base, last + 1):
            arrival = self._arrivals.get(seq)
            if arrival is None:
                symbols.append(_NOT_RECEIVED)
                continue
            ticks = round((arrival - previous_us) / _TICK_US)
            if 0 <= ticks <= 0xFF:
                symbols.append(_SMALL_DELTA)
                deltas.append(ticks)
            else:
                ticks = max(-0x8000, min(0x7FFF, ticks))
                symbols.append(_LARGE_DELTA)
                deltas += struct.pack("!h", ticks)
            # What the sender will reconstruct: no drift from rounding.
            previous_us += ticks * _TICK_US
        for seq in reported:
            del self._arrivals[seq]
        self._next_base = last + 1
        chunks = _chunks(symbols)
        body = chunks + bytes(deltas)
        body += b"\x00" * (-len(body) % 4)
        length_words = (_HEADER.size + len(body)) // 4 - 1
        header = _HEADER.pack(
            0x80 | 15, 205, length_words, sender_ssrc, media_ssrc,
            base & 0xFFFF, len(symbols),
            ((reference & 0xFFFFFF) << 8) | (self._count & 0xFF),
        )
        self._count += 1
        return header + body


def _chunks(symbols: list[int]) -> bytes:
    # Status vector chunks of seven two-bit symbols (simple, and any mix of deltas fits);
    # long runs of one symbol as run-length chunks.
    out = bytearray()
    i = 0
    while i < len(symbols):
        run = 1
        while i + run < len(symbols) and symbols[i + run] == symbols[i] and run < 0x1FFF:
            run += 1
        if run >= 14:
            out += struct.pack("!H", (symbols[i] << 13) | run)
            i += run
            continue
        group = symbols[i:i + 7]
        value = 0xC000
        for position, symbol in enumerate(group):
            value |= symbol << (12 - 2 * position)
        out += struct.pack("!H", value)
        i += len(group)
    return bytes(out)

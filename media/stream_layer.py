"""One RTP stream (one SSRC) of a published stream: a simulcast layer, or the only one.

A publisher's camera arrives as up to three layers (``q``, ``h``, ``f``: a quarter, half and
full resolution, RFC 8853 rids); its microphone, or a publisher that does not do simulcast,
as one. Each layer keeps what the SFU needs per SSRC: a packet cache for NACKs, reception
statistics for receiver reports, the holes to NACK, a throttle on keyframe requests, and
how fast it arrives (what a subscriber would cost to feed from it).
"""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from .rtp_stats import MissingPackets, ReceptionStatistics

# A power of two that covers ~1.5 s of 480p video: older packets are useless to a receiver.
PACKET_CACHE_SIZE = 1024
_CACHE_MASK = PACKET_CACHE_SIZE - 1
# (sequence number, timestamp, marker, payload type, SSRC, payload, audio-level byte, arrival)
_Cached = tuple[int, int, int, int, int, bytes, int | None, float]
# A keyframe takes a round trip and an encode to arrive: asking again sooner only adds
# keyframes, which cost a weak uplink 5-10 times a normal frame. Once the keyframe asked for
# has arrived, a new need (a subscriber that starts after it) may ask again sooner.
KEYFRAME_REQUEST_INTERVAL = 1.0
KEYFRAME_AFTER_ANSWER_S = 0.3
# Repairs (a decoder or the recorder lost a frame) that keep coming although keyframes were
# sent mean the keyframes are lost on the way in too (a phone uplink that drops a keyframe's
# many packets): each keeps the next one twice as far away, up to MAX_REPAIR_SPACING_S, until
# REPAIR_CALM_S pass without one. Otherwise a lossy uplink asks for keyframes twice a second
# and the keyframes themselves fill the link that loses them.
MAX_REPAIR_SPACING_S = 8.0
REPAIR_CALM_S = 10.0
# A layer that sent nothing for this long is off (the publisher's encoder dropped it), and
# one that has been on for less than STEADY_S is not worth switching anyone up to yet: a
# phone's encoder turns its upper layer on and off as its uplink varies.
ACTIVE_WITHIN_S = 1.0
STEADY_S = 5.0
# A layer that went off again after less than FLAP_S on must stay on twice as long as
# before (up to MAX_STEADY_S) to count as steady: every move up to it and back down costs a
# keyframe from the publisher. After CALM_S off, or FLAP_S on, it starts afresh.
FLAP_S = 30.0
MAX_STEADY_S = 40.0
CALM_S = 60.0
# Packet overhead on the wire beyond the RTP payload (IP, UDP, RTP header and extensions,
# SRTP tag): what a shaped link counts. Three Opus streams carry ~60 kbit/s of it.
PACKET_OVERHEAD_BYTES = 50
# The rate is counted over this many buckets of BUCKET_S seconds.
BUCKET_S = 0.5
BUCKETS = 4


class StreamLayer:
    """One SSRC of a published stream, as the server receives it."""

    def __init__(self, index: int, rid: str | None, *, video: bool,
                 ceiling_bps: int | None = None) -> None:
        self.index = index
        self.rid = rid
        self.media_ssrc: int | None = None
        self.statistics: ReceptionStatistics | None = None
        self.missing = MissingPackets() if video else None
        self.last_arrival: float | None = None
        self.active_since = 0.0
        self.steady_s = STEADY_S
        self.keyframes = 0
        self.last_keyframe = -KEYFRAME_REQUEST_INTERVAL
        # The picture size of the last keyframe (0: not known yet).
        self.width = 0
        self.height = 0
        # Beyond the publisher's limits (``publisher_limits``): "rate" while the layer
        # arrives above ``ceiling_bps``, "picture" after a keyframe larger than allowed; the
        # layer is not forwarded until a keyframe within the limits (None: forwarded).
        self.ceiling_bps = ceiling_bps
        self.blocked: str | None = None
        self.over_ceiling = False
        # Entries are tuples of ints, floats and bytes, which the garbage collector stops
        # tracking: a cache of packet objects would be promoted to the oldest generation at
        # the packet rate and make every full collection (a stall of the whole event loop) long.
        self._cache: list[_Cached | None] = [None] * PACKET_CACHE_SIZE
        self._last_keyframe_request = -KEYFRAME_REQUEST_INTERVAL
        self._last_repair = -REPAIR_CALM_S
        self._repair_spacing = 0.0
        self._bucket_start: float | None = None
        self._bucket_bytes = 0
        self._rates: list[int] = []

    def store(self, packet: RtpPacket, level: int | None, now: float) -> bool:
        """Cache and count a packet; False for a duplicate (nothing else to do with it)."""
        seq = packet.sequence_number
        slot = seq & _CACHE_MASK
        previous = self._cache[slot]
        if previous is not None and previous[0] == seq:
            return False
        payload = packet.payload
        self._cache[slot] = (seq, packet.timestamp, packet.marker, packet.payload_type,
                             packet.ssrc, payload, level, now)
        if self.last_arrival is None or now - self.last_arrival >= ACTIVE_WITHIN_S:
            self._turned_on(now)
        self.last_arrival = now
        if self._bucket_start is None:
            self._bucket_start = now
        elif now - self._bucket_start >= BUCKET_S:
            self._roll(now)
        self._bucket_bytes += len(payload) + PACKET_OVERHEAD_BYTES
        return True

    def _turned_on(self, now: float) -> None:
        last = self.last_arrival
        if last is not None:
            flapped = last - self.active_since < FLAP_S and now - last < CALM_S
            self.steady_s = min(MAX_STEADY_S, 2 * self.steady_s) if flapped else STEADY_S
        self.active_since = now

    def _roll(self, now: float) -> None:
        assert self._bucket_start is not None
        elapsed = int((now - self._bucket_start) / BUCKET_S)
        self._rates.append(self._bucket_bytes)
        # Buckets with nothing in them (a paused layer) count as silence.
        self._rates.extend([0] * min(BUCKETS, elapsed - 1))
        del self._rates[:-BUCKETS]
        self._bucket_bytes = 0
        self._bucket_start += elapsed * BUCKET_S
        if self.ceiling_bps is not None and len(self._rates) == BUCKETS:
            # Once per bucket, not per packet, and over a whole window: a keyframe alone
            # (a browser's first, 5-10 normal frames) fits in it below the ceiling.
            rate = sum(self._rates) * 8 / (BUCKETS * BUCKET_S)
            self.over_ceiling = rate > self.ceiling_bps
            if self.over_ceiling and self.blocked is None:
                self.blocked = "rate"

    def bitrate(self, now: float) -> int:
        """Bits per second over the last ~2 s, as a subscriber's link carries them (with each
        packet's ``PACKET_OVERHEAD_BYTES``, like the downlink's estimate)."""
        if self._bucket_start is None or not self.active(now):
            return 0
        if now - self._bucket_start >= BUCKET_S:
            self._roll(now)
        if not self._rates:
            return int(self._bucket_bytes * 8 / max(0.1, now - self._bucket_start))
        return int(sum(self._rates) * 8 / (len(self._rates) * BUCKET_S))

    def active(self, now: float) -> bool:
        """Whether the publisher sends this layer now, within its limits (a blocked layer
        is off to consumers: they move to another until it is forwarded again)."""
        return (self.blocked is None and self.last_arrival is not None
                and now - self.last_arrival < ACTIVE_WITHIN_S)

    def steady(self, now: float) -> bool:
        """Whether the publisher has sent this layer without a break for long enough to
        move anyone up to it (``STEADY_S``, longer for a layer that keeps going off)."""
        return self.active(now) and now - self.active_since >= self.steady_s

    def cached(self, sequence_number: int) -> tuple[RtpPacket, float] | None:
        """The cached packet with this (publisher) sequence number and when it arrived."""
        entry = self._cache[sequence_number & _CACHE_MASK]
        if entry is None or entry[0] != sequence_number:
            return None
        _, timestamp, marker, payload_type, ssrc, payload, level, arrived = entry
        packet = RtpPacket(payload_type, marker, sequence_number, timestamp, ssrc, payload)
        if level is not None:
            packet.extensions.audio_level = (bool(level & 0x80), level & 0x7F)
        return packet, arrived

    def keyframe_request_due(self, now: float, *, repair: bool = False) -> bool:
        """Whether a keyframe may be asked for now (and, if so, count the request as made);
        a ``repair`` (for a lost frame) also waits out the spacing repeated repairs built."""
        if self.media_ssrc is None:
            return False
        since = now - self._last_keyframe_request
        answered = self.last_keyframe > self._last_keyframe_request
        wait = KEYFRAME_AFTER_ANSWER_S if answered else KEYFRAME_REQUEST_INTERVAL
        if repair and now - self._last_repair < REPAIR_CALM_S:
            wait = max(wait, self._repair_spacing)
        if since < wait:
            return False
        if repair:
            calm = now - self._last_repair >= REPAIR_CALM_S
            self._repair_spacing = KEYFRAME_REQUEST_INTERVAL if calm else min(
                MAX_REPAIR_SPACING_S, 2 * self._repair_spacing)
            self._last_repair = now
        self._last_keyframe_request = now
        return True

    def clear(self) -> None:
        """Forget every packet (the stream closed)."""
        self._cache = [None] * PACKET_CACHE_SIZE

"""How often a page may send each kind of message, and when a page has sent too much.

Each participant page gets a token bucket per message kind: ``burst`` messages at once, then
``per_s`` a second. A message over its kind's rate is dropped and answered with a non-fatal
``rate_limited`` error; each such refusal also takes a token from the page's ``strikes``
bucket, and a page that runs out of strikes (it keeps exceeding over a sustained period,
or floods) is removed from the hearing. The limits sit well above what the web client
sends (``docs/protocol.md`` lists both), so an honest page never meets them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType


@dataclass(frozen=True)
class MessageRate:
    """A token bucket's shape: ``burst`` messages at once, refilled at ``per_s`` a second."""

    burst: int
    per_s: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_s <= 0:
            raise ValueError(f"a message rate needs burst >= 1 and per_s > 0, not {self}")


def _default_kinds() -> Mapping[str, MessageRate]:
    return MappingProxyType({
        # The page pings every heartbeat (at least 2 s apart).
        "ping": MessageRate(10, 1.0),
        "hello": MessageRate(5, 0.2),
        # People: a chat line at a time, a hand or a button pressed a few times.
        "chat": MessageRate(5, 1.0),
        "hand": MessageRate(10, 1.0),
        "media_state": MessageRate(10, 2.0),
        "receive_video": MessageRate(10, 1.0),
        "record": MessageRate(10, 1.0),
        "end": MessageRate(5, 0.5),
        "leave": MessageRate(5, 0.5),
        # A host working through a full lobby clicks fast.
        "admit": MessageRate(50, 5.0),
        "deny": MessageRate(50, 5.0),
        "mute": MessageRate(50, 5.0),
        "remove": MessageRate(50, 5.0),
        # One answer per server offer; a hearing filling up renegotiates often.
        "answer": MessageRate(100, 20.0),
        # The page reports its link every 4 s and its view at most twice a second.
        "quality": MessageRate(10, 1.0),
        "view": MessageRate(20, 4.0),
    })


@dataclass(frozen=True)
class MessageRates:
    """The rate of every client message kind, and how many refusals a page may collect."""

    kinds: Mapping[str, MessageRate] = field(default_factory=_default_kinds)
    # 20 refusals at once (a flood is removed at its 21st refused message); a page that
    # goes on exceeding by one message a second is removed after about 25 s.
    strikes: MessageRate = MessageRate(20, 0.2)
    # Kinds missing from ``kinds`` (none today) get this.
    other: MessageRate = MessageRate(10, 1.0)

    @classmethod
    def unlimited(cls) -> MessageRates:
        """No limits: for tests and benches that send one page far more than a person could."""
        return cls(kinds=MappingProxyType({}), other=MessageRate(10**9, 1e9))

    def rate(self, kind: str) -> MessageRate:
        """The rate of one message kind."""
        return self.kinds.get(kind, self.other)

    def with_rate(self, kind: str, rate: MessageRate) -> MessageRates:
        """A copy with one kind's rate changed."""
        return replace(self, kinds=MappingProxyType({**self.kinds, kind: rate}))


DEFAULT_MESSAGE_RATES = MessageRates()


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at

    def take(self, rate: MessageRate, now: float) -> float:
        """Take a token; 0 if there was one, else the seconds until there is."""
        self.tokens = min(float(rate.burst), self.tokens + (now - self.at) * rate.per_s)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate.per_s


class PageAllowance:
    """One page's buckets: whether its next message of a kind may pass, and its strikes."""

    def __init__(
        self, rates: MessageRates = DEFAULT_MESSAGE_RATES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = rates
        self._clock = clock
        # Made on a kind's first message: most pages only ever send a few kinds.
        self._buckets: dict[str, _Bucket] = {}
        self._strikes: _Bucket | None = None

    def take(self, kind: str) -> float:
        """Count one message of ``kind``: 0 if it may pass, else seconds until one may."""
        rate = self._rates.rate(kind)
        now = self._clock()
        bucket = self._buckets.get(kind)
        if bucket is None:
            bucket = self._buckets[kind] = _Bucket(float(rate.burst), now)
        return bucket.take(rate, now)

    def strike(self) -> bool:
        """Count one refused message; True once the page has run out of strikes."""
        rate = self._rates.strikes
        now = self._clock()
        if self._strikes is None:
            self._strikes = _Bucket(float(rate.burst), now)
        return self._strikes.take(rate, now) > 0

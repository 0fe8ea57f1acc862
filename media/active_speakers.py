"""Who is speaking in a hearing, and the audio an audio-only participant is sent because of it.

An audio-only participant is on a weak link: five publishers' continuous Opus (~28 kbit/s
each) is more than such a link should carry. Like other SFUs, the server then forwards to
that participant only the audio of the hearing's active speakers, chosen from the RFC 6464
``ssrc-audio-level`` header extension that publishers send with every audio packet (the
server offers it; the forwarding path reads the byte anyway). Normal participants still
receive every publisher's audio.

Each audio-only participant hears at most ``MAX_SPEAKERS`` others: the hearing keeps one
more speaker than that (a speaker does not hear itself), and a listener hears the longest
standing of them other than itself. Selection, re-evaluated every ``TICK_S``:

- a publisher *speaks* in a tick when its mean level over the tick is above
  ``SPEECH_FLOOR_DBOV``; one speaking tick is enough to take a free slot, so the first
  syllables of a new speaker are lost for at most about one tick;
- a speaker keeps its slot until it has not spoken for ``HOLD_S`` (pauses between sentences
  do not cut it off);
- when every slot is taken, a new speaker replaces the quietest one only if it is louder, on
  average over ``WINDOW_S``, by ``SWITCH_MARGIN_DB`` (hysteresis: two voices of about the same
  loudness do not flap).

A publisher whose packets carry no level (a client that did not negotiate the extension) is
counted as speaking at the floor: it is never silenced for lack of information, but ranks
below real speakers. Server-muted publishers are not metered, so they fall silent here too.

The level is the page's own claim. Its payload is not: Opus spends a few bytes on a frame of
silence or comfort noise (3 for 20 ms of digital silence, DTX updates alike), and at least
~15 on any speech, even at 6 kbit/s. A packet of at most ``SILENT_PAYLOAD_BYTES`` therefore
counts as silence whatever level it claims, so a page that claims loud audio while sending
silence never takes a speaker's slot; a tick of speech needs its mean over every packet of
the tick to clear the floor, so a few full-size packets among silent ones do not either.

The evaluation runs inside the packet path (the first packet after a tick boundary), so
there is no task to own; with no audio packets at all there is nothing to select.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from .published_stream import PublishedStream
from .subscription import Subscription

MAX_SPEAKERS = 2
TICK_S = 0.1
WINDOW_S = 1.5
HOLD_S = 1.5
SPEECH_FLOOR_DBOV = -60
SWITCH_MARGIN_DB = 6.0
# The largest Opus payload counted as silence (DTX, comfort noise), whatever its claimed level.
SILENT_PAYLOAD_BYTES = 10

# Levels are kept as loudness, 127 + dBov: 0 is silence, 127 full scale.
_FLOOR = 127 + SPEECH_FLOOR_DBOV
_WINDOW_TICKS = round(WINDOW_S / TICK_S)
_SLOTS = MAX_SPEAKERS + 1


class LevelMeter:
    """One published audio stream's levels: fed per packet, summed per tick."""

    __slots__ = ("_clock", "_count", "_owner", "_total", "history", "last_spoke", "stream")

    def __init__(self, stream: PublishedStream, owner: ActiveSpeakers,
                 clock: Callable[[], float]) -> None:
        self.stream = stream
        self._owner = owner
        self._clock = clock
        self._total = 0
        self._count = 0
        self.history: deque[float] = deque(maxlen=_WINDOW_TICKS)
        self.last_spoke = float("-inf")

    def add(self, level_byte: int | None, payload_size: int) -> None:
        """One packet's audio-level byte (V bit and -dBov), or None when it carried none, and
        the size of its Opus payload (a silent frame's size belies a loud claim)."""
        if payload_size <= SILENT_PAYLOAD_BYTES:
            pass  # counted as silence: adds nothing to the tick's loudness
        elif level_byte is None:
            self._total += _FLOOR
        else:
            self._total += 127 - (level_byte & 0x7F)
        self._count += 1
        now = self._clock()
        if now >= self._owner.next_tick:
            self._owner.evaluate(now)

    def close_tick(self, now: float, ticks: int) -> None:
        """End ``ticks`` ticks: the last gets the mean of what arrived, earlier ones nothing."""
        loudness = self._total / self._count if self._count else 0.0
        self._total = self._count = 0
        for _ in range(min(ticks, _WINDOW_TICKS) - 1):
            self.history.append(0.0)
        # What arrived since the last evaluation is the latest evidence, whatever the gap.
        self.history.append(loudness)
        if loudness >= _FLOOR:
            self.last_spoke = now

    @property
    def speaking(self) -> bool:
        """Whether the last tick was speech."""
        return bool(self.history) and self.history[-1] >= _FLOOR

    @property
    def score(self) -> float:
        """Mean loudness over the window (ticks not yet seen count as silence)."""
        return sum(self.history) / _WINDOW_TICKS


class ActiveSpeakers:
    """The hearing's active speakers, and the audio forwarded to its audio-only participants.

    A ``StreamObserver`` of ``HearingMedia``: every published audio stream gets a
    ``LevelMeter``. ``set_receive_video(pid, False)`` marks the participants in audio-only
    mode, who receive only the speakers.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._meters: dict[PublishedStream, LevelMeter] = {}
        self._speakers: list[LevelMeter] = []
        self._without_video: set[str] = set()
        self._dominant: LevelMeter | None = None
        self.next_tick = clock() + TICK_S

    @property
    def speakers(self) -> tuple[str, ...]:
        """Participant ids of the current active speakers (most recently chosen last);
        up to ``MAX_SPEAKERS + 1``, as a listener among them hears the others."""
        return tuple(m.stream.participant_id for m in self._speakers)

    @property
    def dominant(self) -> str | None:
        """The speaker whose video comes first: the loudest of the active speakers, kept
        until another is clearly louder (``SWITCH_MARGIN_DB``)."""
        return None if self._dominant is None else self._dominant.stream.participant_id

    def stream_published(self, stream: PublishedStream) -> None:
        """Meter a new audio stream; gate it for the audio-only participants already there."""
        if stream.kind != "audio":
            return
        meter = self._meters.get(stream)
        if meter is None:
            meter = self._meters[stream] = LevelMeter(stream, self, self._clock)
            stream.set_level_meter(meter)
        self._gate(stream)

    def stream_unpublished(self, stream: PublishedStream) -> None:
        """Forget a stream whose publisher left."""
        meter = self._meters.pop(stream, None)
        if meter is None:
            return
        stream.set_level_meter(None)
        if meter is self._dominant:
            self._dominant = None
        if meter in self._speakers:
            self._speakers.remove(meter)
            self._gate_all()

    def set_receive_video(self, participant_id: str, receive_video: bool) -> None:
        """Audio-only mode (``receive_video`` False): ``participant_id`` gets only the active
        speakers' audio; with video it gets everyone's again."""
        if receive_video != (participant_id in self._without_video):
            return
        if receive_video:
            self._without_video.discard(participant_id)
        else:
            self._without_video.add(participant_id)
        self._gate_all()

    def evaluate(self, now: float) -> None:
        """Close the tick(s) that ended by ``now`` and choose the speakers again."""
        ticks = max(1, int((now - self.next_tick) / TICK_S) + 1)
        self.next_tick += ticks * TICK_S
        for meter in self._meters.values():
            meter.close_tick(now, ticks)
        chosen = [m for m in self._speakers if now - m.last_spoke < HOLD_S]
        waiting = sorted(
            (m for m in self._meters.values() if m not in chosen and m.speaking),
            key=lambda m: m.score, reverse=True,
        )
        for meter in waiting:
            if len(chosen) < _SLOTS:
                chosen.append(meter)
                continue
            quietest = min(chosen, key=lambda m: m.score)
            if meter.score > quietest.score + SWITCH_MARGIN_DB:
                chosen.remove(quietest)
                chosen.append(meter)
        loudest = max(chosen, key=lambda m: m.score, default=None)
        if self._dominant not in chosen or (
            loudest is not None and self._dominant is not None
            and loudest.score > self._dominant.score + SWITCH_MARGIN_DB
        ):
            self._dominant = loudest
        if chosen != self._speakers:
            self._speakers = chosen
            self._gate_all()

    def _gate_all(self) -> None:
        for stream in self._meters:
            self._gate(stream)

    def _gate(self, stream: PublishedStream) -> None:
        meter = self._meters.get(stream)
        for sink in stream.consumers:
            if isinstance(sink, Subscription):
                listener = sink.subscriber_id
                sink.set_paused(
                    listener in self._without_video and not self._heard(meter, listener)
                )

    def _heard(self, meter: LevelMeter | None, listener: str) -> bool:
        # In the order they were chosen, so a listener's pair does not flap with loudness.
        others = [m for m in self._speakers if m.stream.participant_id != listener]
        return meter in others[:MAX_SPEAKERS]

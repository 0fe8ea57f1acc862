"""The contract between a hearing and its media plane: everything ``signaling`` may name.

A hearing drives its SFU (``MediaPlane``) and its recorder (``Recorder``); they answer through
``MediaSignal`` (offers for a page) and ``RecorderListener`` (faults, and who should be
sending). Like Galène's ``conn`` package, this module is the whole room <-> media contract:
``signaling`` imports nothing else of ``media`` (``tests/test_import_rules.py``), and the
server, the only place that wires things, builds the concrete ``HearingMedia`` and
``HearingRecorder`` behind these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypedDict

from .errors import MediaError
from .metrics import HearingMetrics

__all__ = [
    "HearingMetrics",
    "LinkQuality",
    "MediaError",
    "MediaPlane",
    "MediaSignal",
    "OfferedStream",
    "ParticipantQuality",
    "Recorder",
    "RecorderFault",
    "RecorderListener",
    "RecorderStart",
    "StreamMap",
    "TileView",
    "TimelineEntry",
    "VideoCodec",
]


class VideoCodec(StrEnum):
    """The one video codec a hearing pins, so nobody ever needs a transcode."""

    VP8 = "vp8"
    H264 = "h264"


class OfferedStream(TypedDict):
    """What one m-line of an offer carries: whose stream, audio or video, and which way.

    ``role`` is ``"publish"`` for the m-lines the page sends its own camera and microphone
    on, ``"subscribe"`` for another participant's stream.
    """

    participant_id: str
    kind: str
    role: str


# mid -> the stream on that m-line, sent to the page with every offer.
StreamMap = dict[str, OfferedStream]


@dataclass
class LinkQuality:
    """What a subscriber's RTCP receiver reports say about one stream it receives."""

    fraction_lost: float = 0.0
    packets_lost: int = 0
    jitter_seconds: float = 0.0
    round_trip_seconds: float | None = None
    reported_at: float | None = None  # when the last report came (monotonic clock)


@dataclass(frozen=True)
class ParticipantQuality:
    """A participant's link as the server sees it, each direction on its own."""

    participant_id: str
    # publisher participant id, kind -> what this participant's receiver reports say
    receiving: dict[tuple[str, str], LinkQuality]
    # kind -> (packets received by the server, packets lost on the way in)
    publishing: dict[str, tuple[int, int]]
    # Share lost on the participant's uplink over the last second, before any repair.
    uplink_loss: float | None = None
    # Share lost on its downlink: only streams that reached the server whole say that.
    downlink_loss: float | None = None
    downlink_estimate_bps: int | None = None
    # The downlink cannot carry even the speaker's lowest video layer: audio only.
    downlink_audio_only: bool = False


@dataclass(frozen=True)
class TileView:
    """How a subscriber's page shows one participant: visible, and how big (pixels)."""

    visible: bool = True
    width: int = 0
    height: int = 0


class MediaSignal(Protocol):
    """How the media plane reaches a participant's page (the hearing room relays it)."""

    async def send_offer(self, participant_id: str, sdp: str, streams: StreamMap) -> None:
        """Deliver an SDP offer and the stream on each of its m-lines."""

    def receiving_video(self, participant_id: str, receiving: bool) -> None:
        """The participant's downlink carries video again (``receiving``), or cannot carry
        even the speaker's lowest layer: the page receives audio only until it can."""


class MediaPlane(Protocol):
    """The SFU of one hearing, as its room drives it (``media.hearing_media.HearingMedia``)."""

    async def add_participant(self, participant_id: str, *, can_publish: bool) -> None:
        """Start media for an admitted participant: the server sends an offer."""

    async def apply_answer(self, participant_id: str, sdp: str) -> None:
        """The page's answer to the server's last offer."""

    async def remove_participant(self, participant_id: str) -> None:
        """Tear the participant's media down; others stop receiving it."""

    def set_muted(self, participant_id: str, muted: bool) -> None:
        """Server-side mute: stop (or resume) forwarding the participant's audio."""

    def set_receive_video(self, participant_id: str, receive_video: bool) -> None:
        """Audio-only mode off (True) or on (False): forward video to the participant or not."""

    def set_view(self, participant_id: str, tiles: dict[str, TileView], *, hidden: bool) -> None:
        """What the participant's page shows: no layer above a tile's size, nothing unseen."""

    def quality(self, participant_id: str) -> ParticipantQuality:
        """The server's RTCP view of the participant's link."""

    def metrics(self) -> HearingMetrics:
        """A snapshot of the hearing's media counters."""

    async def close(self) -> None:
        """Stop all media; idempotent."""


@dataclass(frozen=True)
class RecorderFault:
    """Media the record is losing: one track (``<participant>-<kind>``), or ``disk``."""

    track: str
    participant_id: str | None
    kind: str | None
    reason: str


@dataclass(frozen=True)
class TimelineEntry:
    """One event of the hearing, for the record's timeline (the recorder adds its offset)."""

    at: datetime
    kind: str
    actor: str
    data: dict[str, Any]


class RecorderStart(StrEnum):
    """How ``Recorder.start`` went."""

    STARTED = "started"
    # The record of this hearing was cut off by a server stop; it continues in the same folder.
    RESUMED = "resumed"
    # Nothing can be written (the fault was reported); the hearing goes on unrecorded.
    FAILED = "failed"


class RecorderListener(Protocol):
    """What a hearing's recorder tells, and asks, the court's record (on the event loop)."""

    def recorder_fault(self, fault: RecorderFault) -> None:
        """The record is losing media until ``recorder_resumed`` for the same track."""

    def recorder_resumed(self, fault: RecorderFault) -> None:
        """The fault on ``fault.track`` is over: it records again."""

    def expects_media(self, participant_id: str, kind: str) -> bool:
        """Whether the participant's page should be sending ``kind`` now (stall detection)."""


class Recorder(Protocol):
    """The mechanics of one hearing's record (``media.recording.HearingRecorder``).

    The policy (on and off the record, audit, alerts) stays with the hearing; the recorder
    writes tracks, the timeline and the state of the record, and watches for media the
    record is losing.
    """

    @property
    def media_offset_s(self) -> float | None:
        """Seconds on the record's media clock, or None before it ever started."""

    async def start(self, listener: RecorderListener) -> RecorderStart:
        """Go on the record: every published stream is recorded from now on."""

    async def pause(self) -> None:
        """Go off the record: tracks are closed; the record stays open for more."""

    async def finish(self, *, ended: bool) -> None:
        """The last call: the hearing ended (``ended``) or the server stops mid-hearing."""

    def write_timeline(self, entry: TimelineEntry) -> None:
        """Add one event to the record's timeline (never blocks on a failing disk)."""

"""Qashyq media plane: an RTP-forwarding SFU on aiortc (no transcoding), and the recorder.

Import rule (``tests/test_import_rules.py``): this package imports neither aiohttp, redis nor
``signaling``. ``signaling`` imports only the names of ``media.plane`` (the contract between
a hearing and its media, re-exported here); events travel upward through its protocols. The
server, which wires things, also builds the concrete classes below.
"""

from .errors import (
    HearingMediaClosed,
    InvalidAnswer,
    InvalidCandidate,
    InvalidMediaConfig,
    InvalidParticipantId,
    NoOfferPending,
    ParticipantAlreadyJoined,
    UnknownParticipant,
)
from .hearing_media import HearingMedia
from .ice import IceServer
from .metrics import StreamCounters, render_prometheus
from .plane import (
    HearingMetrics,
    LinkQuality,
    MediaError,
    MediaPlane,
    MediaSignal,
    OfferedStream,
    ParticipantQuality,
    Recorder,
    RecorderFault,
    RecorderListener,
    RecorderStart,
    StreamMap,
    TileView,
    TimelineEntry,
    VideoCodec,
)
from .published_stream import ForwardedPacket, PacketSink, PublishedStream

__all__ = [
    "ForwardedPacket",
    "HearingMedia",
    "HearingMediaClosed",
    "HearingMetrics",
    "IceServer",
    "InvalidAnswer",
    "InvalidCandidate",
    "InvalidMediaConfig",
    "InvalidParticipantId",
    "LinkQuality",
    "MediaError",
    "MediaPlane",
    "MediaSignal",
    "NoOfferPending",
    "OfferedStream",
    "PacketSink",
    "ParticipantAlreadyJoined",
    "ParticipantQuality",
    "PublishedStream",
    "Recorder",
    "RecorderFault",
    "RecorderListener",
    "RecorderStart",
    "StreamCounters",
    "StreamMap",
    "TileView",
    "TimelineEntry",
    "UnknownParticipant",
    "VideoCodec",
    "render_prometheus",
]

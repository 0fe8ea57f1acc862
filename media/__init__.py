"""Qashyq media plane: an RTP-forwarding SFU on aiortc (no transcoding).

Import rule: this package imports neither aiohttp, redis nor ``signaling``; events travel
upward through the ``MediaSignal`` protocol.
"""

from .errors import (
    HearingMediaClosed,
    InvalidAnswer,
    InvalidCandidate,
    InvalidMediaConfig,
    InvalidParticipantId,
    MediaError,
    NoOfferPending,
    ParticipantAlreadyJoined,
    UnknownParticipant,
)
from .hearing_media import HearingMedia, MediaSignal, ParticipantQuality
from .ice import IceServer
from .metrics import HearingMetrics, StreamCounters, render_prometheus
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
    "MediaError",
    "MediaSignal",
    "NoOfferPending",
    "PacketSink",
    "ParticipantAlreadyJoined",
    "ParticipantQuality",
    "PublishedStream",
    "StreamCounters",
    "UnknownParticipant",
    "render_prometheus",
]

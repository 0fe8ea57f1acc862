"""Errors raised by the media plane.

    MediaError
    ├── HearingMediaClosed        the hearing's media was closed
    ├── InvalidParticipantId      id unusable as an SDP msid (1-64 token characters)
    ├── UnknownParticipant        no media session for this participant
    ├── ParticipantAlreadyJoined  add_participant twice without remove_participant
    ├── NoOfferPending            an answer arrived but the server has no offer in flight
    ├── InvalidAnswer             the answer SDP is malformed or breaks the offer's rules
    ├── InvalidCandidate          a trickled ICE candidate could not be parsed
    └── InvalidMediaConfig        bad constructor argument (codec, ICE server)

The signaling layer maps these to protocol errors in one place.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base class of every error the media plane raises on purpose."""


class HearingMediaClosed(MediaError):
    """The hearing's media has been closed; no more participants or negotiations."""


class InvalidParticipantId(MediaError):
    """The participant id cannot be used as an SDP msid stream id."""


class UnknownParticipant(MediaError):
    """The participant has no media session in this hearing."""


class ParticipantAlreadyJoined(MediaError):
    """The participant already has a media session in this hearing."""


class NoOfferPending(MediaError):
    """An answer arrived while the server had no offer in flight for that participant."""


class InvalidAnswer(MediaError):
    """The SDP answer could not be applied (malformed, or directions the offer forbids)."""


class InvalidCandidate(MediaError):
    """A trickled ICE candidate could not be parsed or applied."""


class InvalidMediaConfig(MediaError):
    """A constructor argument is unusable; the message names it."""

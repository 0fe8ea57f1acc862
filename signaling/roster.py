"""Who is in a hearing room, as the room keeps it and as each page is shown it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import Participant
from .network_quality import NetworkQuality
from .room_member import RoomMember, Seat

if TYPE_CHECKING:
    from .participant_links import ParticipantLinks
    from .seats import RoomSeats


@dataclass
class Presence:
    """One participant known to the room: the live page (if any) and what it last said."""

    participant: Participant
    member: RoomMember | None = None
    hand: bool = False
    muted: bool = False
    audio: bool = True
    video: bool = True
    receive_video: bool = True
    # The server sends audio only: the participant's downlink cannot carry video now.
    downlink_audio_only: bool = False


def roster_entry(
    presence: Presence,
    seat: Seat,
    *,
    reconnecting: bool,
    quality: NetworkQuality,
    participation: str | None,
) -> dict[str, Any]:
    """One line of the hosts' roster (``public_entries`` makes everyone else's from it)."""
    p = presence.participant
    entry: dict[str, Any] = {
        "id": p.id,
        "display_name": p.display_name,
        "role": p.role.value,
        "state": seat.value,
        "connected": not reconnecting,
        "reconnecting": reconnecting,
        "muted": presence.muted,
        "hand": presence.hand,
        "audio": presence.audio,
        "video": presence.video,
        "receive_video": presence.receive_video,
        "downlink_audio_only": presence.downlink_audio_only,
    }
    level = quality.level(p.id)
    entry["quality"] = None if level is None else level.value
    sample = quality.sample(p.id)
    # Which direction is poor: everyone may see it (it names no figures).
    entry["quality_direction"] = None if sample is None else sample.direction
    # A key for hosts only belongs in _HOST_ONLY too (public_entries drops those).
    if sample is not None:
        entry["quality_stats"] = sample.to_json()
    # Why a party who must follow the hearing cannot now ("cannot_hear", "disconnected").
    entry["participation_alert"] = participation
    return entry


def roster_entries(seats: RoomSeats, links: ParticipantLinks) -> list[dict[str, Any]]:
    """The roster as hosts see it: the lobby too, and the figures behind quality levels."""
    entries = []
    for pid, presence in seats.present.items():
        seat = seats.seat_of(pid)
        # A dropped participant keeps the seat while the grace runs: "reconnecting".
        reconnecting = seat is None and seats.is_reconnecting(pid)
        if reconnecting:
            seat = Seat.ADMITTED
        if seat is None:
            continue
        entries.append(roster_entry(
            presence, seat, reconnecting=reconnecting, quality=links.quality,
            participation=links.participation_of(pid),
        ))
    return entries


# What roster_entry adds for hosts only.
_HOST_ONLY = ("quality_stats", "participation_alert")


def public_entries(host_entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The roster as others see it, from the hosts' view: no lobby, no figures behind the
    quality level, no participation alerts."""
    return [
        {k: v for k, v in entry.items() if k not in _HOST_ONLY}
        for entry in host_entries if entry["state"] != Seat.LOBBY.value
    ]


def role_permissions(participant: Participant, *, can_record: bool) -> list[str]:
    """What a participant's role allows in a room (``record`` only where a recorder runs)."""
    perms = ["chat", "hand"]
    if participant.role.can_publish:
        perms.append("publish")
    if participant.role.is_host:
        perms += ["admit", "mute", "remove", "end"]
        if can_record:
            perms.append("record")
    return perms

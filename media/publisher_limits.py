"""What the server accepts from a publisher's camera, whatever its page claims to do.

The page keeps its simulcast layers within the hearing's ``max_video_kbps``; a page that
does not (a modified page, a raw client) would otherwise have everything it sends
forwarded to every subscriber's downlink and written to the record. So:

- the server tells the publisher the cap (``remb_packet``: RTCP REMB, which Chrome's and
  Firefox's congestion controllers and aiortc's encoder take as an upper bound, also
  alongside transport-wide feedback);
- a layer that arrives above ``HARD_CEILING_FACTOR`` times the cap over the layer's rate
  window (``stream_layer``: 2 s) is not forwarded, from the next packet until a keyframe
  arrives while its rate is below the ceiling again. Each consumer takes one layer, so the
  ceiling holds per layer: that is what a subscriber's downlink and the record carry. A
  twice-the-cap margin leaves room for a browser's keyframes and probing above a cap it
  was told (Chrome's encoder overshoots its target by up to ~1.5x for a second), and the
  gap resumes at a keyframe so every subscriber's decoder starts clean instead of on
  frames that reference dropped ones;
- a keyframe whose header announces a picture larger than ``MAX_PICTURE`` (either way up)
  stops its layer likewise until a keyframe of an allowed size: a decoder sizes its buffers
  from that header (VP8 allows 16383x16383), in every subscriber and in the composite.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

# The largest picture a layer may announce: full HD, landscape or portrait.
MAX_PICTURE = (1920, 1080)
HARD_CEILING_FACTOR = 2.0
# A browser takes the REMB as the bound of everything it sends, audio, packet headers and
# its encoders' overshoot included, while the page's layers add up to exactly the cap: told
# the bare cap, Firefox leaves its top layer off. So the REMB allows for those (still well
# under the hard ceiling).
REMB_OVER_CAP = 1.2
REMB_AUDIO_BPS = 64_000


def picture_allowed(width: int, height: int, ceiling: tuple[int, int] = MAX_PICTURE) -> bool:
    """Whether a picture of ``width`` x ``height`` fits the ceiling (either orientation)."""
    long_side, short_side = max(ceiling), min(ceiling)
    return max(width, height) <= long_side and min(width, height) <= short_side


@dataclass(frozen=True, slots=True)
class PublisherLimits:
    """A hearing's limits on each publisher's video; ``max_video_kbps`` None: no bitrate cap
    (a hearing's media built without one, e.g. in tests of the forwarding path)."""

    max_video_kbps: int | None = None
    max_picture: tuple[int, int] = MAX_PICTURE

    def __post_init__(self) -> None:
        if self.max_video_kbps is not None and self.max_video_kbps <= 0:
            raise ValueError(f"max_video_kbps must be positive, not {self.max_video_kbps}")
        if min(self.max_picture) <= 0:
            raise ValueError(f"max_picture must be positive, not {self.max_picture}")

    @property
    def video_ceiling_bps(self) -> int | None:
        """The rate (bits/s, as ``StreamLayer.bitrate`` counts) above which a layer is cut."""
        if self.max_video_kbps is None:
            return None
        return int(self.max_video_kbps * 1000 * HARD_CEILING_FACTOR)

    @property
    def remb_bps(self) -> int | None:
        """What the publisher is told it may send in all (bits/s): the cap and its allowances."""
        if self.max_video_kbps is None:
            return None
        return int(self.max_video_kbps * 1000 * REMB_OVER_CAP + REMB_AUDIO_BPS)

    def remb_packet(self, sender_ssrc: int, media_ssrcs: list[int]) -> bytes | None:
        """The RTCP REMB telling a publisher the cap for its video SSRCs (None: no cap, or no
        SSRC known yet)."""
        bitrate = self.remb_bps
        if bitrate is None or not media_ssrcs:
            return None
        packet = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=sender_ssrc, media_ssrc=0,
            fci=pack_remb_fci(bitrate, media_ssrcs),
        )
        return bytes(packet)


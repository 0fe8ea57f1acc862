"""Which way each m-line of a page's answer may send: the check made before aiortc reads it.

A line scan, not a parse: aiortc parses the answer again in ``setRemoteDescription`` (and
rejects malformed SDP there), so a full parse here doubled the cost of every answer. It
reads the kind, mid and direction the way aiortc's parser does.
"""

from __future__ import annotations

from collections.abc import Collection

from .errors import InvalidAnswer

_KINDS = ("audio", "video")
_DIRECTIONS = frozenset({"inactive", "sendonly", "recvonly", "sendrecv"})


def check_directions(sdp: str, publish_mids: Collection[str | None]) -> None:
    """Raise ``InvalidAnswer`` unless the page only sends on the m-lines it publishes on
    (``publish_mids``) and only receives on the others (or leaves them inactive)."""
    for kind, mid, direction in _media_directions(sdp):
        if kind not in _KINDS:
            continue
        allowed = ("sendonly", "inactive") if mid in publish_mids else ("recvonly", "inactive")
        if direction not in allowed:
            raise InvalidAnswer(f"m-line {mid!r}: direction {direction!r} not allowed")


def _media_directions(sdp: str) -> list[tuple[str, str, str | None]]:
    """(kind, mid, direction) of every m-section, as aiortc's SDP parser would read them."""
    sections: list[tuple[str, str, str | None]] = []
    kind: str | None = None
    mid = ""
    direction: str | None = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            if kind is not None:
                sections.append((kind, mid, direction))
            kind, mid, direction = line[2:].split(" ", 1)[0], "", None
        elif kind is not None and line.startswith("a="):
            attribute, _, value = line[2:].partition(":")
            if attribute == "mid":
                mid = value
            elif attribute in _DIRECTIONS:
                direction = attribute
    if kind is not None:
        sections.append((kind, mid, direction))
    return sections

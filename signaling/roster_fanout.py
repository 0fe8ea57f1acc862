"""Telling every page who is in the hearing: the whole roster once, then what changed.

Sending each page the whole roster on every change made a hand raised in a 1,000-page
hearing cost 1,000 rosters of 1,000 entries, and a hearing filling up O(n^2) entries: the
join of 200 pages took 20 s. A page now gets the full ``roster`` when it starts reading it
(in its welcome, or when admitted from the lobby); after that each change reaches it as a
``roster_update`` with only the entries that changed and the ids that left, the same
message object for every page of a view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .protocol import roster_message, roster_update_message
from .room_member import RoomMember
from .roster import public_entries

Entries = list[dict[str, Any]]


class RosterFanout:
    """Which pages hold the roster, and the roster each view last sent them."""

    def __init__(self) -> None:
        # For hosts (True) and for everyone else: participant id -> the entry last sent.
        self._sent: dict[bool, dict[str, dict[str, Any]]] = {True: {}, False: {}}
        # Pages that hold the roster as last sent to their view.
        self._holding: set[RoomMember] = set()

    def send(
        self,
        readers: Sequence[tuple[RoomMember, bool]],
        host_roster: Callable[[], Entries],
        *,
        welcomed: RoomMember | None = None,
        hosts_only: bool = False,
    ) -> None:
        """Bring every reader (a page, and whether it has the host view) up to date.

        ``welcomed`` gets the roster in its welcome, built from this same state right after
        this call; it is skipped here and holds the roster from then on.
        """
        views = (True,) if hosts_only else (True, False)
        full: dict[bool, dict[str, Any]] = {}
        update: dict[bool, dict[str, Any] | None] = {}
        host_entries = host_roster()
        for view in views:
            entries = host_entries if view else public_entries(host_entries)
            full[view] = roster_message(entries)
            update[view] = self._change(view, entries)
        holding: set[RoomMember] = set()
        for member, view in readers:
            if view not in full:
                if member in self._holding:
                    holding.add(member)  # its view did not change
                continue
            if member is welcomed:
                holding.add(member)
            elif member in self._holding:
                message = update[view]
                if message is not None:
                    member.send(message)
                holding.add(member)
            else:
                member.send(full[view])
                holding.add(member)
        # Pages gone from the readers (left, back in no view) start afresh if they return.
        self._holding = holding

    def _change(self, view: bool, entries: Entries) -> dict[str, Any] | None:
        last = self._sent[view]
        current = {entry["id"]: entry for entry in entries}
        changed = [entry for pid, entry in current.items() if last.get(pid) != entry]
        left = [pid for pid in last if pid not in current]
        self._sent[view] = current
        if not changed and not left:
            return None
        return roster_update_message(changed, left)

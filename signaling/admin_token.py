"""An admin token as the store keeps it: its hash, its name, when it expires or was revoked.

The token itself is shown once when created and never stored. The name is who the audit
timeline says acted. Tokens issued before names existed are stored without one and are
called ``admin`` (``LEGACY_NAME``), so existing stores keep working.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import InvalidRequest

LEGACY_NAME = "admin"
# Readable in an audit line and on a command line; never mistaken for a participant id
# ("p_...") or a station id ("s_..."), which always carry an underscore.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,39}$")


def check_token_name(name: str) -> str:
    """``name`` if it can name an admin token, else ``InvalidRequest`` saying why."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequest(
            "an admin token's name is 1 to 40 letters, digits, dots or dashes, starting "
            f"with a letter or digit, not {str(name)[:60]!r}",
            code="invalid_token_name",
        )
    return name


@dataclass(frozen=True)
class AdminToken:
    """One issued admin token (hashed), with its lifecycle."""

    token_hash: str
    name: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.name != LEGACY_NAME:
            check_token_name(self.name)

    def expired(self, now: datetime) -> bool:
        """True once the expiry time has come."""
        return self.expires_at is not None and now >= self.expires_at

    @property
    def revoked(self) -> bool:
        """True once revoked."""
        return self.revoked_at is not None

    def revoked_now(self, at: datetime) -> AdminToken:
        """This token, revoked at ``at`` (a revoked token keeps its first revocation time)."""
        return self if self.revoked else dataclasses.replace(self, revoked_at=at)

    def public_json(self, now: datetime) -> dict[str, Any]:
        """What the token list shows: never the hash."""
        state = "revoked" if self.revoked else "expired" if self.expired(now) else "active"
        return {
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "state": state,
        }

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "token_hash": self.token_hash,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AdminToken:
        """Rebuild a token stored with :meth:`to_json`."""
        return cls(
            token_hash=data["token_hash"],
            name=data.get("name") or LEGACY_NAME,
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"])
            if data.get("expires_at") else None,
            revoked_at=datetime.fromisoformat(data["revoked_at"])
            if data.get("revoked_at") else None,
        )

    @classmethod
    def legacy(cls, token_hash: str, created_at: datetime) -> AdminToken:
        """A token stored before tokens had names: called ``admin``, never expires."""
        return cls(token_hash=token_hash, name=LEGACY_NAME, created_at=created_at)

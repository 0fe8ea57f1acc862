"""ICE servers handed to pages in the welcome message."""

from __future__ import annotations

from typing import Any

from .config import Settings


def ice_servers_for(settings: Settings) -> list[dict[str, Any]]:
    """The STUN servers configured for this deployment (TURN credentials come later)."""
    if not settings.stun_urls:
        return []
    return [{"urls": list(settings.stun_urls)}]

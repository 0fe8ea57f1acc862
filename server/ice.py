"""ICE servers: STUN, and TURN with time-limited credentials (coturn's ``use-auth-secret``).

coturn checks a credential without storing it: the username is ``<expiry unix time>:<id>``
and the password is base64(HMAC-SHA1(shared secret, username)). Each page gets its own
credential in the welcome message; the server's own peer connections get one for the SFU.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from media.ice import IceServer

from .config import Settings

# The SFU's own TURN credential lives as long as a hearing's media plane can.
SFU_CREDENTIAL_TTL_S = 48 * 3600
SFU_TURN_USER = "qashyq-sfu"


def turn_credential(secret: str, user: str, expires_at: int) -> tuple[str, str]:
    """(username, credential) valid at coturn until ``expires_at`` (unix seconds)."""
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(
    settings: Settings, participant_id: str, clock: Callable[[], float] = time.time
) -> list[dict[str, Any]]:
    """The ``iceServers`` for one participant's page (``RTCIceServer`` dictionaries)."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        username, credential = turn_credential(
            settings.turn_secret, participant_id, int(clock()) + settings.turn_ttl_s
        )
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers


def sfu_ice_servers(
    settings: Settings, clock: Callable[[], float] = time.time
) -> tuple[IceServer, ...]:
    """ICE servers for the server's own (aiortc) peer connections.

    aiortc uses one TURN server and has no ICE-TCP, so the SFU takes the first UDP TURN URL
    (or the first TURN URL if none is UDP); pages may still reach coturn over TCP or TLS.
    """
    servers = [IceServer(urls=(url,)) for url in settings.stun_urls]
    # UDP keeps the SFU's relayed media off TCP's head-of-line blocking; TCP if that is all.
    udp_turn = next((url for url in settings.turn_urls if _is_udp_turn(url)), None)
    udp_turn = udp_turn or next(iter(settings.turn_urls), None)
    if udp_turn is not None and settings.turn_secret:
        username, credential = turn_credential(
            settings.turn_secret, SFU_TURN_USER, int(clock()) + SFU_CREDENTIAL_TTL_S
        )
        servers.append(IceServer(urls=(udp_turn,), username=username, credential=credential))
    return tuple(servers)


def _is_udp_turn(url: str) -> bool:
    if not url.startswith("turn:"):
        return False
    query = parse_qs(urlsplit(url).query)
    return query.get("transport", ["udp"])[0].lower() == "udp"

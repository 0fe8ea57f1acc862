"""STUN/TURN servers handed to the server's peer connections."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidMediaConfig

_SCHEMES = ("stun:", "turn:", "turns:")


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server (``RTCIceServer``); aiortc uses at most one TURN server."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.urls, str):
            object.__setattr__(self, "urls", (self.urls,))
        if not self.urls:
            raise InvalidMediaConfig("ice_servers[].urls: at least one URL is required")
        for url in self.urls:
            if not url.startswith(_SCHEMES):
                raise InvalidMediaConfig(
                    f"ice_servers[].urls: {url!r} must start with stun:, turn: or turns:"
                )
            if url.startswith(("turn:", "turns:")) and (
                self.username is None or self.credential is None
            ):
                raise InvalidMediaConfig(
                    f"ice_servers[]: {url!r} needs a username and a credential"
                )

    def __repr__(self) -> str:
        # The TURN credential is a secret: keep it out of logs and tracebacks.
        return f"IceServer(urls={self.urls!r}, username={self.username!r}, credential=***)"

"""One aiortc peer connection of the load, with pre-encoded tracks and counting receivers."""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy

from .load import LoadStats, install_counter, install_publisher
from .media_files import EncodedMedia


class LoadPeer:
    """A participant's peer connection: publishes ``name``'s looped media, counts what arrives."""

    def __init__(
        self, name: str, stats: LoadStats, media: dict[str, EncodedMedia]
    ) -> None:
        self.name = name
        self.stats = stats
        # aiortc's balanced policy stops a second same-kind m-line's transport under BUNDLE.
        # No ICE servers: with None aiortc looks up and queries Google's STUN server on every
        # gathering, and under a burst of joins those lookups stalled answers for seconds.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        stats.use_media(media)
        self._sources: dict[int, tuple[str, str]] = {}
        self._publishing: set[str] = set()

    def publish_on(self, transceiver: RTCRtpTransceiver, kind: str) -> None:
        """Send this participant's ``kind`` track on ``transceiver`` (once per kind)."""
        if kind in self._publishing:
            return
        self._publishing.add(kind)
        transceiver.direction = "sendonly"
        install_publisher(transceiver.sender, kind, self.stats, self.name)

    def add_publishing_transceivers(self) -> None:
        """As an offerer (Janus publisher): one sendonly m-line per kind, audio first."""
        for kind in ("audio", "video"):
            if kind in self._publishing:
                continue
            transceiver = self.pc.addTransceiver(kind, direction="sendonly")
            self._publishing.add(kind)
            install_publisher(transceiver.sender, kind, self.stats, self.name)

    def subscribe_on(self, transceiver: RTCRtpTransceiver, publisher: str, kind: str) -> None:
        """Count ``publisher``'s ``kind`` arriving on ``transceiver`` (re-hooked if it moved)."""
        key = id(transceiver.receiver)
        if self._sources.get(key) == (publisher, kind):
            return
        self._sources[key] = (publisher, kind)
        install_counter(transceiver.receiver, self.stats, self.name, publisher, kind)

    async def answer(self) -> str:
        """Answer the applied remote offer (after the caller hooked transceivers)."""
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def set_remote(self, sdp: str, kind: str) -> None:
        """Apply a remote ``offer`` or ``answer``."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))

    async def offer(self) -> str:
        """Create and apply our offer; aiortc returns it after ICE gathering completed."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        """Close the peer connection; idempotent."""
        await self.pc.close()

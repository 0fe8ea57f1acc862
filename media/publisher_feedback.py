"""What the server tells a publisher's browser about its uplink.

Every tick, transport-wide congestion control feedback (when each packet arrived), which the
browser's own send-side estimator runs on; every second, receiver reports that count the
loss *before* any repair (what the uplink really loses), with the REMB that carries the
hearing's bitrate cap riding on them.
"""

from __future__ import annotations

from aiortc.rtp import RtcpRrPacket

from .publisher_ingress import PublisherIngress
from .transport_feedback import TransportFeedback


class PublisherFeedback:
    """The feedback of one publishing participant's connection (its audio and video
    ingress share one transport)."""

    def __init__(self, ingress: dict[str, PublisherIngress]) -> None:
        self._ingress = ingress  # the connection's own dict, filled as m-lines are added
        self.transport_feedback = TransportFeedback()

    @property
    def sent(self) -> int:
        """Transport-wide congestion control feedback packets built."""
        return self.transport_feedback.sent

    async def send_transport_feedback(self) -> None:
        """The arrivals since the last tick, if the transport is up and anything arrived."""
        ingress = next(iter(self._ingress.values()), None)
        if ingress is None or not ingress.transport.connected:
            return
        media_ssrc = next((layer.media_ssrc for i in self._ingress.values()
                           for layer in i.stream.layers if layer.media_ssrc), 0)
        packet = self.transport_feedback.build(ingress.rtcp_ssrc, media_ssrc)
        if packet is not None:
            await ingress.transport.send(packet)

    async def send_receiver_reports(self, now: float, round_trip: float | None) -> None:
        """One receiver report per published kind (the NACK timing follows ``round_trip``)."""
        for ingress in self._ingress.values():
            if round_trip is not None:
                ingress.stream.set_round_trip(round_trip)
            reports = ingress.receiver_reports(now)
            if reports and ingress.transport.connected:
                packet = RtcpRrPacket(ssrc=ingress.rtcp_ssrc, reports=reports)
                # One compound packet: the REMB with the cap rides on the receiver report.
                await ingress.transport.send(bytes(packet) + (ingress.rate_cap() or b""))

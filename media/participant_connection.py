"""One participant's peer connection with the server: what it publishes and what it receives.

The server is always the offerer. Whenever the set of streams a participant should receive
changes, the connection renegotiates; at most one offer is in flight, and a change that happens
meanwhile triggers another offer once the answer is in. M-lines are never removed or reused:
a departed participant's m-lines go ``inactive`` (after an RTCP BYE ends the client's track).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import candidate_from_sdp

from .aiortc_admission import cache_fingerprints, lean_receivers
from .aiortc_fast_ingress import ArrivalClock, stamp_arrivals
from .aiortc_seam import (
    Transport,
    ice_connection,
    install_egress,
    install_inert_receiver,
    install_ingress,
    sender_rtx_ssrc,
    sender_ssrc,
)
from .answer_directions import check_directions
from .codecs import add_opus_parameters, codec_preferences, offer_publishing
from .downlink import Downlink
from .downlink_reports import (
    REPORT_COVERS_S,
    delivered_share,
    downlink_losses,
    reported_within,
    worst_loss,
)
from .errors import InvalidAnswer, InvalidCandidate, NoOfferPending
from .ice import IceServer
from .metrics import Direction, StreamCounters
from .pacer import Pacer
from .periodic_task import PeriodicTask
from .plane import StreamMap, VideoCodec
from .published_stream import NO_LIMITS, SIMULCAST_RIDS, PublishedStream
from .publisher_feedback import PublisherFeedback
from .publisher_ingress import PublisherIngress
from .publisher_limits import PublisherLimits
from .rejected_mlines import accept_rejected, keep_rejected, rejected_mids
from .stream_layer import PACKET_OVERHEAD_BYTES
from .subscription import Subscription
from .transport_feedback import FEEDBACK_INTERVAL_S

logger = logging.getLogger(__name__)

KINDS = ("audio", "video")
# The link's heartbeat: congestion feedback to a publisher and reallocation when asked for,
# every tick; receiver reports and the downlink's estimate every second.
LINK_TICK_S = FEEDBACK_INTERVAL_S
RECEIVER_REPORT_INTERVAL = 1.0
# Layers come and go (a publisher's encoder drops one, a new subscriber starts): allocate
# twice a second besides the estimate's own changes.
ALLOCATE_EVERY_S = 0.5


class OfferSink(Protocol):
    """Where a connection's offers go (``HearingMedia`` forwards them to ``MediaSignal``)."""

    async def __call__(self, participant_id: str, sdp: str, streams: StreamMap) -> None: ...


def _retrieve_result(task: asyncio.Task[str | None]) -> None:
    """Mark a shielded task's outcome as seen: its awaiter may have been cancelled."""
    if not task.cancelled():
        task.exception()


class ParticipantConnection:
    """A participant's peer connection with the server, and the streams it carries."""

    def __init__(
        self,
        participant_id: str,
        *,
        can_publish: bool,
        video_codec: VideoCodec,
        ice_servers: Sequence[IceServer],
        send_offer: OfferSink,
        speaker: Callable[[], str | None] = lambda: None,
        on_video: Callable[[str, bool], None] = lambda participant_id, receiving: None,
        limits: PublisherLimits = NO_LIMITS,
    ) -> None:
        self.participant_id = participant_id
        self._limits = limits
        self.can_publish = can_publish
        self._video_codec = video_codec
        self._send_offer = send_offer
        self._speaker = speaker
        self.downlink = Downlink(
            participant_id, on_video=lambda receiving: on_video(participant_id, receiving),
            reallocate=self._allocate,
        )
        self.pacer = Pacer(self.downlink.estimate)
        # Bytes of probe padding due and not yet sent (None: no probe).
        self._probe_debt: float | None = None
        self.pc = RTCPeerConnection(
            RTCConfiguration(
                # An empty list, never None: aiortc's default for None is Google's public STUN
                # server, looked up and queried on every join (a court server must not call
                # out, and the lookup held up admission).
                iceServers=[
                    RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
                    for s in ice_servers
                ],
                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
            )
        )
        cache_fingerprints(self.pc)
        self.pc.on("connectionstatechange", self._connection_state_changed)
        self.counters: dict[tuple[str, Direction], StreamCounters] = {}
        for kind in KINDS:
            if can_publish:
                self.counters[(kind, "in")] = StreamCounters(participant_id, kind, "in")
            self.counters[(kind, "out")] = StreamCounters(participant_id, kind, "out")
        self.published: dict[str, PublishedStream] = {}
        self._ingress: dict[str, PublisherIngress] = {}
        self._subscriptions: dict[tuple[str, str], tuple[Subscription, RTCRtpTransceiver]] = {}
        self._departed: list[RTCRtpTransceiver] = []
        self._offer_in_flight = False
        # Set when the m-lines change, cleared when an offer is created: an answer only
        # calls for another offer if something changed after the one in flight was made
        # (many joins at once would otherwise renegotiate with identical offers).
        self._changed = False
        self._offered = False
        # A renegotiation that waits for the connection to come up (see renegotiate()).
        self._deferred_offer: asyncio.Task[None] | None = None
        self._closed = False
        self._description_lock = asyncio.Lock()
        self._receive_video = True
        # Mids of m-lines the page rejected (a codec it lacks): kept rejected in later offers.
        self._rejected: set[str] = set()
        self._next_report = 0.0
        self._next_allocation = 0.0
        self._feedback = PublisherFeedback(self._ingress)
        self._arrivals = ArrivalClock()
        if can_publish:
            for kind in KINDS:
                self._add_publish_transceiver(kind)
        self._link = PeriodicTask(f"link of {participant_id}", LINK_TICK_S, self._tick)

    # -- building the connection ----------------------------------------------------------

    def _add_publish_transceiver(self, kind: str) -> None:
        with lean_receivers():
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
        transceiver.setCodecPreferences(codec_preferences(kind, self._video_codec))
        ingress = PublisherIngress(transceiver, self.participant_id, self.counters[(kind, "in")],
                                   feedback=self._feedback.transport_feedback,
                                   arrivals=self._arrivals, limits=self._limits)
        install_ingress(transceiver.receiver, ingress)
        self.published[kind] = ingress.stream
        self._ingress[kind] = ingress

    def subscribe(self, stream: PublishedStream) -> None:
        """Add an m-line carrying ``stream`` to this participant (takes effect on next offer)."""
        key = (stream.participant_id, stream.kind)
        if key in self._subscriptions or self._closed:
            return
        self._changed = True
        with lean_receivers():
            transceiver = self.pc.addTransceiver(stream.kind, direction="sendonly")
        transceiver.setCodecPreferences(codec_preferences(stream.kind, self._video_codec))
        # Never let aiortc decode whatever a client might send on a server-sendonly m-line.
        install_inert_receiver(transceiver.receiver)
        subscription = Subscription(
            stream,
            self.participant_id,
            transport=Transport(transceiver.sender),
            ssrc=sender_ssrc(transceiver.sender),
            rtx_ssrc=sender_rtx_ssrc(transceiver.sender),
            counters=self.counters[(stream.kind, "out")],
            downlink=self.downlink,
            pacer=self.pacer,
        )
        if stream.kind == "video" and not self._receive_video:
            subscription.set_layer(None)
        install_egress(transceiver.sender, stream_id=stream.participant_id, listener=subscription)
        self._subscriptions[key] = (subscription, transceiver)

    def unsubscribe(self, publisher_id: str) -> list[RTCRtpTransceiver]:
        """Detach every stream of ``publisher_id``; returns transceivers to stop."""
        stopped: list[RTCRtpTransceiver] = []
        for kind in KINDS:
            entry = self._subscriptions.pop((publisher_id, kind), None)
            if entry is None:
                continue
            subscription, transceiver = entry
            subscription.close()
            self._changed = True
            transceiver.direction = "inactive"
            self._departed.append(transceiver)
            stopped.append(transceiver)
        return stopped

    @property
    def receive_video(self) -> bool:
        """The participant's own choice: False in audio-only mode."""
        return self._receive_video

    def set_receive_video(self, receive_video: bool) -> None:
        """The participant's own choice: video forwarded (as the downlink allows) or none."""
        self._receive_video = receive_video
        self._allocate()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Active subscriptions of this participant."""
        return tuple(entry[0] for entry in self._subscriptions.values())

    def _publish_mids(self) -> set[str]:
        return {i.transceiver.mid for i in self._ingress.values() if i.transceiver.mid}

    def _camera_mids(self) -> set[str]:
        ingress = self._ingress.get("video")
        mid = None if ingress is None else ingress.transceiver.mid
        return set() if mid is None else {mid}

    def stream_map(self) -> StreamMap:
        """mid -> participant, kind and role ("publish"/"subscribe") for the current offer."""
        streams: StreamMap = {}
        for kind, ingress in self._ingress.items():
            if ingress.transceiver.mid is not None:
                streams[ingress.transceiver.mid] = {
                    "participant_id": self.participant_id,
                    "kind": kind,
                    "role": "publish",
                }
        for (publisher_id, kind), (_, transceiver) in self._subscriptions.items():
            if transceiver.mid is not None:
                streams[transceiver.mid] = {
                    "participant_id": publisher_id,
                    "kind": kind,
                    "role": "subscribe",
                }
        return streams

    # -- negotiation ----------------------------------------------------------------------

    async def negotiate(self) -> None:
        """Send a new offer now, or after the answer to the offer in flight."""
        if self._closed:
            return
        if self._offer_in_flight:
            return  # _changed is set: the answer to the offer in flight sends the next one
        self._offer_in_flight = True
        try:
            # Shielded: a gather cancelled half-way leaves the sockets aioice 0.13 has
            # already bound (it keeps them only after its whole address loop). The task
            # holds the description lock, so close() waits for it.
            describing = asyncio.create_task(
                self._describe_offer(), name=f"describe-{self.participant_id}"
            )
            describing.add_done_callback(_retrieve_result)
            sdp = await asyncio.shield(describing)
            if sdp is None:
                self._offer_in_flight = False
                return
            self._offered = True
            await self._send_offer(self.participant_id, sdp, self.stream_map())
        except BaseException:
            self._offer_in_flight = False
            raise

    async def _describe_offer(self) -> str | None:
        """Make and set the next offer; the SDP to send, or None once closed."""
        # close() waits for this: aiortc gathering on a closed connection leaks sockets.
        async with self._description_lock:
            if self._closed:
                return None
            # createOffer reads the m-lines without suspending: later changes set this.
            self._changed = False
            offer = await self.pc.createOffer()
            await self.pc.setLocalDescription(
                RTCSessionDescription(sdp=add_opus_parameters(offer.sdp), type="offer")
            )
            if self.can_publish:
                # Gathering made the sockets: read them with the kernel's arrival times.
                stamp_arrivals(ice_connection(self.pc), self._arrivals)
            sdp = offer_publishing(
                str(self.pc.localDescription.sdp), publish_mids=self._publish_mids(),
                camera_mids=self._camera_mids(), rids=SIMULCAST_RIDS,
            )
            return keep_rejected(sdp, self._rejected)

    async def renegotiate(self) -> None:
        """Offer changed m-lines: now, after the answer in flight, or once connected.

        While the participant's first connection is still being set up, no stream can reach
        it anyway: its offer waits until the connection is up and then carries every change
        at once. When many join at once this keeps SDP work (here and in the page) off the
        path of the first offers, answers and handshakes, which decide how soon media flows.
        """
        self._changed = True
        if self._connecting():
            return  # _connection_state_changed sends it
        await self.negotiate()

    def _connecting(self) -> bool:
        return self._offered and self.pc.connectionState in ("new", "connecting")

    def _connection_state_changed(self) -> None:
        if self.pc.connectionState != "connected" or not self._changed or self._closed:
            return
        if self._offer_in_flight or self._deferred_offer is not None:
            return  # the answer to the offer in flight sends the next one
        self._deferred_offer = asyncio.create_task(
            self._send_deferred_offer(), name=f"offer-{self.participant_id}"
        )

    async def _send_deferred_offer(self) -> None:
        try:
            await self.negotiate()
        except Exception as exc:  # the page's signaling went away: its session ends it
            logger.warning("renegotiation with participant %s failed: %r",
                           self.participant_id, exc)
        finally:
            self._deferred_offer = None

    async def apply_answer(self, sdp: str) -> None:
        """Apply the client's answer, then send the next offer if one is due."""
        if not self._offer_in_flight or self._closed:
            raise NoOfferPending(f"no offer in flight for participant {self.participant_id!r}")
        # A page without one of the hearing's codecs (Firefox without OpenH264 in an H.264
        # hearing) rejects those m-lines: it stays, with what it can send and receive.
        answer = accept_rejected(sdp, str(self.pc.localDescription.sdp))
        self._check_answer(answer)
        async with self._description_lock:
            if self._closed:
                raise NoOfferPending(f"participant {self.participant_id!r} has left")
            try:
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=answer, type="answer")
                )
            except Exception as exc:  # aiortc raises assorted errors on bad SDP
                raise InvalidAnswer(f"answer rejected: {exc}") from exc
        if answer is not sdp:
            rejected = rejected_mids(sdp)
            if rejected - self._rejected:
                logger.info("participant %s rejected m-lines %s (a codec its browser lacks)",
                            self.participant_id, sorted(rejected))
            self._rejected |= rejected
        self._offer_in_flight = False
        if self._changed:
            await self.renegotiate()

    def _check_answer(self, sdp: str) -> None:
        check_directions(sdp, {i.transceiver.mid for i in self._ingress.values()})

    async def add_ice_candidate(
        self, candidate: str | None, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Add a trickled remote candidate (``None``: end of candidates)."""
        if candidate is None:
            await self.pc.addIceCandidate(None)
            return
        try:
            parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        except Exception as exc:
            raise InvalidCandidate(f"cannot parse candidate: {exc}") from exc
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        if sdp_mid is None and sdp_mline_index is None:
            parsed.sdpMLineIndex = 0
        await self.pc.addIceCandidate(parsed)

    # -- the link's heartbeat ------------------------------------------------------------

    async def _tick(self) -> None:
        now = time.monotonic()
        await self._feedback.send_transport_feedback()
        if now >= self._next_report:
            self._next_report = now + RECEIVER_REPORT_INTERVAL
            await self._feedback.send_receiver_reports(now, self.round_trip_seconds())
            self._update_downlink(now)
            self._allocate()
        elif self.downlink.reallocate_soon or now >= self._next_allocation:
            self._allocate()
        if self.downlink.probe_bps and self._receive_video:
            # (A participant who chose audio only is sent no padding: their link may be metered.)
            self._send_probe()
        elif self._probe_debt is not None:
            self._probe_debt = None
            for subscription in self.subscriptions:
                subscription.end_probe()

    def _send_probe(self) -> None:
        # This tick's share of the probe, on the first video stream that can carry padding.
        debt = (self._probe_debt or 0.0) + self.downlink.probe_bps * LINK_TICK_S / 8
        self._probe_debt = 0.0
        for subscription in self.subscriptions:
            if subscription.kind == "video":
                sent = subscription.send_padding(int(debt))
                if sent:
                    self._probe_debt = debt - sent
                    self.counters[("video", "out")].padding_bytes += sent
                    return

    def _update_downlink(self, now: float) -> None:
        sent = sum(c.bytes + c.packets * PACKET_OVERHEAD_BYTES
                   for (_, direction), c in self.counters.items() if direction == "out")
        video = self.counters[("video", "out")].bytes
        recent = reported_within(downlink_losses(self.subscriptions, now), REPORT_COVERS_S)
        fresh = reported_within(recent, RECEIVER_REPORT_INTERVAL)
        self.downlink.update(sent, video, worst_loss(fresh), delivered=delivered_share(fresh),
                             recent_loss=worst_loss(recent))

    def downlink_loss(self, now: float) -> float | None:
        """The worst loss the participant's receiver reports on its own downlink, on streams
        that reached the server whole (``downlink_reports``)."""
        return worst_loss(downlink_losses(self.subscriptions, now))

    def _allocate(self) -> None:
        if self._closed:
            return
        self._next_allocation = time.monotonic() + ALLOCATE_EVERY_S
        self.pacer.set_bitrate(self.downlink.estimate + self.downlink.probe_bps)
        subscriptions = self.subscriptions
        video = [s for s in subscriptions if s.kind == "video"]
        if not self._receive_video:
            for subscription in video:
                subscription.set_layer(None)
            return
        audio = [s for s in subscriptions if s.kind == "audio"]
        self.downlink.allocate(audio, video, self._speaker())

    @property
    def congestion_feedback_sent(self) -> int:
        """Transport-wide congestion control feedback packets built for this publisher."""
        return self._feedback.sent

    def round_trip_seconds(self) -> float | None:
        """The link's round-trip time, from the receiver reports on what it is sent."""
        rtts = [s.quality.round_trip_seconds for s, _ in self._subscriptions.values()
                if s.quality.round_trip_seconds is not None]
        return max(rtts) if rtts else None

    # -- teardown -------------------------------------------------------------------------

    async def stop_transceivers(self, transceivers: list[RTCRtpTransceiver]) -> None:
        """Stop departed senders: aiortc sends an RTCP BYE, which ends the client's track."""
        for transceiver in transceivers:
            await transceiver.sender.stop()

    async def close(self) -> None:
        """Tear the connection down; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._link.close()
        self.pacer.close()
        if self._deferred_offer is not None:
            # _send_deferred_offer ends quietly on its own errors: only cancellation is left.
            deferred = self._deferred_offer
            deferred.cancel()
            await asyncio.wait([deferred])
        for subscription, _ in self._subscriptions.values():
            subscription.close()
        self._subscriptions.clear()
        for stream in self.published.values():
            stream.close()
        async with self._description_lock:
            await self.pc.close()

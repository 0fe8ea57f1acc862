"""One subscriber's downlink: how much it carries, and what it is sent within that.

**The estimate.** The subscriber's browser estimates its own downlink from the send times
the server stamps on every video packet (abs-send-time) and reports it in RTCP REMB; when
its link starts to queue (the delay grows before anything is lost) the REMB falls below
the video rate the server sends (REMB covers the packets that carry send times: video).
That is the congestion signal: the estimate drops at once to the REMB plus the audio (or to
85 % of all that is sent, if lower). Loss the subscriber reports counts too (above 10 %, the
estimate loses half the loss rate and is cut to what arrived), but only on streams whose
publisher lost nothing on the way in, so a damaged phone uplink never makes healthy
downlinks look poor. Without a congestion signal, and while what is sent uses most of the
estimate, the estimate grows by ``GROWTH_PER_S`` a second; after a congestion it grows
linearly for ``HOLD_S`` (AIMD, like Google Congestion Control's rate controller: fast to
back off, careful to come back).

**The allocation** (about once a second, and at once when the estimate falls): audio
first, then the active speaker's video, then the others'; each video stream gets the
lowest layer that fits in priority order, then the speaker is raised as far as it fits and
wants, then the others one layer at a time. A stream that cannot fit is paused rather than
sent at a rate the link cannot carry. When not even the speaker's lowest layer fits, the
subscriber receives audio only (and says so, through ``on_video``); video comes back by
itself (after ``AUDIO_ONLY_FOR_S`` at the soonest) once a probe showed the link carries it:
padding at the rate the speaker's lowest layer needs, most of which the receiver's reports
must say arrived.
Layers above what a subscriber's tile can show, or tiles it cannot see, are never sent
(``set_view``).

**Retransmissions** spend from a budget refilled at the headroom between the estimate and
what is sent (at least ``RESEND_SHARE`` of the estimate), so repairs never push the link
over: the server sends at most about 110 % of the estimate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from .allocation_plan import UPGRADE_MARGIN, LayerPlan, active_layers, priority, upgrade_wanted
from .plane import TileView
from .subscription import Subscription

log = logging.getLogger(__name__)

# Not lower (mediasoup starts at 600 kbit/s): an estimate that what is sent does not use
# never grows (no probing here), so a page that first showed small tiles could never get a
# top layer of ~1 Mbit/s when its tiles grow.
START_BPS = 1_500_000
MIN_BPS = 50_000
MAX_BPS = 20_000_000
GROWTH_PER_S = 1.25
ADDITIVE_BPS_PER_S = 80_000
# After a congestion: additive growth only for HOLD_S; for a page that gets audio only, no
# growth at all for as long, doubled (up to MAX_HOLD_S) each time video that just came back
# is congested again within RETRY_WINDOW_S, so a link at the edge does not flap.
HOLD_S = 4.0
MAX_HOLD_S = 8.0
BACKOFF_EVERY_S = 1.0
# At most halved at once on a receiver's estimate (it can dip on a busy machine, and a layer
# dropped for it is a keyframe to come back); to a quarter on what arrived (packets counted
# lost by the receiver are no estimate: a phone link flooded at the start is down to its
# rate in two seconds instead of four).
BACKOFF_FLOOR = 0.5
DELIVERED_FLOOR = 0.25
# Audio only only when not even the speaker's lowest layer has fitted for this long, and then
# for at least AUDIO_ONLY_FOR_S: a layer's cost at the edge of the estimate (its keyframes
# come and go) must not turn the phone's video on and off every other second.
AUDIO_ONLY_AFTER_S = 2.0
AUDIO_ONLY_FOR_S = 6.0
RETRY_WINDOW_S = 10.0
CALM_S = 30.0
# A REMB that fell by a tenth or more, to below the video sent: the subscriber's link is
# queueing (a receiver that sees its queue grow lowers its estimate to 85 % of what arrives).
REMB_FALL = 0.9
CONGESTED_SHARE = 1.0
REMB_FRESH_S = 2.0
# The video sent stays within this much of the receiver's own (fresh) estimate: a receiver's
# estimate climbs to 1.5 times what arrives, so this still lets the rate grow, while a link
# that queues pulls the estimate down with it.
REMB_HEADROOM = 1.1
REMB_MIN_VIDEO_BPS = 50_000
BACKOFF_SHARE = 0.85
# Loss (before the subscriber's own repairs) that means congestion, and below which the
# estimate may grow (a few percent of random loss on a radio link is not congestion).
HIGH_LOSS = 0.10
LOW_LOSS = 0.05
UPGRADE_EVERY_S = 2.0
# A page on audio only tries video again by probing first: for PROBE_S the server sends it
# padding (on a paused video stream's own SSRC, so receiver reports count it) at PROBE_MARGIN
# times what the speaker's lowest layer costs. Video comes back only if the receiver lost
# little of it and its estimate did not fall: a link that cannot carry video loses padding,
# not video that would have cost a keyframe, and the page does not flap.
PROBE_S = 3.0
PROBE_MARGIN = 1.25
# The probe fails when the receiver reports more of its padding lost than this: the loss
# that means congestion (below it, random loss on a radio link; a page with 5 % of it must
# not stay on audio only for good).
PROBE_LOSS = HIGH_LOSS
PROBE_MIN_PACKETS = 10
# A page that gets video but wants a layer the estimate cannot buy (a tile grew; the link
# got better) probes for what that layer costs more, on the retransmission SSRC of a stream
# it gets: at most every PROBE_EVERY_S, twice as seldom after each probe that failed.
PROBE_EVERY_S = 4.0
MAX_PROBE_EVERY_S = 32.0
RESEND_SHARE = 0.1
RESEND_BURST_S = 0.5
class Downlink:
    """The downlink of one subscriber (a participant's connection)."""

    def __init__(
        self,
        participant_id: str,
        *,
        on_video: Callable[[bool], None],
        reallocate: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.participant_id = participant_id
        self._reallocate = reallocate
        self.estimate = START_BPS
        self.audio_only = False  # the allocation could give no video at all
        self._on_video = on_video
        self._clock = clock
        self._remb: int | None = None
        self._remb_at = 0.0
        self._congested_at = -HOLD_S
        self._hold_s = HOLD_S
        self._video_back_at = -RETRY_WINDOW_S
        self._audio_only_at = -AUDIO_ONLY_FOR_S
        self._nothing_fits_since: float | None = None
        self._last_update = clock()
        self._sent_rate = 0.0
        self._video_rate = 0.0
        self._sent: tuple[int, int] | None = None
        self._sent_at = clock()
        self._resend_tokens = 0.0
        self._resend_at = clock()
        self._views: dict[str, TileView] = {}
        self._hidden = False
        self._upgraded_at: dict[int, float] = {}
        self.reallocate_soon = False
        # What the speaker's lowest layer costs (while on audio only), and the probe for it.
        self._video_needed = 0.0
        self._audio_cost = 0.0
        # What the first upgrade the estimate could not buy costs more (0: none wanted).
        self._upgrade_wanted = 0.0
        self.probe_bps = 0
        self._probe_until = 0.0
        self._probe_failed = False
        self._probe_reported = False
        self._probe_every_s = PROBE_EVERY_S
        self._next_probe_at = 0.0
        self.probes_failed = 0

    # ---- what the subscriber says -------------------------------------------------------------

    def remb(self, bitrate: int) -> None:
        """The subscriber's receiver estimate: a sharp fall below the video sent is congestion.

        A receiver lowers its estimate to 85 % of what arrives when it sees its queue grow;
        otherwise its estimate only rises, slowly (so it may trail far behind a rate the
        server just raised: that is not congestion), or is capped at 1.5 times what arrives.
        """
        now = self._clock()
        # Against a recent REMB only: after a pause (no video, so no REMB) the receiver's
        # estimate starts afresh, which is not a fall.
        fell = (self._remb is not None and now - self._remb_at < REMB_FRESH_S
                and bitrate < REMB_FALL * self._remb)
        self._remb, self._remb_at = bitrate, now
        if fell and self.probe_bps:
            self._probe_failed = True  # the padding queues: the link cannot carry video
        if fell and self._video_rate and bitrate < CONGESTED_SHARE * self._video_rate:
            audio_rate = max(0.0, self._sent_rate - self._video_rate)
            self._back_off(min(bitrate + audio_rate, BACKOFF_SHARE * self._sent_rate), now)

    def probe_report(self, lost: int, expected: int) -> None:
        """The receiver's reports on the probe's padding so far: ``lost`` of ``expected``."""
        log.debug("%s: probe report: %d lost of %d", self.participant_id, lost, expected)
        if self.probe_bps and expected >= PROBE_MIN_PACKETS:
            self._probe_reported = True
            if lost > PROBE_LOSS * expected:
                self._probe_failed = True

    def subscription_started(self) -> None:
        """A subscription's m-line is up: allocate now, so it starts with its layer."""
        self._reallocate()

    def set_view(self, views: dict[str, TileView], *, hidden: bool) -> None:
        """Which participants the page shows, how big, and whether the page is hidden."""
        self._views = dict(views)
        self._hidden = hidden
        self.reallocate_soon = True

    def allow_resend(self, size: int) -> bool:
        """Whether a retransmission of ``size`` bytes fits the budget now (and spend it)."""
        now = self._clock()
        headroom = max(RESEND_SHARE * self.estimate, self.estimate - self._sent_rate)
        self._resend_tokens = min(
            headroom * RESEND_BURST_S / 8,
            self._resend_tokens + headroom * (now - self._resend_at) / 8,
        )
        self._resend_at = now
        if self._resend_tokens < size:
            return False
        self._resend_tokens -= size
        return True

    # ---- the estimate -------------------------------------------------------------------------

    def update(self, sent_bytes: int, video_payload_bytes: int,
               worst_downlink_loss: float | None, *, delivered: float | None = None,
               recent_loss: float | None = None) -> None:
        """Once a second: what was sent (all bytes on the wire; video RTP payload, as REMB
        counts it), and the loss the subscriber reports on streams that arrived whole at the
        server: in the reports of the last second (each counts once), the worst stream's and
        the share of all of them that arrived; and the worst in any report that still
        covers now (``recent_loss``: Chromium reports on audio, which nothing repairs, every
        ~5 s, while its reports on video count retransmitted packets as arrived)."""
        now = self._clock()
        if self._sent is not None and now > self._sent_at:
            seconds = now - self._sent_at
            rate = (sent_bytes - self._sent[0]) * 8 / seconds
            video = (video_payload_bytes - self._sent[1]) * 8 / seconds
            # Smoothed over a few ticks: keyframes make single seconds bursty.
            self._sent_rate = _smoothed(self._sent_rate, rate)
            self._video_rate = _smoothed(self._video_rate, video)
        self._sent, self._sent_at = (sent_bytes, video_payload_bytes), now
        elapsed = min(2.0, now - self._last_update)
        self._last_update = now
        log.debug("%s: sent %d kbit/s, worst loss %s, delivered %s, remb %s",
                  self.participant_id, self._sent_rate // 1000, worst_downlink_loss, delivered,
                  self._remb)
        if self.probe_bps:
            if worst_downlink_loss is not None and worst_downlink_loss > HIGH_LOSS:
                self._probe_failed = True
            if now < self._probe_until and not self._probe_failed:
                return  # the probe goes on: its padding is no evidence for growth
            if self._judge_probe(now):
                return
        if self.audio_only:
            self._start_probe_for_video(now)
            return
        if worst_downlink_loss is not None and worst_downlink_loss > HIGH_LOSS:
            # Google Congestion Control's loss-based rule, once a second: a share of the
            # estimate goes, in proportion to the loss; and never more is left than what
            # arrived (a phone link sent three times what it carries loses two thirds: the
            # rule alone would take many seconds to come down, with audio lost meanwhile).
            lowered = self.estimate * (1 - 0.5 * worst_downlink_loss)
            floor = BACKOFF_FLOOR
            if self._sent_rate and delivered is not None \
                    and self._sent_rate * delivered < lowered:
                lowered, floor = self._sent_rate * delivered, DELIVERED_FLOOR
            self._back_off(lowered, now, floor)
            return
        if max(worst_downlink_loss or 0.0, recent_loss or 0.0) > LOW_LOSS:
            return  # some loss: hold
        if (self._upgrade_wanted and now >= self._next_probe_at
                and now - self._congested_at >= self._hold_s):
            self._start_probe(now, PROBE_MARGIN * self._upgrade_wanted)
            return
        if self._sent_rate < 0.5 * self.estimate:
            return  # not using what it has: no evidence that more would fit
        if now - self._congested_at < self._hold_s:
            grown = self.estimate + ADDITIVE_BPS_PER_S * elapsed
        else:
            grown = self.estimate * GROWTH_PER_S ** elapsed
        if (self._remb is not None and now - self._remb_at < REMB_FRESH_S
                and self._video_rate >= REMB_MIN_VIDEO_BPS):
            # Only while video flows: without it a receiver keeps repeating its last estimate.
            audio_rate = max(0.0, self._sent_rate - self._video_rate)
            grown = min(grown, max(self.estimate, REMB_HEADROOM * self._remb + audio_rate))
        self.estimate = int(min(MAX_BPS, grown))

    def _start_probe_for_video(self, now: float) -> None:
        # On audio only, once the hold is over: probe for the speaker's lowest layer, and
        # for the audio held back now, which flows again with the video.
        if (self._video_needed and now - self._congested_at >= self._hold_s
                and now - self._audio_only_at >= AUDIO_ONLY_FOR_S - PROBE_S):
            self._start_probe(now, PROBE_MARGIN * self._video_needed
                              + max(0.0, self._audio_cost - self._sent_rate))

    def _start_probe(self, now: float, bitrate: float) -> None:
        self.probe_bps = int(bitrate)
        self._probe_until = now + PROBE_S
        log.debug("%s: probing at %d kbit/s", self.participant_id, self.probe_bps // 1000)
        self._reallocate()  # the pacer makes room for the padding

    def _stop_probe(self) -> None:
        self.probe_bps, self._probe_failed, self._probe_reported = 0, False, False

    def _judge_probe(self, now: float) -> bool:
        # The probe is over: True if it passed (the estimate now buys what it probed for).
        # Moving up needs the receiver's word on the padding (a browser that reports nothing
        # on the retransmission SSRC is never moved up by probing); coming back from audio
        # only, on the paused stream's own SSRC, gets it from every browser, and without it
        # video comes back as it did before probing.
        passed = not self._probe_failed and (self._probe_reported or self.audio_only)
        probed = self.probe_bps
        self._stop_probe()
        log.debug("%s: probe at %d kbit/s %s", self.participant_id, probed // 1000,
                  "passed" if passed else "failed")
        if passed:
            # The link carried what was sent and the padding on top.
            self.estimate = max(self.estimate, int(self._sent_rate + probed))
            self._probe_every_s = PROBE_EVERY_S
            self._next_probe_at = now + PROBE_EVERY_S
            self._reallocate()
            return True
        self.probes_failed += 1
        if self.audio_only:
            self._hold_s = min(MAX_HOLD_S, 2 * self._hold_s)
            self._congested_at = now
        else:
            self._probe_every_s = min(MAX_PROBE_EVERY_S, 2 * self._probe_every_s)
        self._next_probe_at = now + self._probe_every_s
        return False

    def _back_off(self, bitrate: float, now: float, floor: float = BACKOFF_FLOOR) -> None:
        if now - self._congested_at < BACKOFF_EVERY_S:
            return  # the last back-off has not had time to show yet
        if self.audio_only:
            # Audio is never cut, and the loss and REMB that still arrive tell of the video
            # queued before the switch: lowered further, the estimate only delays video.
            return
        lowered = int(max(MIN_BPS, bitrate, floor * self.estimate))
        if now - self._video_back_at < RETRY_WINDOW_S:
            self._hold_s = min(MAX_HOLD_S, 2 * self._hold_s)
        elif now - self._congested_at > CALM_S:
            self._hold_s = HOLD_S
        self._congested_at = now
        if lowered < self.estimate:
            log.debug("%s: estimate %d -> %d kbit/s (sent %d)", self.participant_id,
                      self.estimate // 1000, lowered // 1000, self._sent_rate // 1000)
            self.estimate = lowered
            # Now, not at the next tick: the link is queueing and audio waits behind video.
            self._reallocate()

    # ---- the allocation -----------------------------------------------------------------------

    def allocate(self, audio: Sequence[Subscription], video: Sequence[Subscription],
                 speaker: str | None) -> None:
        """Give each video subscription a layer (or none) within the estimate."""
        now = self._clock()
        self.reallocate_soon = False
        # Every publisher's audio, also what is held back while the page gets audio only: it
        # all flows again once video does (a page without room for it would flap).
        self._audio_cost = sum(s.stream.layers[0].bitrate(now) for s in audio)
        budget = float(self.estimate) - self._audio_cost
        held = self.audio_only and now - self._audio_only_at < AUDIO_ONLY_FOR_S
        plans: list[LayerPlan] = []
        for subscription in sorted(video, key=lambda s: priority(s, speaker, self._views)):
            layers = active_layers(subscription, now)
            ceiling = -1 if self._hidden else self._ceiling(subscription, layers)
            plan = LayerPlan(subscription, layers, ceiling)
            plans.append(plan)
            # Everyone's lowest layer first, in priority order; what does not fit is paused
            # (and a paused stream comes back only with a margin: no flapping at the edge).
            margin = UPGRADE_MARGIN if subscription.layer is None else 1.0
            if not held and layers and ceiling >= 0 and layers[0][1] * margin <= budget:
                plan.layer, plan.cost = layers[0]
                budget -= plan.cost
        given = [plan for plan in plans if plan.layer is not None]
        sendable = [plan for plan in plans if plan.layers and plan.ceiling >= 0]
        if sendable and not given and not self.audio_only:
            # Nothing fits: only if that lasts is the page cut to audio only; meanwhile the
            # first stream keeps its lowest layer (a dip is not worth a keyframe to recover).
            if self._nothing_fits_since is None:
                self._nothing_fits_since = now
            if now - self._nothing_fits_since < AUDIO_ONLY_AFTER_S:
                plan = sendable[0]
                plan.layer, plan.cost = plan.layers[0]
                given = [plan]
        else:
            self._nothing_fits_since = None
        # The speaker as high as it goes, then everyone else one layer per round.
        for plan in given:
            if plan.subscription.stream.participant_id == speaker:
                while (spent := self._raise(plan, budget, now)) is not None:
                    budget -= spent
        raised = True
        while raised:
            raised = False
            for plan in given:
                if plan.subscription.stream.participant_id != speaker:
                    spent = self._raise(plan, budget, now)
                    if spent is not None:
                        budget -= spent
                        raised = True
        for plan in plans:
            if (plan.layer is not None and plan.subscription.layer is not None
                    and plan.layer > plan.subscription.layer):
                self._upgraded_at[id(plan.subscription)] = now
            plan.subscription.set_layer(plan.layer)
        audio_only = bool(sendable) and not given
        self._video_needed = sendable[0].layers[0][1] if audio_only else 0.0
        self._upgrade_wanted = 0.0 if audio_only else upgrade_wanted(sendable, budget)
        if log.isEnabledFor(logging.DEBUG):  # why a page got what it got (bench logs)
            log.debug("%s: estimate %d kbit/s, sent %d, layers %s%s", self.participant_id,
                      self.estimate // 1000, self._sent_rate // 1000,
                      {p.subscription.stream.participant_id: p.layer for p in plans},
                      " audio only" if audio_only else "")
        if audio_only != self.audio_only:
            self.audio_only = audio_only
            if audio_only:
                self._audio_only_at = now
            else:
                self._video_back_at = now
            self._stop_probe()  # a probe for the other state says nothing about this one
            self._on_video(not audio_only)

    def _raise(self, plan: LayerPlan, budget: float, now: float) -> float | None:
        # One layer up if it fits (what it costs more), or None.
        above = [(i, c) for i, c in plan.layers
                 if plan.layer is not None and plan.layer < i <= plan.ceiling]
        if not above:
            return None
        index, cost = above[0]
        extra = cost - plan.cost
        current = plan.subscription.layer
        if current is None or index > current:
            # More than it gets now: a margin, and not more often than UPGRADE_EVERY_S.
            extra_needed = extra * UPGRADE_MARGIN
            last = self._upgraded_at.get(id(plan.subscription), -UPGRADE_EVERY_S)
            if current is not None and now - last < UPGRADE_EVERY_S:
                return None
        else:
            extra_needed = extra
        if extra_needed > budget:
            return None
        plan.layer, plan.cost = index, cost
        return extra

    def _ceiling(self, subscription: Subscription, layers: list[tuple[int, float]]) -> int:
        # The highest layer worth sending to this tile (-1: none, it cannot be seen).
        view = self._views.get(subscription.stream.participant_id)
        top = layers[-1][0] if layers else -1
        if view is None:
            return top
        if not view.visible:
            return -1
        if not view.height:
            return top
        # The smallest layer at least as tall as the tile (layers are 1/4, 1/2 and full).
        for index, _ in layers:
            height = subscription.stream.layers[index].height
            if height and height >= view.height:
                return index
        return top


def _smoothed(previous: float, sample: float) -> float:
    return sample if not previous else 0.5 * previous + 0.5 * sample

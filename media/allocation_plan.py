"""One allocation round's view of the video a subscriber may get (``Downlink.allocate``):
each stream's sendable layers and what they cost, the order streams are served in, and what
the first stream left wanting would cost more.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plane import TileView
from .subscription import Subscription

# What a layer must leave free to be given (upgrades want more: no flapping at the edge).
UPGRADE_MARGIN = 1.15
# A layer measured at nothing yet (just switched on) is counted at its nominal share.
_NOMINAL_BPS = (150_000, 500_000, 1_200_000)


@dataclass
class LayerPlan:
    """One video subscription's layer in an allocation being made."""

    subscription: Subscription
    layers: list[tuple[int, float]]  # (index, cost in bit/s) of the active layers, lowest first
    ceiling: int  # the highest layer worth sending (-1: none)
    layer: int | None = None
    cost: float = 0.0


def upgrade_wanted(plans: list[LayerPlan], budget: float) -> float:
    """What the first stream (in priority order) that wants more than it was given would
    cost more, if the budget left cannot buy it: a paused one its lowest layer, the others
    their next layer up (0: nothing wanted, or it fits and is only waiting its turn)."""
    for plan in plans:
        if plan.layer is None:
            extra = plan.layers[0][1]
        else:
            above = [cost for index, cost in plan.layers if plan.layer < index <= plan.ceiling]
            if not above:
                continue
            extra = above[0] - plan.cost
        return extra if extra * UPGRADE_MARGIN > budget else 0.0
    return 0.0


def active_layers(subscription: Subscription, now: float) -> list[tuple[int, float]]:
    """(index, cost in bit/s) of the layers worth sending, lowest first: the lowest the
    publisher sends, the one the subscriber has, and the steady ones (not a layer the
    publisher's encoder just turned on, and may turn off again at once)."""
    out: list[tuple[int, float]] = []
    for layer in subscription.stream.layers:
        if layer.active(now) and (not out or layer.steady(now)
                                  or layer.index == subscription.layer):
            measured = layer.bitrate(now)
            out.append((layer.index, float(measured or _NOMINAL_BPS[min(layer.index, 2)])))
    return out


def priority(subscription: Subscription, speaker: str | None,
              views: dict[str, TileView]) -> tuple[int, int, str]:
    """The order streams are served in: the active speaker, then by the size of the tile
    the page shows them in."""
    publisher = subscription.stream.participant_id
    view = views.get(publisher)
    area = 0 if view is None else view.width * view.height
    return (0 if publisher == speaker else 1, -area, publisher)

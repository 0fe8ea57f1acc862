"""Figures of a browser weak-link scenario from its samples, and the table that shows them.

Pure functions over the JSON the run writes (``bench/weak_links_browser.py``): samples of
each page (``bench/page_sampler.py``, ``t`` in seconds since the phone was admitted) and the
link's counters. A figure that cannot be measured is None and prints as ``n/a``.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

EARLY_S = 12.0  # "the first seconds" a participant judges the link by
AFTER_LIFT_SETTLE_S = 5.0  # a lifted link's figures count from this long after the lift
WINDOW_S = 5.0  # the server -> phone rate is the busiest window this long


def _delta(new: Any, old: Any) -> float:
    if new is None:
        return 0.0
    return max(0.0, float(new) - float(old or 0))


def video_series(samples: Sequence[dict[str, Any]], participant: str) -> list[dict[str, Any]]:
    """Per interval between two samples: the participant's video as this page received it
    (fps from frames decoded, the resolution of the stream that moved, freezes, losses).

    A participant's stream may be replaced (a new SSRC after a renegotiation): frames are
    summed over its streams, each compared with its own previous value.
    """
    series: list[dict[str, Any]] = []
    for before, after in itertools.pairwise(samples):
        seconds = after["t"] - before["t"]
        if seconds <= 0:
            continue
        previous = {r["ssrc"]: r for r in before["inbound_video"]
                    if r["participant"] == participant}
        frames = 0.0
        size: tuple[int, int] | None = None
        freezes = freeze_s = lost = 0.0
        for row in after["inbound_video"]:
            if row["participant"] != participant:
                continue
            old = previous.get(row["ssrc"], {})
            moved = _delta(row["framesDecoded"], old.get("framesDecoded"))
            frames += moved
            if moved and row["frameWidth"]:
                size = (int(row["frameWidth"]), int(row["frameHeight"] or 0))
            freezes += _delta(row["freezeCount"], old.get("freezeCount"))
            freeze_s += _delta(row["totalFreezesDuration"], old.get("totalFreezesDuration"))
            lost += _delta(row["packetsLost"], old.get("packetsLost"))
        series.append({"t": after["t"], "fps": frames / seconds, "size": size,
                       "freezes": freezes, "freeze_s": freeze_s, "lost": lost})
    return series


def within(rows: Iterable[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """Rows whose ``t`` is in (start, end]."""
    return [r for r in rows if start < r["t"] <= end]


def video_figure(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Median fps, and the median resolution (by height) among intervals that had frames."""
    if not rows:
        return None
    sizes = sorted((r["size"] for r in rows if r["size"]), key=lambda s: (s[1], s[0]))
    return {
        "fps": statistics.median(r["fps"] for r in rows),
        "size": sizes[(len(sizes) - 1) // 2] if sizes else None,
        "freezes": sum(r["freezes"] for r in rows),
        "freeze_s": sum(r["freeze_s"] for r in rows),
    }


def _sum_by_ssrc(rows: Iterable[dict[str, Any]], field: str) -> dict[Any, float]:
    return {r["ssrc"]: float(r[field] or 0) for r in rows}


def concealed_pct(samples: Sequence[dict[str, Any]], participant: str, start: float,
                  end: float) -> float | None:
    """Share of the participant's audio this page concealed (made up) in (start, end]."""
    inside = [s for s in samples if start <= s["t"] <= end]
    if len(inside) < 2:
        return None

    def totals(sample: dict[str, Any]) -> tuple[dict[Any, float], dict[Any, float]]:
        rows = [r for r in sample["inbound_audio"] if r["participant"] == participant]
        return (_sum_by_ssrc(rows, "concealedSamples"),
                _sum_by_ssrc(rows, "totalSamplesReceived"))

    (c0, n0), (c1, n1) = totals(inside[0]), totals(inside[-1])
    concealed = sum(max(0.0, v - c0.get(k, 0.0)) for k, v in c1.items())
    total = sum(max(0.0, v - n0.get(k, 0.0)) for k, v in n1.items())
    return 100 * concealed / total if total else None


def _audio_only(state: dict[str, Any]) -> str | None:
    """Why the page shows itself audio-only: ``page`` (its own switch, pressed or automatic)
    or ``server`` (the server's allocation for its downlink); None when it shows video."""
    if state.get("downlink") == "1":
        return "server"
    if state.get("body") == "1" or state.get("pressed") == "true":
        return "page"
    return None


def audio_only_times(
    samples: Sequence[dict[str, Any]],
) -> tuple[float | None, float | None, str | None]:
    """When the page first showed itself audio-only, when it next showed video again, and
    who switched it (``page`` or ``server``)."""
    on = off = None
    source = None
    for s in samples:
        why = _audio_only(s["audio_only"])
        if why is not None and on is None:
            on, source = s["t"], why
        elif why is None and on is not None and off is None:
            off = s["t"]
    return on, off, source


def video_back_at(series: Sequence[dict[str, Any]], after: float | None,
                  min_fps: float = 1.0) -> float | None:
    """The first time after ``after`` that the participant's video moved again."""
    if after is None:
        return None
    return next((r["t"] for r in series if r["t"] > after and r["fps"] >= min_fps), None)


def busiest_kbps(link: Sequence[dict[str, Any]], field: str, start: float, end: float,
                 window: float = WINDOW_S) -> float | None:
    """The highest rate (kbit/s) over any ``window`` seconds within [start, end]."""
    rows = [r for r in link if start <= r["t"] <= end]
    best: float | None = None
    j = 0
    for i, first in enumerate(rows):
        j = max(j, i)
        while j < len(rows) and rows[j]["t"] - first["t"] < window:
            j += 1
        if j == len(rows):
            break
        last = rows[j]
        rate = (last[field] - first[field]) * 8 / 1000 / (last["t"] - first["t"])
        best = rate if best is None else max(best, rate)
    return best


def mean_kbps(link: Sequence[dict[str, Any]], field: str, start: float,
              end: float) -> float | None:
    """The average rate (kbit/s) over [start, end]."""
    rows = [r for r in link if start <= r["t"] <= end]
    if len(rows) < 2 or rows[-1]["t"] <= rows[0]["t"]:
        return None
    grew = float(rows[-1][field] - rows[0][field])
    return grew * 8 / 1000 / float(rows[-1]["t"] - rows[0]["t"])


def counter_delta(link: Sequence[dict[str, Any]], field: str, start: float,
                  end: float) -> int | None:
    """How much a cumulative link counter grew over [start, end]."""
    rows = [r for r in link if start <= r["t"] <= end]
    return int(rows[-1][field] - rows[0][field]) if len(rows) >= 2 else None


def keyframes_per_minute(samples: Sequence[dict[str, Any]], start: float, end: float, *,
                         busiest_layer: bool = False) -> float | None:
    """Keyframes this page's camera encoded per minute in [start, end]: on all simulcast
    layers together, or on the layer with the most (libvpx keyframes every layer at once, so
    that is how many times the camera was asked for one)."""
    inside = [s for s in samples if start <= s["t"] <= end]
    if len(inside) < 2 or inside[-1]["t"] <= inside[0]["t"]:
        return None
    first = _sum_by_ssrc(inside[0]["outbound_video"], "keyFramesEncoded")
    last = _sum_by_ssrc(inside[-1]["outbound_video"], "keyFramesEncoded")
    counts = [max(0.0, v - first.get(k, 0.0)) for k, v in last.items()]
    count = max(counts, default=0.0) if busiest_layer else sum(counts)
    return count * 60 / float(inside[-1]["t"] - inside[0]["t"])


def outbound_video(samples: Sequence[dict[str, Any]], start: float,
                   end: float) -> list[dict[str, Any]]:
    """What the page's camera sent per layer (``rid``) over [start, end]: median resolution
    and fps, kbit/s, the most common reason the encoder gave for limiting itself and the share
    of samples it was limited in."""
    inside = [s for s in samples if start <= s["t"] <= end]
    if len(inside) < 2:
        return []
    seconds = inside[-1]["t"] - inside[0]["t"]
    layers: dict[str, dict[str, Any]] = {}
    for s in inside:
        for row in s["outbound_video"]:
            layer = layers.setdefault(str(row["rid"] or "-"), {"rows": []})
            layer["rows"].append(row)
    result = []
    for rid, layer in sorted(layers.items()):
        rows = layer["rows"]
        heights = sorted((r["frameHeight"] or 0, r["frameWidth"] or 0) for r in rows)
        reasons = [r["qualityLimitationReason"] for r in rows
                   if r["qualityLimitationReason"] not in (None, "none")]
        sent = (rows[-1]["bytesSent"] or 0) - (rows[0]["bytesSent"] or 0)
        height, width = heights[(len(heights) - 1) // 2]
        result.append({
            "rid": rid, "size": (width, height) if height else None,
            "fps": statistics.median(float(r["framesPerSecond"] or 0) for r in rows),
            "kbps": sent * 8 / 1000 / seconds if seconds > 0 else None,
            "limited_by": max(sorted(set(reasons)), key=reasons.count) if reasons else None,
            "limited_pct": 100 * len(reasons) / len(rows),
        })
    return result


# -- printing -----------------------------------------------------------------------------


def fmt_video(figure: dict[str, Any] | None) -> str:
    """``640x360 14.9fps`` (or ``no video 0.0fps``, ``n/a``)."""
    if figure is None:
        return "n/a"
    size = f"{figure['size'][0]}x{figure['size'][1]}" if figure["size"] else "no video"
    return f"{size} {figure['fps']:.1f}fps"


def fmt_number(value: float | None, digits: int = 0, suffix: str = "") -> str:
    """A number, or ``n/a``."""
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def table(rows: Sequence[tuple[str, Sequence[str]]], headers: Sequence[str]) -> str:
    """A plain-text table: one row per figure, one column per scenario."""
    label_width = max(len(label) for label, _ in rows)
    widths = [max(len(h), *(len(values[i]) for _, values in rows))
              for i, h in enumerate(headers)]
    lines = [" " * label_width + " | " + " | ".join(h.ljust(w) for h, w in zip(headers, widths,
                                                                             strict=True)),
             "-" * (label_width + sum(w + 3 for w in widths))]
    for label, values in rows:
        lines.append(label.ljust(label_width) + " | "
                     + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)))
    return "\n".join(lines)

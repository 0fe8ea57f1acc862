"""The benchmark's outputs: the side-by-side table, results.json and the PNG chart."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# The figures every system reports, in table order, with their units.
FIGURES = (
    ("packets_per_s", "forwarded packets/s"),
    ("cpu_pct", "server CPU, % of one core"),
    ("cpu_us_per_packet", "server CPU µs per forwarded packet"),
    ("latency_p50_ms", "added latency p50, ms (2 loopback hops)"),
    ("latency_p95_ms", "added latency p95, ms"),
    ("latency_p99_ms", "added latency p99, ms"),
    ("join_p50_ms", "join -> first packet p50, ms"),
    ("join_p95_ms", "join -> first packet p95, ms"),
    ("join_keyframe_p95_ms", "join -> first keyframe p95, ms"),
    ("loss_pct", "loss, %"),
    ("rss_mb_per_participant", "RSS per participant, MB"),
    ("server_sys_pct", "server CPU in the kernel, % of one core"),
    ("load_cpu_pct", "load generator CPU, % of one core"),
    ("load_loop_lag_max_ms", "load event-loop lag max, ms"),
    ("load_kernel_drops", "datagrams dropped by the load's sockets"),
    ("foreign_cpu_pct_server_core", "other processes on the server core, %"),
    ("packets_per_s_per_core_at_target", "forwarded packets/s per core (ramp step <= 75% CPU)"),
)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def ratios(qashyq: dict[str, Any], janus: dict[str, Any]) -> dict[str, float]:
    """Qashyq / Janus for every numeric figure both have (NaN where Janus's is 0 or NaN)."""
    out: dict[str, float] = {}
    for key, value in qashyq.items():
        other = janus.get(key)
        if isinstance(value, (int, float)) and isinstance(other, (int, float)):
            out[key] = value / other if other and math.isfinite(other) else math.nan
    return out


def build_results(
    params: dict[str, Any], systems: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``{"qashyq": {...}, "janus": {...}, "ratio": {...}, "params": {...}}``."""
    results: dict[str, Any] = {}
    for name, figures in systems.items():
        results[name] = {**figures, **params}
    if "qashyq" in systems and "janus" in systems:
        results["ratio"] = ratios(systems["qashyq"], systems["janus"])
    results["params"] = params
    return results


def write_json(path: Path, results: dict[str, Any]) -> None:
    """Write ``results`` as strict JSON (non-finite numbers become null)."""
    path.write_text(json.dumps(_finite_or_none(results), indent=2, sort_keys=True) + "\n")


def _cell(value: Any) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def table(results: dict[str, Any]) -> str:
    """One table: a row per figure, a column per system, and the ratio Qashyq/Janus."""
    names = [n for n in ("qashyq", "janus") if n in results]
    columns = [*names, "ratio"] if "ratio" in results else names
    width = max(len(label) for _, label in FIGURES)
    lines = [f"{'':<{width}}  " + "  ".join(f"{c:>10}" for c in columns)]
    for key, label in FIGURES:
        cells = [_cell(results[c].get(key)) for c in columns]
        lines.append(f"{label:<{width}}  " + "  ".join(f"{c:>10}" for c in cells))
    for name in names:
        target = results[name].get("at_target")
        if target:
            lines.append(
                f"{name} ramp: {target['packets_per_s']:,.0f} packets/s at "
                f"{target['cpu_pct']:.0f}% CPU ({target['participants_total']} participants), "
                f"latency p95 {target['latency_p95_ms']:.2f} ms, loss {target['loss_pct']:.2f}%"
            )
        for step in results[name].get("steps", []):
            if step.get("polluted"):
                lines.append(f"{name} step of {step['participants_total']} participants is "
                             f"polluted: " + "; ".join(step["polluted"]))
    params = results.get("params", {})
    lines.append(
        "load: " + ", ".join(f"{k}={v}" for k, v in params.items())
    )
    return "\n".join(lines)


def chart(path: Path, results: dict[str, Any]) -> None:
    """PNG: server CPU and added latency against forwarded packets/s, one line per system."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the harness runs headless
    import matplotlib.pyplot as plt

    figure, (cpu_axes, latency_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, colour in (("qashyq", "tab:blue"), ("janus", "tab:orange")):
        steps = results.get(name, {}).get("steps", [])
        if not steps:
            continue
        load = [s["packets_per_s"] for s in steps]
        cpu_axes.plot(load, [s["cpu_pct"] for s in steps], "o-", color=colour, label=name)
        for key, style in (("latency_p50_ms", "o-"), ("latency_p95_ms", "s--")):
            latency_axes.plot(load, [s[key] for s in steps], style, color=colour,
                              label=f"{name} {key.split('_')[1]}")
    cpu_axes.set(xlabel="forwarded packets/s", ylabel="server CPU, % of one core",
                 title="CPU against load")
    latency_axes.set(xlabel="forwarded packets/s", ylabel="added latency, ms",
                     title="Latency (publisher -> SFU -> subscriber)")
    for axes in (cpu_axes, latency_axes):
        axes.grid(True, alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

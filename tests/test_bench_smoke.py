"""Smoke test of the benchmark harness: media flows through both SFUs (no speed thresholds)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = (
    "packets_per_s", "cpu_us_per_packet", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
    "join_p95_ms", "loss_pct", "rss_mb_per_participant",
)
PARAMS = ("hearings", "participants", "duration_s", "bitrate")


def test_bench_runs_both_systems(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    # A subprocess, like a user runs it: the harness pins its own process to a core.
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--out", str(out), "--hearings", "1",
         "--participants", "3", "--duration", "4", "--target-cpu", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=150, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "ratio" in completed.stdout

    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"qashyq", "janus", "ratio"}
    for system in ("qashyq", "janus"):
        figures = results[system]
        for key in (*FIGURES, *PARAMS):
            assert isinstance(figures[key], (int, float)), (system, key, figures.get(key))
            assert math.isfinite(figures[key]), (system, key)
        assert figures["packets_per_s"] > 0, system
        assert figures["loss_pct"] < 50, system
        assert figures["joined"] == 3, system
        # Latency is measured on forwarded payloads, not guessed: most of them were matched.
        assert figures["latency_matched_pct"] > 90, system
        # Every window says whether it can be trusted, and why not.
        for step in figures["steps"]:
            assert isinstance(step["polluted"], list), system
            assert step["load_kernel_drops"] >= 0, system
    for key in FIGURES:
        assert key in results["ratio"]

    png = (out / "chart.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_signaling_load_runs(tmp_path: Path) -> None:
    figures_path = tmp_path / "load.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.signaling_load", "--pages", "30", "--raises", "3",
         "--json", str(figures_path)],
        cwd=REPO, capture_output=True, text=True, timeout=150, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "fanout_p95_ms" in completed.stdout
    figures = json.loads(figures_path.read_text())
    assert (figures["pages"], figures["failed_pages"], figures["fanout_missed"]) == (30, 0, 0)
    for key in ("join_all_s", "kb_per_page", "fanout_p50_ms", "fanout_p95_ms", "fanout_max_ms"):
        assert isinstance(figures[key], (int, float)) and math.isfinite(figures[key]), key
    assert len(figures["fanout_rounds_first_median_last_ms"]) == 3


def test_fuzz_bench_finds_no_500_and_a_working_hearing(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.fuzz", "--inputs", "400", "--seed", "3",
         "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "responses >= 500 (5xx, 1011, internal_error): 0" in completed.stdout
    result = json.loads((tmp_path / "fuzz.json").read_text())
    assert sum(result["answers"].values()) == 400
    assert (result["server_errors"], result["error_lines"], result["tracebacks"]) == (0, 0, 0)
    assert result["healthy_afterwards"] is True
    assert result["answers"].get("4xx", 0) > 100  # the inputs were refused, not ignored

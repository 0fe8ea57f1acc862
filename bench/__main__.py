"""``python -m bench run --out DIR [--quick]``: Qashyq and Janus under the same synthetic load.

This process is the load (pinned to core 0); each server runs pinned to core 1, one after the
other, so they never compete. Prints one table, writes ``DIR/results.json`` and ``DIR/chart.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .fastpath import ArrivalClock, install_kernel_timestamps
from .janus_driver import JanusSystem
from .media_files import load_media
from .proc_stats import pin_self
from .qashyq_driver import QashyqSystem
from .report import build_results, chart, table, write_json
from .runner import LoadParams, System, measure

LOAD_CORE, SERVER_CORE = 0, 1
_SYSTEMS: dict[str, type[QashyqSystem] | type[JanusSystem]] = {
    "qashyq": QashyqSystem, "janus": JanusSystem,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmark against both systems")
    run.add_argument("--out", type=Path, required=True, help="output directory")
    run.add_argument("--quick", action="store_true",
                     help="small load, short windows: under two minutes")
    run.add_argument("--hearings", type=int, help="hearings at the top load step")
    run.add_argument("--participants", type=int, help="participants per hearing")
    run.add_argument("--duration", type=float, help="measurement window per step, seconds")
    run.add_argument("--bitrate", type=int, help="video bitrate per publisher, bit/s")
    run.add_argument("--record", action="store_true",
                     help="Qashyq records every hearing (court hearings); default off, as Janus")
    run.add_argument("--systems", default="qashyq,janus",
                     help="comma-separated subset of qashyq,janus")
    run.add_argument("--cache", type=Path, help="pre-encoded media cache (default DIR/cache)")
    run.add_argument("--target-cpu", type=float,
                     help="after the fixed steps, add hearings until the server uses this much "
                          "of its core, %% (default 70; 0: no ramp)")
    run.add_argument("--ramp-hearings", type=int, help="hearings added per ramp step")
    run.add_argument("--retries", type=int,
                     help="extra windows per step while other processes disturb it "
                          "(default 2; --quick 1)")
    return parser


def _params(args: argparse.Namespace) -> LoadParams:
    quick = args.quick
    return LoadParams(
        # Steps of 2, 4 and 8 hearings: the last adds 20 participants at once (join figures).
        hearings=args.hearings or 8,
        participants=args.participants or 5,
        duration_s=args.duration or (6.0 if quick else 20.0),
        bitrate=args.bitrate or 500_000,
        # --quick skips the ramp to 70% CPU (it needs ~100 more joins): ask with --target-cpu.
        target_cpu_pct=args.target_cpu if args.target_cpu is not None else (0 if quick else 70),
        ramp_hearings=args.ramp_hearings or 4,
        retries=args.retries if args.retries is not None else (1 if quick else 2),
    )


async def _run_system(
    system: System, params: LoadParams, media: dict[str, Any], arrivals: ArrivalClock
) -> dict[str, Any]:
    steps = len(params.levels())
    hearings = params.hearings
    if params.target_cpu_pct:
        ramp = max(0, params.max_hearings - params.hearings) // params.ramp_hearings
        steps += ramp
        hearings += ramp * params.ramp_hearings
    # Hard stop: joins, warm-ups and windows of every step, with generous slack.
    limit = (60 + steps * ((1 + params.retries) * params.duration_s + 30)
             + hearings * params.participants)
    try:
        async with asyncio.timeout(limit):
            await system.start()
            return await measure(system, params, media, arrivals=arrivals,
                                 cores=(LOAD_CORE, SERVER_CORE))
    finally:
        await system.close()


async def _run(args: argparse.Namespace) -> int:
    params = _params(args)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    unknown = [n for n in names if n not in _SYSTEMS]
    if unknown or not names:
        print(f"bench: --systems: unknown {unknown or names}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or out / "cache"
    media = {"video": load_media(cache, "video", params.bitrate),
             "audio": load_media(cache, "audio", params.audio_bitrate)}
    pinned = pin_self(LOAD_CORE)
    # Before any peer connection opens a socket: arrival times come from the kernel.
    arrivals = ArrivalClock()
    install_kernel_timestamps(arrivals)
    figures: dict[str, dict[str, Any]] = {}
    for name in names:
        started = time.monotonic()
        print(f"bench: {name}: running ...", file=sys.stderr, flush=True)
        system: System = (
            QashyqSystem(out, SERVER_CORE, record=args.record) if name == "qashyq"
            else _SYSTEMS[name](out, SERVER_CORE)
        )
        figures[name] = await _run_system(system, params, media, arrivals)
        print(f"bench: {name}: done in {time.monotonic() - started:.0f} s", file=sys.stderr,
              flush=True)
    run_params = {**dataclasses.asdict(params), "pinned": pinned,
                  "load_core": LOAD_CORE, "server_core": SERVER_CORE}
    results = build_results(run_params, figures)
    write_json(out / "results.json", results)
    chart(out / "chart.png", results)
    print(table(results))
    print(f"wrote {out / 'results.json'} and {out / 'chart.png'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench``."""
    args = _parser().parse_args(argv)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Weak links: one participant's downlink in a 6-party hearing, and its audio under packet loss.

    .venv/bin/python -m bench.weak_links [--window 8] [--bitrate 500000] [--out /tmp/bench-weak]
                                         [--skip-loss] [--skip-downlink]

Downlink. The server runs as ``qashyq serve`` pinned to core 1; the six participants are the
benchmark's aiortc load (core 0) publishing pre-encoded VP8 640x360 at ``--bitrate`` and Opus
(32 kbit/s) with each frame's real level in the ssrc-audio-level extension. The measured
participant counts what it receives (RTP payload bytes) over ``--window`` seconds, then asks
for audio only (``receive_video: false``) and counts again. Two honest scenarios, each on a
fresh server: everyone sends continuous tone + noise (six people talking at once: the worst
case for active-speaker forwarding), and one person speaks while the others' microphones
pick up a quiet room (-75 dBov). Target for audio-only: at most 64 kbit/s.

Audio continuity. The measured participant runs in a network namespace of its own (a veth
pair to this one; traffic never leaves the machine), where the kernel drops 0 %, 5 % then
10 % of the UDP datagrams the server sends it, each at random and for ``--window`` seconds
(``tc netem loss`` would be the tool, but this kernel has no sch_netem: an nftables rule
``numgen random mod 100 < N drop`` in the namespace does the same independent loss). The other five
publish Opus with in-band FEC on (``speech-fec``). For each 20 ms frame of the five audio
streams it receives: playable if it arrived, or if the next packet arrived carrying LBRR
(``opus_lbrr.carries_fec``, the flag libopus decodes FEC from); the longest run of
unplayable frames is the longest gap. The namespace is deleted at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from .fastpath import install_kernel_timestamps
from .load import LoadStats
from .media_files import EncodedMedia, load_media
from .opus_lbrr import carries_fec
from .proc_stats import pin_self
from .qashyq_driver import REPO, QashyqParticipant, QashyqSystem

PARTICIPANTS = 6
MEASURED = "h0p1"  # a defendant: not the judge, who admits everyone
SPEAKER = "h0p2"  # who talks in the one-speaker scenario
AUDIO_ONLY_TARGET_KBPS = 64
AUDIO_BITRATE = 32_000
LOSS_STEPS = (0, 5, 10)
FRAME_MS = 20
SETTLE_S = 1.0  # after a change, packets already in flight land before measuring
_NETNS_ADDRESSES = ("10.213.77.1", "10.213.77.2")


def _received(stats: LoadStats, name: str) -> dict[str, int]:
    totals = {"audio": 0, "video": 0}
    for stream in stats.participant(name).streams:
        totals[stream.kind] += stream.bytes
    return totals


async def _window(stats: LoadStats, name: str, seconds: float) -> dict[str, float]:
    before, start = _received(stats, name), time.monotonic()
    await asyncio.sleep(seconds)  # a measurement window, not synchronisation
    after, elapsed = _received(stats, name), time.monotonic() - start
    kbps = {k: (after[k] - before[k]) * 8 / 1000 / elapsed for k in after}
    kbps["total"] = kbps["audio"] + kbps["video"]
    return kbps


async def _wait_receiving(stats: LoadStats, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        streams = stats.participant(name).streams
        if len([s for s in streams if s.packets > 0]) >= 2 * (PARTICIPANTS - 1):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} does not receive all {PARTICIPANTS - 1} others")
        await asyncio.sleep(0.2)


def _media(out: Path, bitrate: int, audio: str) -> dict[str, EncodedMedia]:
    return {
        "video": load_media(out / "cache", "video", bitrate),
        "audio": load_media(out / "cache", "audio", AUDIO_BITRATE, audio),
        "audio-silent": load_media(out / "cache", "audio", AUDIO_BITRATE, "silent"),
    }


async def _downlink(out: Path, window: float, bitrate: int, one_speaker: bool) -> dict[str, Any]:
    """One scenario on a fresh server: the measured participant's downlink, normal then
    audio-only."""
    stats = LoadStats()
    if one_speaker:
        for p in range(PARTICIPANTS):
            if f"h0p{p}" != SPEAKER:
                stats.variants[(f"h0p{p}", "audio")] = "audio-silent"
    system = QashyqSystem(out, core=1)
    await system.start()
    try:
        await system.join(1, PARTICIPANTS, stats, _media(out, bitrate, "speech"))
        await _wait_receiving(stats, MEASURED)
        normal = await _window(stats, MEASURED, window)
        # The driver keeps its participants to itself; this benchmark needs one's socket.
        measured = next(p for p in system._participants if p.name == MEASURED)
        assert measured._ws is not None
        await measured._ws.send_json({"type": "receive_video", "enabled": False})
        await asyncio.sleep(SETTLE_S)
        audio_only = await _window(stats, MEASURED, window)
        if system.failures():
            raise RuntimeError(f"participants failed: {system.failures()}")
    finally:
        await system.close()
    return {"normal": normal, "audio_only": audio_only}


# -- audio continuity under loss ----------------------------------------------------------


class _Namespace:
    """A network namespace joined to this one by a veth pair, with random loss into it."""

    def __init__(self) -> None:
        tag = os.getpid() % 100_000
        self.name = f"qashyq-bench-{tag}"
        self.outer = f"qbw{tag}a"
        self._inner = f"qbw{tag}b"
        self.host, self.guest = _NETNS_ADDRESSES
        self._created = False

    def create(self) -> None:
        """Make the namespace and the link; loss starts at 0 %."""
        self._created = True
        ns = ["ip", "netns", "exec", self.name]
        for command in (
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", self.outer, "type", "veth", "peer", "name", self._inner],
            ["ip", "link", "set", self._inner, "netns", self.name],
            ["ip", "addr", "add", f"{self.host}/30", "dev", self.outer],
            ["ip", "link", "set", self.outer, "up"],
            [*ns, "ip", "addr", "add", f"{self.guest}/30", "dev", self._inner],
            [*ns, "ip", "link", "set", self._inner, "up"],
            [*ns, "ip", "link", "set", "lo", "up"],
            [*ns, "ip", "route", "add", "default", "via", self.host],
            [*ns, "nft", "add", "table", "inet", "weak_link"],
            [*ns, "nft", "add chain inet weak_link input { type filter hook input priority 0; }"],
        ):
            subprocess.run(command, check=True, capture_output=True, timeout=10)

    def set_loss(self, percent: int) -> None:
        """Drop ``percent`` % of the UDP datagrams that reach the namespace, each
        independently (what ``netem loss`` does; this kernel has no netem)."""
        ns = ["ip", "netns", "exec", self.name, "nft"]
        subprocess.run([*ns, "flush", "chain", "inet", "weak_link", "input"],
                       check=True, capture_output=True, timeout=10)
        if percent:
            subprocess.run(
                [*ns, f"add rule inet weak_link input iifname {self._inner} meta l4proto udp "
                      f"numgen random mod 100 < {percent} drop"],
                check=True, capture_output=True, timeout=10)

    def delete(self) -> None:
        """Remove the namespace (its veth end, and so the pair, goes with it); idempotent."""
        if not self._created:
            return
        self._created = False
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=10)


def continuity(packets: list[tuple[int, bytes]]) -> dict[str, float]:
    """Playable frames of one stream from its received (sequence number, payload) pairs.

    A frame is playable if its packet arrived, or if the next one did and carries LBRR
    (in-band FEC) for it. Sequence numbers are the server's, gap-free per subscription, so
    every missing number is a frame lost on the way.
    """
    if not packets:
        return {"frames": 0, "received": 0, "playable": 0, "longest_gap_ms": 0}
    base = packets[0][0]
    by_index: dict[int, bytes] = {}
    for seq, payload in packets:
        by_index[(seq - base) & 0xFFFF] = payload
    frames = max(by_index) + 1
    playable = 0
    gap = longest = 0
    for index in range(frames):
        ok = index in by_index or (index + 1 in by_index and carries_fec(by_index[index + 1]))
        if ok:
            playable += 1
            gap = 0
        else:
            gap += 1
            longest = max(longest, gap)
    return {"frames": frames, "received": len(by_index), "playable": playable,
            "longest_gap_ms": longest * FRAME_MS}


async def _probe(ws_url: str, token: str, cache: str, out_file: str, bitrate: int) -> None:
    """The measured participant, inside the namespace: join, record audio until told to stop."""
    stats = LoadStats(audio_log=[])
    install_kernel_timestamps(stats.arrivals)
    media = {"video": load_media(Path(cache), "video", bitrate),
             "audio": load_media(Path(cache), "audio", AUDIO_BITRATE, "speech-fec")}
    participant = QashyqParticipant("measured", token, {}, stats, media, judge=False)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with aiohttp.ClientSession() as http:
        task = asyncio.create_task(participant.run(http, ws_url))
        deadline = time.monotonic() + 60
        while len({p for _, p, *_ in stats.audio_log or []}) < PARTICIPANTS - 1:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError("the measured participant does not hear the others")
            await asyncio.sleep(0.2)
        print("receiving", flush=True)
        await asyncio.wait_for(reader.readline(), 600)
        await participant.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    rows = [[publisher, seq, arrival, payload.hex()]
            for _, publisher, seq, arrival, payload in stats.audio_log or []]
    Path(out_file).write_text(json.dumps(rows))


async def _loss(out: Path, window: float, bitrate: int) -> dict[str, Any]:
    """Audio continuity of one participant behind a lossy link, per loss step."""
    namespace = _Namespace()
    stats = LoadStats()
    system: QashyqSystem | None = None
    child: asyncio.subprocess.Process | None = None
    log_file = out / "loss-probe.json"
    log_file.unlink(missing_ok=True)
    phases: list[tuple[int, float, float]] = []
    try:
        namespace.create()
        system = QashyqSystem(out, core=1, host=namespace.host)
        await system.start()
        media = _media(out, bitrate, "speech-fec")
        await system.join(1, PARTICIPANTS - 1, stats, media)
        token = await system.invite(system.hearing_ids[0], "measured", "witness")
        child = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", namespace.name, sys.executable, "-m", "bench.weak_links",
            "--probe", system.ws_url, token, str(out / "cache"), str(log_file), str(bitrate),
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdout is not None and child.stdin is not None
        line = await asyncio.wait_for(child.stdout.readline(), 90)
        if line.strip() != b"receiving":
            raise RuntimeError("the measured participant did not join")
        for percent in LOSS_STEPS:
            namespace.set_loss(percent)
            await asyncio.sleep(SETTLE_S)  # a measurement window, not synchronisation
            start = time.time()
            await asyncio.sleep(window)
            phases.append((percent, start, time.time()))
        namespace.set_loss(0)
        child.stdin.write(b"stop\n")
        await child.stdin.drain()
        await asyncio.wait_for(child.wait(), 60)
        if child.returncode != 0:
            raise RuntimeError(f"the measured participant failed ({child.returncode})")
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        if system is not None:
            await system.close()
        namespace.delete()
    rows = json.loads(log_file.read_text())
    results: dict[str, Any] = {}
    for percent, start, end in phases:
        streams: dict[str, list[tuple[int, bytes]]] = {}
        for publisher, seq, arrival, payload in rows:
            if start <= arrival < end:
                streams.setdefault(publisher, []).append((seq, bytes.fromhex(payload)))
        per_stream = [continuity(packets) for packets in streams.values()]
        frames = sum(s["frames"] for s in per_stream)
        results[str(percent)] = {
            "streams": len(per_stream),
            "frames": frames,
            "received_pct": 100 * sum(s["received"] for s in per_stream) / max(1, frames),
            "playable_pct": 100 * sum(s["playable"] for s in per_stream) / max(1, frames),
            "longest_gap_ms": max((s["longest_gap_ms"] for s in per_stream), default=0),
            "packets_with_fec_pct": 100 * sum(
                carries_fec(bytes.fromhex(r[3])) for r in rows if start <= r[2] < end
            ) / max(1, sum(1 for r in rows if start <= r[2] < end)),
        }
    return results


async def run(window: float, bitrate: int, out: Path, *, downlink: bool = True,
              loss: bool = True) -> dict[str, Any]:
    """The measurements; returns the figures (also written to ``out/weak_links.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"participants": PARTICIPANTS, "window_s": window,
                              "video_bitrate": bitrate}
    if downlink:
        result["downlink_kbps"] = {
            "everyone_talks": await _downlink(out, window, bitrate, one_speaker=False),
            "one_speaks": await _downlink(out, window, bitrate, one_speaker=True),
        }
        result["audio_only_within_target"] = all(
            s["audio_only"]["total"] <= AUDIO_ONLY_TARGET_KBPS
            for s in result["downlink_kbps"].values())
    if loss:
        result["audio_continuity"] = await _loss(out, window, bitrate)
    (out / "weak_links.json").write_text(json.dumps(result, indent=2))
    return result


def _print(result: dict[str, Any], window: float) -> None:
    if "downlink_kbps" in result:
        print(f"downlink of one participant, {PARTICIPANTS}-party hearing "
              f"({window:g} s windows, RTP payload kbit/s):")
        for scenario, label in (("everyone_talks", "all 6 talk"), ("one_speaks", "1 speaks")):
            for mode in ("normal", "audio_only"):
                kbps = result["downlink_kbps"][scenario][mode]
                print(f"  {label:<11} {mode.replace('_', '-'):<11} total {kbps['total']:7.1f}  "
                      f"audio {kbps['audio']:6.1f}  video {kbps['video']:7.1f}")
        verdict = "met" if result["audio_only_within_target"] else "MISSED"
        print(f"  audio-only target <= {AUDIO_ONLY_TARGET_KBPS} kbit/s: {verdict}")
    if "audio_continuity" in result:
        print(f"audio continuity of one participant behind random loss ({window:g} s per step, "
              f"{PARTICIPANTS - 1} Opus streams with in-band FEC):")
        print("  loss  frames  received  playable (+FEC)  longest gap  packets with LBRR")
        for percent, row in result["audio_continuity"].items():
            print(f"  {percent:>3}%  {row['frames']:6d}  {row['received_pct']:7.2f}%  "
                  f"{row['playable_pct']:14.2f}%  {row['longest_gap_ms']:8d} ms  "
                  f"{row['packets_with_fec_pct']:15.1f}%")


def main() -> None:
    """Run and print the figures (or, with ``--probe``, be the namespace's participant)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        ws_url, token, cache, out_file, bitrate = sys.argv[2:7]
        asyncio.run(_probe(ws_url, token, cache, out_file, int(bitrate)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--bitrate", type=int, default=500_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-weak-links"))
    parser.add_argument("--skip-downlink", action="store_true")
    parser.add_argument("--skip-loss", action="store_true")
    args = parser.parse_args()
    pin_self(0)
    result = asyncio.run(run(args.window, args.bitrate, args.out,
                             downlink=not args.skip_downlink, loss=not args.skip_loss))
    _print(result, args.window)


if __name__ == "__main__":
    main()

"""``python -m bench.signaling_load``: 1,000 pages in one hearing, signaling only.

Starts ``bench.signaling_server`` (Qashyq's app without its SFU) pinned to core 1, schedules
one hearing with a judge and ``--pages - 1`` other participants through the admin API, and
connects every page over ``/ws`` from this process (core 0) with the real handshake:
hello, welcome, and, for all but the judge, the lobby until the judge's page admits them
(the judge admits whoever it sees waiting, as ``bench.qashyq_driver`` does). Prints:

- join: from the first page's connect until every page has been admitted;
- memory per page: the server's RSS once all are in and idle, less its RSS before the first
  page connected, over the number of pages;
- fan-out: ``--raises`` times, one page (a different one each time) raises its hand; the
  time from its send until each other page has the roster saying so; p50 / p95 / max over
  every (raise, page) pair.

The judge's ``admit`` rate is lifted in this server (one click each, 999 of them, would take
the default 5 a second); every other message rate is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .proc_stats import pin_command, pin_self, sample
from .subprocesses import free_port, start_process, stop_process, wait_http

REPO = Path(__file__).resolve().parent.parent
LOAD_CORE, SERVER_CORE = 0, 1
_ROLES = ("observer", "witness", "lawyer", "defendant", "plaintiff", "interpreter")


@dataclass
class Page:
    """One participant page: the socket, the roster as the page keeps it, and milestones."""

    index: int
    participant_id: str
    token: str
    judge: bool = False
    ws: aiohttp.ClientWebSocketResponse | None = None
    roster: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcomed: float | None = None
    admitted: float | None = None
    # (participant id, hand) this page waits to see, and when it saw it.
    watch: tuple[str, bool] | None = None
    seen_at: float | None = None
    admitting: set[str] = field(default_factory=set)
    failure: str | None = None

    def take_roster(self, message: dict[str, Any]) -> None:
        """Keep the roster as the web client does: a full list, or a change to it."""
        if message["type"] == "roster":
            self.roster = {p["id"]: p for p in message["participants"]}
        else:
            for entry in message.get("participants", []):
                self.roster[entry["id"]] = entry
            for gone in message.get("left", []):
                self.roster.pop(gone, None)
        if self.watch is not None and self.seen_at is None:
            pid, hand = self.watch
            if self.roster.get(pid, {}).get("hand") is hand:
                self.seen_at = time.monotonic()


class Load:
    """The server process, the admin API and the pages."""

    def __init__(self, pages: int, work_dir: Path) -> None:
        self.count = pages
        self.work_dir = work_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "QASHYQ_DATA_DIR": str(work_dir / "data"),
                    "QASHYQ_LOG_LEVEL": "WARNING", "QASHYQ_PORT": str(self.port)}
        self.env.pop("REDIS_URL", None)
        self.process: asyncio.subprocess.Process | None = None
        self.token = ""
        self.pages: list[Page] = []
        self.readers: list[asyncio.Task[None]] = []

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Make an admin token, start the server, wait until it answers."""
        made = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "admin-token", cwd=REPO, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await made.communicate()
        self.token = out.decode().strip().splitlines()[-1]
        command = pin_command([sys.executable, "-m", "bench.signaling_server",
                               "--port", str(self.port)], SERVER_CORE)
        self.process = await start_process(command, cwd=REPO, env=self.env,
                                           log=self.work_dir / "server.log")
        await wait_http(http, self.base + "/healthz", self.process, timeout=30)

    @property
    def rss(self) -> int:
        """The server's resident memory now, bytes."""
        assert self.process is not None
        return sample(self.process.pid).rss_bytes

    async def _post(self, http: aiohttp.ClientSession, path: str,
                    body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(self.base + path, json=body,
                             headers={"Authorization": f"Bearer {self.token}"}) as r:
            answer: dict[str, Any] = await r.json()
            if r.status != 201:
                raise RuntimeError(f"{path}: {r.status} {answer}")
            return answer

    async def schedule(self, http: aiohttp.ClientSession) -> None:
        """One hearing, a judge and the others, invited eight at a time."""
        starts = (time.time() + 300)
        hearing = await self._post(http, "/api/hearings", {
            "case_number": "2-1000/2026", "title": "Load", "kind": "mediation",
            "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(starts)),
            "duration_minutes": 120, "language": "ru"})
        gate = asyncio.Semaphore(8)

        async def invite(index: int) -> Page:
            role = "judge" if index == 0 else _ROLES[index % len(_ROLES)]
            async with gate:
                body = await self._post(http, f"/api/hearings/{hearing['id']}/participants",
                                        {"display_name": f"Page {index}", "role": role})
            return Page(index, body["id"], body["join_url"].split("#", 1)[1], judge=index == 0)

        self.pages = list(await asyncio.gather(*(invite(i) for i in range(self.count))))

    async def connect(self, http: aiohttp.ClientSession, page: Page) -> None:
        """Open the page's socket and say hello; its reader runs until the end."""
        page.ws = await http.ws_connect(self.base + "/ws", max_msg_size=16 << 20)
        await page.ws.send_str(json.dumps({"type": "hello", "token": page.token, "protocol": 1}))
        self.readers.append(asyncio.create_task(self._read(page)))

    async def _read(self, page: Page) -> None:
        assert page.ws is not None
        async for msg in page.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(msg.data)
            kind = message.get("type")
            if kind == "welcome":
                page.welcomed = time.monotonic()
                page.roster = {p["id"]: p for p in message.get("roster", [])}
                if message["you"]["state"] == "admitted":
                    page.admitted = page.welcomed
            elif kind == "admitted":
                page.admitted = time.monotonic()
            elif kind in ("roster", "roster_update"):
                page.take_roster(message)
                if page.judge:
                    await self._admit_waiting(page)
            elif kind == "error":
                page.failure = f"{message.get('code')}: {message.get('message')}"
        if page.failure is None:
            page.failure = f"closed ({page.ws.close_code})"

    async def _admit_waiting(self, judge: Page) -> None:
        assert judge.ws is not None
        for pid, entry in judge.roster.items():
            if entry.get("state") == "lobby" and pid not in judge.admitting:
                judge.admitting.add(pid)
                await judge.ws.send_str(json.dumps({"type": "admit", "participant_id": pid}))

    async def close(self) -> None:
        """Close every page, then stop the server."""
        for page in self.pages:
            if page.ws is not None:
                with contextlib.suppress(Exception):
                    await page.ws.close()
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        if self.process is not None:
            await stop_process(self.process)


async def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(pages: int, raises: int, work_dir: Path) -> dict[str, Any]:
    """Measure; returns the figures."""
    load = Load(pages, work_dir)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        await load.start(http)
        try:
            await load.schedule(http)
            await asyncio.sleep(1.0)  # let the server settle after the invitations' work
            rss_before = load.rss
            judge, others = load.pages[0], load.pages[1:]
            started = time.monotonic()
            await load.connect(http, judge)
            await _until(lambda: judge.admitted is not None, 30, "the judge's welcome")
            gate = asyncio.Semaphore(100)

            async def connect(page: Page) -> None:
                async with gate:
                    await load.connect(http, page)

            await asyncio.gather(*(connect(p) for p in others))
            await _until(lambda: all(p.admitted is not None or p.failure for p in others),
                         600, "every page to be admitted")
            failed = [p for p in load.pages if p.failure]
            joined_s = time.monotonic() - started
            welcomed_s = max(p.welcomed or started for p in others) - started
            try:
                await _until(lambda: all(len(p.roster) == pages
                                         for p in load.pages if not p.failure),
                             120, "every page's roster to list everyone")
            except RuntimeError:
                sizes = collections.Counter(len(p.roster) for p in load.pages)
                print(f"roster sizes held by the pages: {dict(sizes)}", file=sys.stderr)
                raise
            await asyncio.sleep(2.0)  # idle: outboxes drained, nothing in flight
            rss_after = load.rss

            latencies: list[float] = []
            rounds: list[tuple[float, float, float]] = []  # first, median, last page (ms)
            missed = 0
            for round_no in range(raises):
                raiser = others[(round_no * 37) % len(others)]
                watchers = [p for p in load.pages if p is not raiser and not p.failure]
                for page in watchers:
                    page.watch, page.seen_at = (raiser.participant_id, True), None
                assert raiser.ws is not None
                sent = time.monotonic()
                await raiser.ws.send_str(json.dumps({"type": "hand", "raised": True}))
                with contextlib.suppress(RuntimeError):
                    await _until(lambda ws=watchers: all(p.seen_at for p in ws), 60,
                                 "every page to see the hand")
                this_round = sorted(p.seen_at - sent for p in watchers if p.seen_at)
                latencies += this_round
                rounds.append((1000 * this_round[0], 1000 * this_round[len(this_round) // 2],
                               1000 * this_round[-1]))
                missed += sum(1 for p in watchers if not p.seen_at)
                for page in watchers:
                    page.watch = None
                await asyncio.sleep(0.2)  # rounds apart, as people raise hands
            return {
                "pages": pages,
                "failed_pages": len(failed),
                "failures": sorted({p.failure or "" for p in failed})[:5],
                "join_all_s": round(joined_s, 2),
                "welcome_all_s": round(welcomed_s, 2),
                "rss_before_mb": round(rss_before / 2**20, 1),
                "rss_after_mb": round(rss_after / 2**20, 1),
                "kb_per_page": round((rss_after - rss_before) / pages / 1024, 1),
                "fanout_raises": raises,
                "fanout_missed": missed,
                "fanout_p50_ms": round(1000 * statistics.median(latencies), 1),
                "fanout_p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
                "fanout_max_ms": round(1000 * max(latencies), 1),
                "fanout_rounds_first_median_last_ms": [
                    [round(v) for v in r] for r in rounds],
            }
        finally:
            await load.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.signaling_load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1000, help="pages in the hearing")
    parser.add_argument("--raises", type=int, default=20, help="hand raises measured")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    # Each page is a socket here and one in the server (which inherits this limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * args.pages + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))
    pin_self(LOAD_CORE)
    with tempfile.TemporaryDirectory(prefix="qashyq-signaling-load-") as tmp:
        figures = asyncio.run(run(args.pages, args.raises, Path(tmp)))
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    goals_met = figures["kb_per_page"] <= 50 and figures["fanout_p95_ms"] <= 200
    print(f"goals (<= 50 KB per idle page, fan-out p95 <= 200 ms): "
          f"{'met' if goals_met else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

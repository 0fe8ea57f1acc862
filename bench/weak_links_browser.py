"""Weak links in real browsers: a village phone on a shaped link in a 4-party court hearing.

    .venv/bin/python -m bench.weak_links_browser [--seconds 60] [--quick] [--out DIR]
                                                 [--scenarios unshaped,600/250,...]
                                                 [--camera 1280x720]

A real ``qashyq serve`` listens on the host end of a ``ShapedLink``. The judge, the
prosecutor and the lawyer are Chromium pages on this machine (a perfect link; desktop
viewport), publishing a 1280x720 (``--camera``) 30 fps ``testsrc2`` camera; the judge speaks
(a voiced, syllabic test sound), the others' microphones pick up a quiet room. The defendant is a
"village phone": a Chromium page (360x640, mobile) in the link's network namespace,
publishing the same camera, its traffic shaped by the link (tbf both ways, 200 ms queue;
optional random loss both ways). Each scenario is a fresh hearing: the healthy pages join and
see each other, the phone loads the page over the link and waits in the lobby, the judge
admits it, and from that moment every page is sampled once a second (``getStats`` and the
DOM) for ``--seconds``, the link's counters twice a second.

Printed per scenario (medians over 1 s intervals; ``n/a`` when it could not be measured):
the judge's video on the phone in the first 12 s and after, the other tiles' fps on the
phone, the judge's audio concealed on the phone, whether and when the phone page went
audio-only and whether its video came back by itself, server -> phone kbit/s (busiest 5 s,
next to the shaped rate, at L2: headers and signaling included), what the shapers dropped,
the time from admission to the phone's first remote frame, the phone's camera (its
keyframes per minute after 12 s, on all layers and on the busiest one), and for the healthy
pages: any audio-only, and how they receive each other and the phone (worst pair); and how
long the hearing's recording took to be processed after it ended (the next scenario waits
for that, so that each starts on a quiet machine). All samples go to
``OUT/weak_links_browser.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright, expect

from . import weak_links_summary as fig
from .chromium_pages import DESKTOP, PHONE, FakeMedia, fake_media, launch
from .page_sampler import RTC_INIT_SCRIPT, PageSampler, sample
from .proc_stats import sample as process_sample
from .shaped_link import ShapedLink, exit_on_signals
from .subprocesses import free_port, start_process, stop_process, wait_http

REPO = Path(__file__).resolve().parent.parent
HEALTHY = ("judge", "prosecutor", "lawyer")
PHONE_ROLE = "defendant"
LINK_INTERVAL_S = 0.5
HEALTHY_VIDEO_TIMEOUT_S = 45
PAGE_TIMEOUT_MS = 90_000  # the phone loads the page over the link: 300 kbit/s is slow
RECORDING_TIMEOUT_S = 300  # the composite of a minute-long 4-party hearing, rendered niced


@dataclass(frozen=True)
class Scenario:
    """One shaping of the phone's link (kbit/s; None: unshaped), optionally lifted mid-run."""

    key: str
    down_kbps: int | None
    up_kbps: int | None
    loss_pct: int = 0  # random loss, each direction
    lift_at_s: float | None = None
    lift_to: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        """How the table's header names it."""
        if self.down_kbps is None:
            return "unshaped"
        text = f"{self.down_kbps}/{self.up_kbps}"
        if self.loss_pct:
            text += f" +{self.loss_pct}% loss"
        if self.lift_to is not None:
            text += f" -> {self.lift_to[0]}/{self.lift_to[1]} at {self.lift_at_s:g}s"
        return text


SCENARIOS = (
    Scenario("unshaped", None, None),
    Scenario("2500/1000", 2500, 1000),
    Scenario("1500/500", 1500, 500),
    Scenario("600/250", 600, 250),
    Scenario("600/250+loss3", 600, 250, loss_pct=3),
    Scenario("300/150-lift", 300, 150, lift_at_s=30, lift_to=(1500, 500)),
)
QUICK = ("unshaped", "600/250", "300/150-lift")


class BenchServer:
    """``qashyq serve`` on ``host`` with its own data directory, and its admin API."""

    def __init__(self, host: str, log: Path) -> None:
        self.host = host
        self._log = log
        self._tmp = tempfile.TemporaryDirectory(prefix="qashyq-weak-browser-")
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""

    def _env(self) -> dict[str, str]:
        # QASHYQ_LOG_LEVEL=DEBUG in the bench's environment logs each subscriber's estimate
        # and allocation (media.downlink) into OUT/qashyq.log.
        return {**os.environ, "QASHYQ_DATA_DIR": self._tmp.name,
                "QASHYQ_LOG_LEVEL": os.environ.get("QASHYQ_LOG_LEVEL", "WARNING"),
                "PYTHONPATH": str(REPO)}

    async def start(self) -> None:
        """Make an admin token, start the server, wait until it answers."""
        made = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "admin-token", cwd=REPO, env=self._env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(made.communicate(), 30)
        token = out.decode().strip().splitlines()[-1]
        port = free_port()
        self.base_url = f"http://{self.host}:{port}"
        self._process = await start_process(
            [sys.executable, "-m", "server.cli", "serve", "--host", self.host,
             "--port", str(port)], cwd=REPO, env=self._env(), log=self._log)
        self._http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
        await wait_http(self._http, f"{self.base_url}/healthz", self._process, timeout=30)

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None
        return self._process.pid

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._http is not None
        async with self._http.request(method, self.base_url + path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {data}")
            return data

    async def hearing(self, title: str) -> str:
        """A court hearing starting now; its id."""
        hearing = await self._call("POST", "/api/hearings", {
            "case_number": "2-1045/2026", "title": title, "kind": "court",
            "starts_at": dt.datetime.now(dt.UTC).isoformat(), "duration_minutes": 120,
            "language": "en"})
        return str(hearing["id"])

    async def invite(self, hearing_id: str, role: str) -> dict[str, str]:
        """A participant's id and join URL."""
        link = await self._call("POST", f"/api/hearings/{hearing_id}/participants",
                                {"display_name": role.title(), "role": role})
        return {"id": link["id"], "url": link["join_url"]}

    async def events(self, hearing_id: str) -> list[dict[str, Any]]:
        """The hearing's audit timeline (audio-only switches, link quality reports...)."""
        try:
            body = await self._call("GET", f"/api/hearings/{hearing_id}/events")
        except (RuntimeError, aiohttp.ClientError):
            return []
        events: list[dict[str, Any]] = body.get("events", [])
        return events

    async def end(self, hearing_id: str) -> None:
        """End the hearing (its pages are told, its media closed)."""
        with contextlib.suppress(RuntimeError, aiohttp.ClientError):
            await self._call("POST", f"/api/hearings/{hearing_id}/end")

    async def recording_settled(self, hearing_id: str, timeout: float) -> float | None:
        """Wait until the hearing's recording is processed (its composite rendered); the
        seconds that took, or None if it did not within ``timeout``."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            body = await self._call("GET", "/api/recordings")
            states = {r["hearing_id"]: r["state"] for r in body["recordings"]}
            if states.get(hearing_id) not in ("recording", "processing"):
                return time.monotonic() - start
            await asyncio.sleep(1.0)  # polling the admin API, with the deadline above
        return None

    async def close(self) -> None:
        """Stop the server and remove its data; idempotent."""
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._process is not None:
            await stop_process(self._process)
            self._process = None
        self._tmp.cleanup()


class LinkRecorder:
    """The link's counters every ``interval`` seconds, in a task it owns."""

    def __init__(self, link: ShapedLink, start: float, interval: float = LINK_INTERVAL_S):
        self._link = link
        self._start = start
        self._interval = interval
        self.rows: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            counters = await asyncio.to_thread(self._link.counters)
            row = asdict(counters)
            row["t"] = round(row.pop("at") - self._start, 3)
            row["down_kbps_shaped"] = self._link.down_kbps
            self.rows.append(row)
            await asyncio.sleep(self._interval)  # pacing of the recording

    async def stop(self) -> None:
        """End the task and wait for it; idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far."""
    with open("/proc/stat") as stat:
        values = [float(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    return sum(values) - idle, sum(values)


async def _open(browser: Browser, url: str, *, phone: bool) -> tuple[Page, float]:
    """A page in a fresh context, loaded until its join button shows; seconds it took."""
    context = await browser.new_context(**(PHONE if phone else DESKTOP), locale="en-US")
    await context.grant_permissions(["camera", "microphone"])
    await context.add_init_script(RTC_INIT_SCRIPT)
    page = await context.new_page()
    started = time.monotonic()
    await page.goto(url, timeout=PAGE_TIMEOUT_MS)
    await expect(page.locator("#join")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    return page, time.monotonic() - started


async def _admit(judge: Page, participant_id: str) -> None:
    await judge.locator(f'#lobby-list [data-participant-id="{participant_id}"] '
                        "[data-action=admit]").click(timeout=60_000)


async def _playing(page: Page, participants: Sequence[str], deadline: float) -> bool:
    """Whether the page shows video of each of ``participants`` with time advancing before
    ``deadline`` (``time.monotonic()``)."""
    seen: dict[str, float] = {}
    while True:
        row = await sample(page)
        videos = {v["pid"]: v for v in (row or {}).get("videos", [])}
        moving = [p for p in participants if p in videos and videos[p]["width"] > 0
                  and videos[p]["time"] > seen.get(p, float("inf"))]
        if len(moving) == len(participants):
            return True
        for p in participants:
            if p in videos and videos[p]["width"] > 0:
                seen.setdefault(p, videos[p]["time"])
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.25)  # polling interval, bounded by the deadline


async def _first_frame(page: Page, start: float, limit: float) -> float | None:
    """Seconds from ``start`` until the page shows any remote video frame (None: never)."""
    while time.monotonic() - start < limit:
        row = await sample(page)
        if row and any(v["width"] > 0 and v["time"] > 0 for v in row["videos"]):
            return time.monotonic() - start
        await asyncio.sleep(0.1)  # polling interval, bounded by the limit
    return None


@dataclass
class Browsers:
    """The judge's browser (speaking microphone), the other healthy pages' (quiet room),
    and the phone's (inside the link's namespace)."""

    judge: Browser
    others: Browser
    phone: Browser
    pages: list[Page] = field(default_factory=list)

    async def close_pages(self) -> None:
        """Close every page's context; idempotent."""
        pages, self.pages = self.pages, []
        for page in pages:
            with contextlib.suppress(Exception):
                await page.context.close()


async def run_scenario(scenario: Scenario, seconds: float, link: ShapedLink,
                       server: BenchServer, browsers: Browsers) -> dict[str, Any]:
    """One fresh hearing under ``scenario``; its samples, link counters and timings."""
    await asyncio.to_thread(link.set_rates, scenario.down_kbps, scenario.up_kbps)
    await asyncio.to_thread(link.set_loss, scenario.loss_pct, scenario.loss_pct)
    hearing = await server.hearing(f"Weak link: {scenario.label}")
    people = {role: await server.invite(hearing, role) for role in (*HEALTHY, PHONE_ROLE)}
    ids = {role: person["id"] for role, person in people.items()}
    result: dict[str, Any] = {"key": scenario.key, "label": scenario.label, "seconds": seconds,
                              "scenario": asdict(scenario), "participants": ids}
    samplers: list[PageSampler] = []
    recorder: LinkRecorder | None = None
    first_frame: asyncio.Task[float | None] | None = None
    try:
        judge, _ = await _open(browsers.judge, people["judge"]["url"], phone=False)
        browsers.pages.append(judge)
        await judge.click("#join")
        await expect(judge.locator("#screen-hearing")).to_be_visible(timeout=30_000)
        healthy = {"judge": judge}
        for role in HEALTHY[1:]:
            page, _ = await _open(browsers.others, people[role]["url"], phone=False)
            browsers.pages.append(page)
            healthy[role] = page
            await page.click("#join")
            await _admit(judge, ids[role])
        # Measured even when they do not (a broken server is what this bench must show).
        deadline = time.monotonic() + HEALTHY_VIDEO_TIMEOUT_S
        result["healthy_saw_each_other"] = {
            role: await _playing(page, [ids[r] for r in HEALTHY if r != role], deadline)
            for role, page in healthy.items()}

        phone, load_s = await _open(browsers.phone, people[PHONE_ROLE]["url"], phone=True)
        browsers.pages.append(phone)
        result["phone_page_load_s"] = load_s
        await phone.click("#join")
        await expect(phone.locator("#screen-lobby")).to_be_visible(timeout=PAGE_TIMEOUT_MS)

        start = time.monotonic()
        busy0, total0 = _machine_busy()
        server_cpu0 = process_sample(server.pid).cpu_s
        # This process's tree is the whole bench: the server, Playwright and every Chromium.
        ours0 = process_sample(os.getpid()).cpu_s
        recorder = LinkRecorder(link, start)
        await _admit(judge, ids[PHONE_ROLE])
        result["admit_click_s"] = time.monotonic() - start
        first_frame = asyncio.create_task(_first_frame(phone, start, seconds))
        pages = {**healthy, "phone": phone}
        samplers = [PageSampler(page, role) for role, page in pages.items()]
        for sampler in samplers:
            sampler.start(start)
        if scenario.lift_at_s is not None and scenario.lift_to is not None:
            await asyncio.sleep(max(0.0, start + scenario.lift_at_s - time.monotonic()))
            await asyncio.to_thread(link.set_rates, *scenario.lift_to)
            result["lifted_at_s"] = time.monotonic() - start
        await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))  # the measurement
        busy1, total1 = _machine_busy()
        elapsed = time.monotonic() - start
        cores = os.cpu_count() or 1
        result["machine_busy_pct"] = 100 * (busy1 - busy0) / max(1.0, total1 - total0)
        result["bench_cpu_pct"] = 100 * (process_sample(os.getpid()).cpu_s - ours0) / (
            elapsed * cores)
        result["server_cpu_pct"] = 100 * (process_sample(server.pid).cpu_s - server_cpu0) / (
            elapsed)
        result["first_remote_frame_s"] = await first_frame
    finally:
        if first_frame is not None and not first_frame.done():
            first_frame.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first_frame
        for sampler in samplers:
            await sampler.stop()
        if recorder is not None:
            await recorder.stop()
        result["samples"] = {s.name: s.samples for s in samplers}
        result["link"] = recorder.rows if recorder is not None else []
        result["events"] = await server.events(hearing)
        await browsers.close_pages()
        await server.end(hearing)
        await asyncio.to_thread(link.set_loss, 0, 0)
        # The next scenario starts on a quiet machine: the composite of this hearing is
        # rendered (at low priority, but on 2 cores still a share) before it.
        result["recording_processed_s"] = await server.recording_settled(
            hearing, RECORDING_TIMEOUT_S)
    return result


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of one scenario (see the module docstring), from its samples."""
    ids = result["participants"]
    samples = result["samples"]
    phone = samples.get("phone", [])
    end = result["seconds"]
    lift = result.get("lifted_at_s")
    steady_end = lift if lift is not None else end
    early_end = min(fig.EARLY_S, steady_end)
    judge_video = fig.video_series(phone, ids["judge"])
    on, off, source = fig.audio_only_times(phone)
    link = result["link"]
    scenario = result["scenario"]
    summary: dict[str, Any] = {
        "phone_page_load_s": result.get("phone_page_load_s"),
        "first_remote_frame_s": result.get("first_remote_frame_s"),
        "judge_on_phone_early": fig.video_figure(fig.within(judge_video, 0, early_end)),
        "judge_on_phone_steady": fig.video_figure(
            fig.within(judge_video, fig.EARLY_S, steady_end)),
        "judge_on_phone_after_lift": None if lift is None else fig.video_figure(
            fig.within(judge_video, lift + fig.AFTER_LIFT_SETTLE_S, end)),
        "others_on_phone_steady": {
            role: fig.video_figure(fig.within(fig.video_series(phone, ids[role]),
                                              fig.EARLY_S, end))
            for role in HEALTHY[1:]},
        "judge_audio_concealed_pct_steady": fig.concealed_pct(phone, ids["judge"],
                                                              fig.EARLY_S, end),
        "judge_audio_concealed_pct_all": fig.concealed_pct(phone, ids["judge"], 0, end),
        "phone_audio_only_at_s": on,
        "phone_audio_only_off_at_s": off,
        "phone_audio_only_by": source,
        "judge_video_back_at_s": fig.video_back_at(judge_video, on),
        "down_kbps_busiest_5s": fig.busiest_kbps(link, "down_bytes", 0, steady_end),
        "down_kbps_busiest_5s_after_lift": None if lift is None else fig.busiest_kbps(
            link, "down_bytes", lift, end),
        "down_kbps_mean_steady": fig.mean_kbps(link, "down_bytes", fig.EARLY_S, steady_end),
        "up_kbps_mean_steady": fig.mean_kbps(link, "up_bytes", fig.EARLY_S, steady_end),
        "down_shaped_kbps": scenario["down_kbps"],
        "up_shaped_kbps": scenario["up_kbps"],
        "down_shaper_drops": fig.counter_delta(link, "down_shaper_drops", 0, end),
        "down_loss_drops": fig.counter_delta(link, "down_loss_drops", 0, end),
        "phone_keyframes_per_min_steady": fig.keyframes_per_minute(phone, fig.EARLY_S, end),
        "phone_keyframe_requests_per_min_steady": fig.keyframes_per_minute(
            phone, fig.EARLY_S, end, busiest_layer=True),
        "phone_camera_steady": fig.outbound_video(phone, fig.EARLY_S, end),
        "machine_busy_pct": result.get("machine_busy_pct"),
        "server_cpu_pct": result.get("server_cpu_pct"),
        "bench_cpu_pct": result.get("bench_cpu_pct"),
        "recording_processed_s": result.get("recording_processed_s"),
    }
    summary["healthy_audio_only"] = {}
    for role in HEALTHY:
        went, came_back, by = fig.audio_only_times(samples.get(role, []))
        if went is not None:
            summary["healthy_audio_only"][role] = {"at_s": went, "off_at_s": came_back, "by": by}
    summary["healthy_saw_each_other"] = result.get("healthy_saw_each_other", {})
    receives: dict[str, dict[str, Any] | None] = {}
    for receiver in HEALTHY:
        for publisher in (*HEALTHY, "phone"):
            if publisher == receiver:
                continue
            pid = ids[PHONE_ROLE] if publisher == "phone" else ids[publisher]
            series = fig.video_series(samples.get(receiver, []), pid)
            receives[f"{receiver}<-{publisher}"] = fig.video_figure(
                fig.within(series, fig.EARLY_S, end))
    summary["healthy_receive"] = receives
    return summary


def _worst(figures: Sequence[dict[str, Any] | None]) -> str:
    measured = [f for f in figures if f is not None]
    if not measured or len(measured) < len(figures):
        return "n/a"
    return fig.fmt_video(min(measured, key=lambda f: float(f["fps"])))


def _when(on: float | None, off: float | None, back: float | None,
          by: str | None) -> tuple[str, str]:
    if on is None:
        return "no", "n/a"
    switched = f"at {on:.0f}s (by the {by})"
    if off is None:
        return switched, "no" if back is None else f"video at {back:.0f}s, still audio-only"
    return switched, f"at {off:.0f}s"


def _others(summary: dict[str, Any]) -> float | None:
    machine, ours = summary["machine_busy_pct"], summary.get("bench_cpu_pct")
    return None if machine is None or ours is None else max(0.0, machine - ours)


def _layer(layer: dict[str, Any]) -> str:
    if not layer["kbps"]:
        return f"{layer['rid']}:off"
    limited = (f" [{layer['limited_by']} {layer['limited_pct']:.0f}%]"
               if layer["limited_by"] else "")
    return f"{layer['rid']}:{fig.fmt_video(layer)} {layer['kbps']:.0f}k{limited}"


def _failed_roles(outcomes: dict[str, bool]) -> str:
    failed = [role for role, ok in outcomes.items() if not ok]
    return f"NO: {', '.join(failed)}" if failed else "yes"


def _rate(measured: float | None, shaped: int | None) -> str:
    return f"{fig.fmt_number(measured)} / {shaped if shaped is not None else 'unshaped'}"


def render(results: Sequence[dict[str, Any]]) -> str:
    """The one table: a row per figure, a column per scenario."""
    headers = [r["label"] for r in results]
    columns: list[dict[str, str]] = []
    for r in results:
        if r.get("error"):
            columns.append({"load": f"FAILED {r['error'][:70]}"})
            continue
        s = r["summary"]
        on, back = _when(s["phone_audio_only_at_s"], s["phone_audio_only_off_at_s"],
                         s["judge_video_back_at_s"], s["phone_audio_only_by"])
        lift = r["scenario"]["lift_to"]
        camera = "; ".join(_layer(layer) for layer in s["phone_camera_steady"]) or "n/a"
        steady = s["judge_on_phone_steady"]
        others = s["others_on_phone_steady"]
        receive = s["healthy_receive"]
        columns.append({
            "load": fig.fmt_number(s["phone_page_load_s"], 1, " s"),
            "first": fig.fmt_number(s["first_remote_frame_s"], 1, " s"),
            "early": fig.fmt_video(s["judge_on_phone_early"]),
            "steady": fig.fmt_video(s["judge_on_phone_steady"]),
            "lifted": fig.fmt_video(s["judge_on_phone_after_lift"]),
            "freezes": "n/a" if steady is None else
                       f"{steady['freezes']:.0f} / {steady['freeze_s']:.1f} s",
            "others": " / ".join(fig.fmt_number(o["fps"], 1) if o else "n/a"
                                 for o in others.values()),
            "concealed": fig.fmt_number(s["judge_audio_concealed_pct_steady"], 1, " %"),
            "audio_only": on,
            "back": back,
            "down": _rate(s["down_kbps_busiest_5s"], s["down_shaped_kbps"]),
            "down_lift": "n/a" if lift is None else _rate(s["down_kbps_busiest_5s_after_lift"],
                                                          lift[0]),
            "down_mean": fig.fmt_number(s["down_kbps_mean_steady"]),
            "up_mean": f"{fig.fmt_number(s['up_kbps_mean_steady'])} / "
                       f"{s['up_shaped_kbps'] if s['up_shaped_kbps'] else 'unshaped'}",
            "drops": f"{fig.fmt_number(s['down_shaper_drops'])} / "
                     f"{fig.fmt_number(s['down_loss_drops'])}",
            "keyframes": f"{fig.fmt_number(s['phone_keyframes_per_min_steady'], 1)} / "
                         f"{fig.fmt_number(s['phone_keyframe_requests_per_min_steady'], 1)}",
            "camera": camera,
            "healthy_ao": "; ".join(
                f"{role} by the {a['by']} {a['at_s']:.0f}-"
                f"{'end' if a['off_at_s'] is None else format(a['off_at_s'], '.0f')}s"
                for role, a in s["healthy_audio_only"].items()) or "none",
            "healthy_ok": _failed_roles(s["healthy_saw_each_other"]),
            "h_h": _worst([v for k, v in receive.items() if not k.endswith("<-phone")]),
            "h_p": _worst([v for k, v in receive.items() if k.endswith("<-phone")]),
            "cpu": f"{fig.fmt_number(s['machine_busy_pct'])} / "
                   f"{fig.fmt_number(_others(s))} / {fig.fmt_number(s['server_cpu_pct'])}",
            "record": fig.fmt_number(s["recording_processed_s"], 0, " s"),
        })
    labels = [
        ("load", "phone: page load over the link (to join button)"),
        ("first", "phone: admitted -> first remote frame"),
        ("early", "phone sees judge, first 12 s (median)"),
        ("steady", "phone sees judge, 12 s .. end (or lift)"),
        ("lifted", "phone sees judge, 5 s after the lift .. end"),
        ("freezes", "judge's video freezes on phone, 12 s .. end: count / s"),
        ("others", "phone sees prosecutor / lawyer, fps after 12 s"),
        ("concealed", "phone hears judge: concealed audio after 12 s"),
        ("audio_only", "phone page switched to audio-only"),
        ("back", "phone video back by itself"),
        ("down", "server->phone kbit/s: busiest 5 s / shaped"),
        ("down_lift", "server->phone kbit/s after lift: busiest 5 s / shaped"),
        ("down_mean", "server->phone kbit/s: mean after 12 s"),
        ("up_mean", "phone->server kbit/s: mean after 12 s / shaped"),
        ("drops", "downlink packets dropped: queue full / random loss"),
        ("keyframes", "phone camera keyframes/min after 12 s: all layers / busiest layer"),
        ("camera", "phone camera sends, after 12 s (rid:size fps kbit/s [limited by, % of time])"),
        ("healthy_ok", "before the phone: healthy pages saw each other"),
        ("healthy_ao", "healthy pages that went audio-only"),
        ("h_h", "healthy sees healthy (worst pair, after 12 s)"),
        ("h_p", "healthy sees phone (worst of 3, after 12 s)"),
        ("cpu", "CPU %: machine / not this bench (of all cores) / server (of 1 core)"),
        ("record", "recording processed (composite rendered), after the end"),
    ]
    rows = [(label, [c.get(key, "") for c in columns]) for key, label in labels]
    return fig.table(rows, headers)


async def run(scenarios: Sequence[Scenario], seconds: float, out: Path,
              camera_size: str = "1280x720") -> list[dict[str, Any]]:
    """Every scenario in turn on one server, one link and three browsers."""
    out.mkdir(parents=True, exist_ok=True)
    media: FakeMedia = fake_media(out / "cache", camera_size)
    results: list[dict[str, Any]] = []
    with ShapedLink() as link:
        server = BenchServer(link.host_ip, out / "qashyq.log")
        try:
            await server.start()
            origin = server.base_url
            async with async_playwright() as pw:
                browsers = Browsers(
                    judge=await launch(pw, camera=media.camera, microphone=media.speech,
                                       origin=origin),
                    others=await launch(pw, camera=media.camera, microphone=media.quiet,
                                        origin=origin),
                    phone=await launch(pw, camera=media.camera, microphone=media.quiet,
                                       origin=origin, link=link, scratch=out / "scratch"),
                )
                try:
                    for scenario in scenarios:
                        print(f"... {scenario.label}", file=sys.stderr, flush=True)
                        try:
                            result = await run_scenario(scenario, seconds, link, server,
                                                        browsers)
                            result["summary"] = summarise(result)
                        except Exception as exc:  # one broken scenario must not hide the rest
                            result = {"key": scenario.key, "label": scenario.label,
                                      "scenario": asdict(scenario),
                                      "error": f"{type(exc).__name__}: {exc}"}
                        results.append(result)
                        (out / "weak_links_browser.json").write_text(
                            json.dumps({"seconds": seconds, "scenarios": results}, indent=1))
                finally:
                    await browsers.close_pages()
                    for browser in (browsers.judge, browsers.others, browsers.phone):
                        with contextlib.suppress(Exception):
                            await browser.close()
        finally:
            await server.close()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, run the scenarios, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None,
                        help="sampling per scenario (default 60, --quick 20)")
    parser.add_argument("--quick", action="store_true",
                        help=f"20 s each, scenarios {', '.join(QUICK)}, lift at half time")
    parser.add_argument("--scenarios", default=None,
                        help=f"comma-separated, of: {', '.join(s.key for s in SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-weak-browser"))
    parser.add_argument("--camera", default="1280x720", metavar="WxH",
                        help="every page's camera (default 1280x720: three layers; 640x360 "
                             "gives two and leaves this machine's CPU some room)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d{2,4}x\d{2,4}", args.camera):
        parser.error(f"--camera wants WxH, e.g. 640x360, not {args.camera!r}")
    seconds = args.seconds or (20.0 if args.quick else 60.0)
    keys = (args.scenarios.split(",") if args.scenarios
            else QUICK if args.quick else [s.key for s in SCENARIOS])
    by_key = {s.key: s for s in SCENARIOS}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {list(by_key)}")
    chosen = []
    for key in keys:
        scenario = by_key[key]
        if scenario.lift_at_s is not None and scenario.lift_at_s >= seconds * 0.75:
            # A short run still shows the lift: at half time.
            scenario = Scenario(scenario.key, scenario.down_kbps, scenario.up_kbps,
                                scenario.loss_pct, seconds / 2, scenario.lift_to)
        chosen.append(scenario)
    with exit_on_signals():
        results = asyncio.run(run(chosen, seconds, args.out, args.camera))
    print(f"Village phone in a 4-party court hearing, {seconds:g} s per scenario, "
          f"{args.camera} cameras "
          f"(medians of 1 s intervals; n/a: not measurable):")
    print(render(results))
    print(f"samples: {args.out / 'weak_links_browser.json'}")


if __name__ == "__main__":
    main()

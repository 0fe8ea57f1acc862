"""The shaped-link harness: a namespace whose traffic is shaped both ways, changeable while
running, lossy on demand, always removed; and a phone page living in it that plays the judge."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import expect

from bench.chromium_pages import PHONE
from bench.shaped_link import PREFIX, ShapedLink, sweep_stale
from tests.fixtures.browser import playing_remote_videos
from tests.fixtures.hearing_pages import joined_page, roster_entry
from tests.fixtures.page_rtc import RTC_INIT_SCRIPT, latest_pc_stats
from tests.fixtures.polling import poll

if TYPE_CHECKING:  # imported at run time by pytest_plugins only (assertion rewriting)
    from tests.fixtures.shaped_link import LinkFactory, NamespaceChromium, ServeOn

pytest_plugins = ["tests.fixtures.shaped_link"]

DATAGRAM = 1000
PORT = 5301  # inside the namespace: nothing else listens there
# One program for both ends, run inside the namespace or here: ``send HOST PORT SECONDS
# KBPS`` paces datagrams at KBPS; ``receive PORT SECONDS`` prints what arrived, as JSON.
UDP_TOOL = f"""
import json, socket, sys, time
mode = sys.argv[1]
if mode == "send":
    host, port, seconds, kbps = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gap = {DATAGRAM} * 8 / (kbps * 1000)
    start = next_at = time.monotonic()
    while time.monotonic() - start < seconds:
        s.sendto(b"x" * {DATAGRAM}, (host, port))
        next_at += gap
        time.sleep(max(0.0, next_at - time.monotonic()))
else:
    port, seconds = int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    s.settimeout(0.2)
    arrivals = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            arrivals.append((time.monotonic(), len(s.recv(65536))))
        except socket.timeout:
            pass
    print(json.dumps(arrivals))
"""


def _rate_kbps(arrivals: list[tuple[float, int]], *, skip_s: float = 0.5) -> float:
    """Goodput after the first ``skip_s`` (the bucket's burst and the queue filling)."""
    assert arrivals, "nothing arrived"
    first = arrivals[0][0] + skip_s
    kept = [(t, n) for t, n in arrivals if t >= first]
    assert len(kept) > 10, f"only {len(kept)} datagrams after the first {skip_s} s"
    return sum(n for _, n in kept[1:]) * 8 / 1000 / (kept[-1][0] - kept[0][0])


def _wire_kbps(payload_kbps: float) -> float:
    """What a shaper counts for this goodput: + UDP, IP and Ethernet headers."""
    return payload_kbps * (DATAGRAM + 8 + 20 + 14) / DATAGRAM


async def _up_rate(link: ShapedLink, offered_kbps: int, seconds: float) -> float:
    """Send from inside the namespace to a socket here; the rate that arrived."""
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[float, int]] = []

    class Counter(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            arrivals.append((time.monotonic(), len(data)))

    transport, _ = await loop.create_datagram_endpoint(Counter, local_addr=(link.host_ip, 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        sender = await asyncio.create_subprocess_exec(*link.command(
            [sys.executable, "-c", UDP_TOOL, "send", link.host_ip, str(port), str(seconds),
             str(offered_kbps)]))
        assert await asyncio.wait_for(sender.wait(), seconds + 10) == 0
    finally:
        transport.close()
    return _rate_kbps(arrivals)


async def _down_rate(link: ShapedLink, offered_kbps: int, seconds: float) -> tuple[float, int]:
    """Send from here to a socket inside the namespace; (kbit/s, datagrams) that arrived."""
    receiver = await asyncio.create_subprocess_exec(
        *link.command([sys.executable, "-c", UDP_TOOL, "receive", str(PORT),
                       str(seconds + 0.8)]), stdout=asyncio.subprocess.PIPE)
    assert receiver.stdout is not None
    assert await asyncio.wait_for(receiver.stdout.readline(), 10) == b"ready\n"
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-c", UDP_TOOL, "send", link.guest_ip, str(PORT), str(seconds),
        str(offered_kbps))
    assert await asyncio.wait_for(sender.wait(), seconds + 10) == 0
    out, _ = await asyncio.wait_for(receiver.communicate(), 10)
    arrivals = [(t, n) for t, n in json.loads(out)]
    return _rate_kbps(arrivals), len(arrivals)


async def test_traffic_is_shaped_both_ways_and_the_rate_can_change(
    shaped_links: LinkFactory,
) -> None:
    link = shaped_links(down_kbps=600, up_kbps=250)
    # Both directions at once, each offered twice its rate: the shaper, not the sender,
    # sets what arrives.
    (down, _), up = await asyncio.gather(_down_rate(link, 1200, 2.0), _up_rate(link, 500, 2.0))
    assert _wire_kbps(down) == pytest.approx(600, rel=0.2), f"down {down:.0f} kbit/s"
    assert _wire_kbps(up) == pytest.approx(250, rel=0.2), f"up {up:.0f} kbit/s"
    before = link.counters()
    assert before.down_shaper_drops > 0 and before.up_shaper_drops > 0  # the queues overflowed

    link.set_rates(1500, 250)  # the village's link gets better mid-hearing
    down, _ = await _down_rate(link, 3000, 1.5)
    assert _wire_kbps(down) == pytest.approx(1500, rel=0.2), f"lifted {down:.0f} kbit/s"
    after = link.counters()
    # The counters saw that traffic: 1.5 s at 1500 kbit/s is about 280 kB.
    assert 200_000 < after.down_bytes - before.down_bytes < 400_000


async def test_random_loss_drops_about_the_share_asked(shaped_links: LinkFactory) -> None:
    link = shaped_links(loss_down_pct=30)  # unshaped: only the loss rule drops
    _, received = await _down_rate(link, 800, 2.0)  # 200 datagrams
    sent = 200
    assert 0.55 * sent < received < 0.85 * sent, f"{received} of {sent} arrived"
    assert link.counters().down_loss_drops >= sent - received - 5
    link.set_loss(0, 0)
    _, received = await _down_rate(link, 800, 1.0)
    assert received >= 95


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=True).stdout


def test_a_failure_inside_still_removes_the_namespace(can_shape: None) -> None:
    inside: subprocess.Popen[bytes] | None = None
    with pytest.raises(RuntimeError, match="hearing crashed"), ShapedLink(
            down_kbps=300, up_kbps=150, loss_down_pct=3) as link:
        namespace, veth = link.namespace, link.host_if
        assert namespace in _namespaces()
        # A process left running inside (a browser that did not close) must not keep the
        # namespace alive.
        inside = subprocess.Popen(link.command(["sleep", "60"]))
        # `ip netns exec` enters the namespace a moment after it starts (longer on a busy
        # machine): the crash comes once the process is really inside, as a browser is.
        deadline = time.monotonic() + 10
        while inside.pid not in link.pids():
            assert time.monotonic() < deadline, "the process never entered the namespace"
            time.sleep(0.02)  # polling interval, bounded by the deadline
        raise RuntimeError("hearing crashed")
    assert inside is not None
    try:
        assert inside.wait(timeout=10) != 0, "the process inside outlived its namespace"
    finally:
        inside.kill()  # only reached alive when the assertion failed
        inside.wait()
    assert namespace not in _namespaces()
    assert not Path(f"/sys/class/net/{veth}").exists()
    link.close()  # idempotent


def test_a_crashed_runs_leftovers_are_swept(can_shape: None) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid now belongs to nobody: a crashed owner
    number = 250
    namespace = f"{PREFIX}{number}-{dead.pid}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    subprocess.run(["ip", "link", "add", f"qsl{number}h", "type", "veth", "peer", "name",
                    f"qsl{number}p"], check=True)
    assert namespace in sweep_stale()
    assert namespace not in _namespaces()
    assert not Path(f"/sys/class/net/qsl{number}h").exists()


@pytest.mark.browser
async def test_a_phone_behind_a_600_250_link_joins_and_sees_the_judge(
    shaped_links: LinkFactory, shaped_api: ServeOn, namespace_chromium: NamespaceChromium,
) -> None:
    link = shaped_links(down_kbps=600, up_kbps=250)
    api = await shaped_api(link)
    hearing = await api.create_hearing(language="en")
    judge = await joined_page(api, await api.invite(hearing["id"], "judge", "Judge"))
    villager = await api.invite(hearing["id"], "defendant", "Villager")
    try:
        browser = await namespace_chromium(link, api.base_url)
        context = await browser.new_context(**PHONE, locale="en-US")
        await context.add_init_script(RTC_INIT_SCRIPT)
        phone = await context.new_page()
        await phone.goto(f"{api.base_url}/join#{villager['token']}")
        await phone.click("#join")
        await expect(phone.locator("#screen-lobby")).to_be_visible(timeout=15_000)
        await judge.signaling.expect(
            "roster", lambda m: roster_entry(m, villager["id"]).get("state") == "lobby")
        await judge.signaling.send({"type": "admit", "participant_id": villager["id"]})

        assert await playing_remote_videos(phone, 1) == [judge.participant_id]
        # The phone's media really took the shaped link: the page offered the namespace's
        # address, and the link carried the judge's video down and the phone's camera up.
        stats = await latest_pc_stats(phone)
        assert stats is not None and stats["state"] == "connected"
        assert f" {link.guest_ip} " in stats["local"]

        async def media_through_the_link() -> bool:
            counters = link.counters()  # the uplink carries at most ~30 kB/s
            return counters.down_bytes > 100_000 and counters.up_bytes > 60_000

        await poll(media_through_the_link, 20, "media crossing the shaped link both ways")
    finally:
        await judge.close()

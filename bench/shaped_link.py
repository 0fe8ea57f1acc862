"""A shaped network link on this machine: a network namespace behind a veth pair.

    with ShapedLink(down_kbps=600, up_kbps=250, loss_down_pct=3) as link:
        subprocess.run(link.command(["python3", "client.py", link.host_ip]))
        link.set_rates(1500, 500)          # the link gets better mid-run
        print(link.counters().down_bytes)  # what passed the shaper towards the namespace

Whatever runs inside the namespace (``link.command(...)``, or Chromium through
``link.wrapper(...)``) reaches this machine at ``link.host_ip`` (10.77.<n>.1, the host's
end of the veth) and has the address ``link.guest_ip`` (10.77.<n>.2). Several links coexist:
each takes the first free ``n``. Nothing is routed further: a namespace reaches only this
machine's own addresses.

Shaping: a token bucket (``tc qdisc tbf``) on the egress of each end of the veth pair, so
``down`` shapes what this machine sends into the namespace and ``up`` what leaves it; the
queue holds ``queue_ms`` (200 ms) of traffic at the rate, beyond which the kernel drops, as a
mobile link's buffer does. This kernel has no ``sch_netem``: random loss is an nftables rule
in the namespace (``numgen random mod 100 < N drop``) on the veth's input (down) and output
(up), each packet dropped independently.

Counters (``counters()``) come from the host end's ``/sys/class/net/<veth>/statistics``:
its tx is what passed the down shaper, its rx what passed the up one; plus the shapers' and
the loss rules' drops.

Cleanup always runs: ``close()`` is idempotent, called by the ``with`` block, by ``atexit``
and (in a program that called ``exit_on_signals``) on SIGTERM/SIGHUP; ``sweep_stale()``
(run by every ``open()``) removes what a killed run left behind, recognised by the owner's
process id in the namespace's name. Needs root, ``ip`` and ``tc`` (iproute2) and ``nft``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Self

PREFIX = "qashyq-sl-"
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)-(\d+)$")
_HOST_IF = re.compile(r"^qsl(\d+)h$")
_TABLE = "qashyq_shaped"
_MAX_LINKS = 250
# A queue that can never hold two full-size packets stalls instead of shaping.
_MIN_BURST_BYTES = 2 * 1600
_BURST_MS = 20
_COMMAND_TIMEOUT_S = 10
# Not sysctl(8): procps may be missing; a kernel without IPv6 has nothing to turn off.
_NO_IPV6 = ("f=/proc/sys/net/ipv6/conf/{conf}/disable_ipv6; "
            "if [ -e $f ]; then echo 1 > $f; fi")


class LinkError(RuntimeError):
    """A command that builds or changes the link failed (its stderr is in the message)."""


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True,
                          timeout=_COMMAND_TIMEOUT_S, check=False)
    if check and done.returncode != 0:
        raise LinkError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done


def _namespaces() -> list[str]:
    listed = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.strip()]


def _links() -> list[str]:
    return [path.name for path in Path("/sys/class/net").iterdir()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    return True


def _kill_inside(namespace: str) -> None:
    """End the processes left in a namespace of ours (by id); they were started in it by us."""
    pids = _run(["ip", "netns", "pids", namespace], check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def sweep_stale() -> list[str]:
    """Delete the namespaces (and veths) of shaped links whose owning process is gone.

    Returns the namespaces removed. Links of live processes (other runs) are left alone.
    """
    removed: list[str] = []
    numbers_in_use: set[str] = set()
    # Links before namespaces: a veth listed here had its namespace already (see below).
    links = _links()
    for namespace in _namespaces():
        match = _NAME.match(namespace)
        if match is None:
            continue
        number, owner = match.groups()
        if _alive(int(owner)):
            numbers_in_use.add(number)
            continue
        _kill_inside(namespace)
        _run(["ip", "link", "del", f"qsl{number}h"], check=False)
        _run(["ip", "netns", "del", namespace], check=False)
        removed.append(namespace)
    # A namespace is made before its veth and deleted after it, so a veth without its
    # namespace is always left over from a killed run.
    for name in links:
        match = _HOST_IF.match(name)
        if match is not None and match.group(1) not in numbers_in_use:
            _run(["ip", "link", "del", name], check=False)
    return removed


@dataclass(frozen=True)
class LinkCounters:
    """Cumulative traffic through the link at one instant (``at``: ``time.monotonic()``)."""

    at: float
    down_bytes: int  # passed the down shaper (this machine -> namespace), L2 bytes
    down_packets: int
    up_bytes: int  # passed the up shaper (namespace -> this machine)
    up_packets: int
    down_shaper_drops: int  # the queue was full: the sender exceeded the link
    up_shaper_drops: int
    down_loss_drops: int  # dropped at random by the loss rule
    up_loss_drops: int


def tbf_parameters(kbps: int, queue_ms: int) -> list[str]:
    """``tc`` arguments of a token bucket at ``kbps`` with ``queue_ms`` of queue."""
    if kbps <= 0:
        raise ValueError(f"rate must be positive, not {kbps} kbit/s")
    burst = max(_MIN_BURST_BYTES, kbps * 1000 // 8 * _BURST_MS // 1000)
    return ["tbf", "rate", f"{kbps}kbit", "burst", str(burst), "latency", f"{queue_ms}ms"]


class ShapedLink:
    """A network namespace joined to this machine by a shaped (and optionally lossy) veth.

    ``down_kbps``/``up_kbps`` None leave a direction unshaped. Use as a context manager,
    or ``open()`` then ``close()``.
    """

    def __init__(
        self,
        *,
        down_kbps: int | None = None,
        up_kbps: int | None = None,
        loss_down_pct: int = 0,
        loss_up_pct: int = 0,
        queue_ms: int = 200,
    ) -> None:
        self.down_kbps = down_kbps
        self.up_kbps = up_kbps
        self.loss_down_pct = loss_down_pct
        self.loss_up_pct = loss_up_pct
        self.queue_ms = queue_ms
        self.number = 0
        self.namespace = ""
        self._opened = False

    @property
    def host_if(self) -> str:
        """This machine's end of the veth pair."""
        return f"qsl{self.number}h"

    @property
    def guest_if(self) -> str:
        """The namespace's end of the veth pair."""
        return f"qsl{self.number}p"

    @property
    def host_ip(self) -> str:
        """This machine's address as the namespace sees it."""
        return f"10.77.{self.number}.1"

    @property
    def guest_ip(self) -> str:
        """The namespace's address."""
        return f"10.77.{self.number}.2"

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def wrapper(self, executable: str | Path, directory: Path) -> Path:
        """A script in ``directory`` that runs ``executable`` (with its arguments) inside the
        namespace: for programs that take an executable path, e.g. Playwright's browser."""
        script = directory / f"{self.namespace}-{Path(executable).name}"
        command = f"exec ip netns exec {shlex.quote(self.namespace)} {shlex.quote(str(executable))}"
        script.write_text(f'#!/bin/sh\n{command} "$@"\n')
        script.chmod(0o755)
        return script

    def open(self) -> Self:
        """Create the namespace, the veth pair, the shapers and the loss rules."""
        if self._opened:
            return self
        sweep_stale()
        atexit.register(self.close)
        self._opened = True
        try:
            self._claim_number()
            inside = ["ip", "netns", "exec", self.namespace]
            for argv in (
                # IPv4 only: an IPv6 link-local address appears (after duplicate address
                # detection) a moment after the link comes up, and Chromium aborts every
                # request in flight on such a change (ERR_NETWORK_CHANGED).
                # (/proc/sys/net shows the settings of the writer's namespace.)
                ["sh", "-c", _NO_IPV6.format(conf=self.host_if)],
                [*inside, "sh", "-c", _NO_IPV6.format(conf="all") + "; "
                 + _NO_IPV6.format(conf="default")],
                ["ip", "link", "set", self.guest_if, "netns", self.namespace],
                ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
                ["ip", "link", "set", self.host_if, "up"],
                [*inside, "ip", "addr", "add", f"{self.guest_ip}/30", "dev", self.guest_if],
                [*inside, "ip", "link", "set", self.guest_if, "up"],
                [*inside, "ip", "link", "set", "lo", "up"],
                [*inside, "ip", "route", "add", "default", "via", self.host_ip],
            ):
                _run(argv)
            self.set_rates(self.down_kbps, self.up_kbps)
            self.set_loss(self.loss_down_pct, self.loss_up_pct)
        except BaseException:
            self.close()
            raise
        return self

    def _claim_number(self) -> None:
        # Another run may pick the same number at the same moment: the veth's name is the
        # lock (``ip link add`` of an existing name fails), and the loser tries the next one.
        for number in range(1, _MAX_LINKS + 1):
            taken = any(n.startswith(f"{PREFIX}{number}-") for n in _namespaces())
            if taken or f"qsl{number}h" in _links():
                continue
            self.number = number
            self.namespace = f"{PREFIX}{number}-{os.getpid()}"
            _run(["ip", "netns", "add", self.namespace])
            made = _run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name",
                         self.guest_if], check=False)
            if made.returncode == 0:
                return
            _run(["ip", "netns", "del", self.namespace], check=False)
        self.namespace = ""
        raise LinkError(f"no free shaped-link number in 1..{_MAX_LINKS}")

    def set_rates(self, down_kbps: int | None, up_kbps: int | None) -> None:
        """Shape each direction at its rate (kbit/s), or not at all (None); while running."""
        self.down_kbps, self.up_kbps = down_kbps, up_kbps
        for device, kbps, inside in ((self.host_if, down_kbps, []),
                                     (self.guest_if, up_kbps, self.command([]))):
            if kbps is None:
                _run([*inside, "tc", "qdisc", "del", "dev", device, "root"], check=False)
            else:
                _run([*inside, "tc", "qdisc", "replace", "dev", device, "root",
                      *tbf_parameters(kbps, self.queue_ms)])

    def set_loss(self, down_pct: int, up_pct: int) -> None:
        """Drop ``down_pct`` % of the packets entering the namespace and ``up_pct`` % of
        those leaving it, each independently; 0 for none."""
        for pct in (down_pct, up_pct):
            if not 0 <= pct <= 100:
                raise ValueError(f"loss must be 0..100 %, not {pct}")
        self.loss_down_pct, self.loss_up_pct = down_pct, up_pct
        rules = [f"table inet {_TABLE} {{",
                 "  chain down { type filter hook input priority 0; policy accept;"]
        if down_pct:
            rules.append(f'    iifname "{self.guest_if}" numgen random mod 100 < {down_pct} '
                         "counter drop")
        rules += ["  }", "  chain up { type filter hook output priority 0; policy accept;"]
        if up_pct:
            rules.append(f'    oifname "{self.guest_if}" numgen random mod 100 < {up_pct} '
                         "counter drop")
        rules += ["  }", "}"]
        # One transaction: delete (if there) and re-create, so no packet sees half a table.
        script = f"table inet {_TABLE}\ndelete table inet {_TABLE}\n" + "\n".join(rules) + "\n"
        done = subprocess.run(self.command(["nft", "-f", "-"]), input=script, text=True,
                              capture_output=True, timeout=_COMMAND_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise LinkError(f"nft in {self.namespace}: {done.stderr.strip()}")

    def counters(self) -> LinkCounters:
        """Cumulative bytes/packets per direction, and drops, now."""
        stats = Path("/sys/class/net") / self.host_if / "statistics"

        def read(name: str) -> int:
            return int((stats / name).read_text())

        return LinkCounters(
            at=time.monotonic(),
            down_bytes=read("tx_bytes"), down_packets=read("tx_packets"),
            up_bytes=read("rx_bytes"), up_packets=read("rx_packets"),
            down_shaper_drops=self._qdisc_drops([], self.host_if),
            up_shaper_drops=self._qdisc_drops(self.command([]), self.guest_if),
            down_loss_drops=self._loss_drops("down"),
            up_loss_drops=self._loss_drops("up"),
        )

    @staticmethod
    def _qdisc_drops(inside: list[str], device: str) -> int:
        listed = _run([*inside, "tc", "-s", "-j", "qdisc", "show", "dev", device], check=False)
        try:
            return sum(int(q.get("drops", 0)) for q in json.loads(listed.stdout or "[]"))
        except (ValueError, AttributeError):
            return 0

    def _loss_drops(self, chain: str) -> int:
        listed = _run(self.command(["nft", "-j", "list", "chain", "inet", _TABLE, chain]),
                      check=False)
        try:
            items = json.loads(listed.stdout or "{}").get("nftables", [])
        except ValueError:
            return 0
        return sum(expr["counter"]["packets"] for item in items if "rule" in item
                   for expr in item["rule"]["expr"] if "counter" in expr)

    def pids(self) -> list[int]:
        """Processes running inside the namespace now."""
        if not self.namespace:
            return []
        listed = _run(["ip", "netns", "pids", self.namespace], check=False).stdout
        return [int(pid) for pid in listed.split()]

    def close(self) -> None:
        """Remove the loss rules, the veth pair and the namespace; idempotent, never raises.

        Processes still inside (started there by this run) are killed first: a namespace
        in use would otherwise outlive its name.
        """
        if not self._opened:
            return
        self._opened = False
        atexit.unregister(self.close)
        if not self.namespace:
            return
        with contextlib.suppress(Exception):
            _kill_inside(self.namespace)
        with contextlib.suppress(Exception):
            _run(self.command(["nft", "delete", "table", "inet", _TABLE]), check=False)
        with contextlib.suppress(Exception):
            _run(["ip", "link", "del", self.host_if], check=False)
        with contextlib.suppress(Exception):
            _run(["ip", "netns", "del", self.namespace], check=False)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit`` (as Ctrl-C raises
    ``KeyboardInterrupt``), so ``with`` blocks, ``finally`` clauses and ``atexit`` still
    remove the links; the previous handlers come back afterwards."""

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

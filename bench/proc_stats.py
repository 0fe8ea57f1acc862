"""CPU time and memory of a server process (and its children) from /proc."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcSample:
    """CPU seconds (user + system) and resident memory of a process tree at one instant."""

    cpu_s: float
    rss_bytes: int
    sys_s: float = 0.0  # of cpu_s, in the kernel (syscalls, loopback delivery)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    tasks = _PROC / str(pid) / "task"
    try:
        threads = os.listdir(tasks)
    except OSError:
        return found  # the process exited
    for thread in threads:
        try:
            found.extend(int(child) for child in (tasks / thread / "children").read_text().split())
        except OSError:
            continue  # the thread exited while we looked (the server's come and go)
    return found


def _tree(pid: int) -> list[int]:
    # Bounded: a process tree of the server is a handful of processes at most.
    pids: list[int] = []
    pending = [pid]
    while pending and len(pids) < 256:
        current = pending.pop()
        pids.append(current)
        pending.extend(_children(current))
    return pids


def _cpu_s(pid: int) -> tuple[float, float]:
    # Field 2 (comm) may contain spaces: split after its closing parenthesis.
    stat = (_PROC / str(pid) / "stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, stime / tick


def _rss_bytes(pid: int) -> int:
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def sample(pid: int) -> ProcSample:
    """CPU seconds and RSS summed over ``pid`` and its descendants."""
    cpu = system = 0.0
    rss = 0
    for member in _tree(pid):
        try:
            total, kernel = _cpu_s(member)
            rss += _rss_bytes(member)
        except (OSError, ValueError):
            continue  # a child exited between listing and reading
        cpu += total
        system += kernel
    return ProcSample(cpu, rss, system)


def pin_command(command: list[str], core: int) -> list[str]:
    """``command`` prefixed to run on ``core`` (with all its threads), if ``taskset`` exists."""
    taskset = shutil.which("taskset")
    if taskset is None or core >= (os.cpu_count() or 1):
        return command
    return [taskset, "-c", str(core), *command]


def pin_self(core: int) -> bool:
    """Pin this process to ``core`` if the machine has it; whether it did."""
    if core >= (os.cpu_count() or 1):
        return False
    try:
        os.sched_setaffinity(0, {core})
    except OSError:
        return False
    return True

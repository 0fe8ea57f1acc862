"""Starting, waiting for and stopping the servers under test."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_process(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None, log: Path
) -> asyncio.subprocess.Process:
    """Start ``command`` with its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle,
        )


async def wait_http(
    http: aiohttp.ClientSession,
    url: str,
    process: asyncio.subprocess.Process,
    *,
    timeout: float,
    method: str = "GET",
) -> None:
    """Poll ``url`` until it answers (any status), failing if ``process`` exits or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=2)):
                return
        except (aiohttp.ClientError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: no answer within {timeout} s") from None
        await asyncio.sleep(0.1)


async def stop_process(process: asyncio.subprocess.Process, *, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; waits for the exit."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()

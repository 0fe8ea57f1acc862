"""Fuzz: generated bad input against a running server; no 500, no traceback, a working hearing.

    .venv/bin/python -m bench.fuzz [--inputs 10000] [--seed 12] [--concurrency 8] [--out DIR]

Starts ``qashyq serve`` (embedded store, INFO log) and throws ``--inputs`` generated inputs
at it (``bench/fuzz_inputs.py``): request bodies on every endpoint that reads one (40 %),
headers — credentials with non-ASCII bytes, Range, content headers — (20 %), paths and
queries (20 %), and WebSocket frames (20 %: half as the first frame of a new socket, half on
a judge's socket past welcome, each followed by a ping that must be answered). It prints the
answers by class (HTTP status classes; WebSocket close codes and error frames, where 1011 or
``internal_error`` count as 5xx), the ERROR lines and tracebacks in the server's log, and
whether a hearing still works afterwards: a judge's page and a witness's page join, the judge
sees the witness in the lobby in its roster and admits it. Exit status 0 only if there was no
5xx, no ERROR line, no traceback, and the hearing works.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from .fuzz_inputs import Target, body_request, header_request, path_request, ws_frame
from .subprocesses import free_port, start_process, stop_process, wait_http

REPO = Path(__file__).resolve().parent.parent
ANSWER_TIMEOUT_S = 15.0
# WebSocket close codes that are the protocol's answers to bad input (docs/protocol.md).
TYPED_CLOSES = {4400, 4401, 4403, 4408, 4409, 4410, 4413, 1000, 1009}


class Tally:
    """Answers by class, and a few examples of each surprising one."""

    def __init__(self) -> None:
        self.classes: collections.Counter[str] = collections.Counter()
        self.examples: dict[str, list[str]] = collections.defaultdict(list)

    def count(self, what: str, example: str = "") -> None:
        """Count one answer of class ``what``; keep up to three examples of the bad ones."""
        self.classes[what] += 1
        if example and (what.startswith("5") or what in ("no answer", "1011", "ws 5xx")) and \
                len(self.examples[what]) < 3:
            self.examples[what].append(example[:300])

    @property
    def server_errors(self) -> int:
        """Answers that mean the server failed (a 5xx, a 1011 close, an internal_error)."""
        return sum(n for k, n in self.classes.items() if k.startswith("5") or k == "ws 5xx")


# ---- the server ---------------------------------------------------------------------------


class FuzzedServer:
    """``qashyq serve`` on the embedded store, in a temporary data directory, INFO log."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._tmp = tempfile.TemporaryDirectory(prefix="qashyq-fuzz-")
        self._process: asyncio.subprocess.Process | None = None
        self.port = free_port()
        self.admin_token = ""

    @property
    def base(self) -> str:
        """The server's HTTP address."""
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "QASHYQ_DATA_DIR": self._tmp.name, "QASHYQ_LOG_LEVEL": "INFO",
               "PYTHONPATH": str(REPO)}
        env.pop("REDIS_URL", None)
        return env

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Create an admin token, start serving, wait for /healthz."""
        made = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "admin-token", cwd=REPO, env=self._env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(made.communicate(), 30)
        self.admin_token = out.decode().strip().splitlines()[-1]
        self._process = await start_process(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
            cwd=REPO, env=self._env(), log=self.log_path)
        await wait_http(http, f"{self.base}/healthz", self._process, timeout=30)

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self._process is not None and self._process.returncode is None

    async def close(self) -> None:
        """Stop the server and remove its data; idempotent."""
        if self._process is not None:
            await stop_process(self._process)
            self._process = None
        self._tmp.cleanup()


async def _call(http: aiohttp.ClientSession, server: FuzzedServer, method: str, path: str,
                body: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token or server.admin_token}"}
    async with http.request(method, server.base + path, json=body, headers=headers) as r:
        data: dict[str, Any] = await r.json()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data}")
        return data


async def _prepare(http: aiohttp.ClientSession, server: FuzzedServer) -> tuple[Target, str]:
    """A hearing that has started with a judge and a witness, and an enrolled station;
    returns what the inputs may name and the witness's token (kept for the health check)."""
    hearing = await _call(http, server, "POST", "/api/hearings", {
        "case_number": "FUZZ-0", "title": "Fuzzed hearing", "kind": "mediation",
        "starts_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "duration_minutes": 120, "language": "en"})

    async def invite(role: str) -> dict[str, Any]:
        link = await _call(http, server, "POST", f"/api/hearings/{hearing['id']}/participants",
                           {"display_name": role.title(), "role": role})
        link["token"] = link["join_url"].split("#", 1)[1]
        return link

    judge, witness = await invite("mediator"), await invite("lawyer")
    station = await _call(http, server, "POST", "/api/stations",
                          {"name": "Fuzz", "facility": "Fuzz"})
    enrolled = await _call(http, server, "POST", "/api/stations/enrol",
                           {"code": station["enrol_url"].split("#enrol=", 1)[1]})
    target = Target("127.0.0.1", server.port, server.admin_token, enrolled["credential"],
                    hearing["id"], witness["id"], judge["token"])
    return target, witness["token"]


# ---- HTTP inputs ---------------------------------------------------------------------------


async def _exchange(target: Target, request: bytes) -> str:
    """Send one raw request; the answer's status class ('2xx'...) or what happened instead."""
    try:
        reader, writer = await asyncio.open_connection(target.host, target.port)
    except OSError as exc:
        return f"connect failed: {type(exc).__name__}"
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT_S)
        await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_S)
    except (ConnectionError, TimeoutError) as exc:
        return f"no answer ({type(exc).__name__})"
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return "no answer"
    return f"{parts[1].decode()[0]}xx"


# ---- WebSocket inputs ----------------------------------------------------------------------


def _ws_url(target: Target) -> str:
    return f"ws://{target.host}:{target.port}/ws"


async def _send(ws: aiohttp.ClientWebSocketResponse, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)


async def _first_frame(http: aiohttp.ClientSession, target: Target, frame: str | bytes) -> str:
    """A new socket whose first frame is ``frame``: the close code it ends with."""
    async with http.ws_connect(_ws_url(target), max_msg_size=1 << 22) as ws:
        await _send(ws, frame)
        fatal_code = ""
        while True:
            msg = await asyncio.wait_for(ws.receive(), ANSWER_TIMEOUT_S)
            if msg.type is aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data.get("type") == "error":
                    fatal_code = data.get("code", "")
                elif data.get("type") == "welcome":
                    await ws.close()  # a valid hello: the page is in; leave
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                              aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                break
    code = ws.close_code
    if code == 1011 or fatal_code == "internal_error":
        return "ws 5xx"
    return f"ws close {code}" if code in TYPED_CLOSES else f"ws close {code} (untyped)"


class JudgeSocket:
    """A host's page past welcome; frames are sent on it, each followed by a ping."""

    def __init__(self, http: aiohttp.ClientSession, target: Target) -> None:
        self._http = http
        self._target = target
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is None or self._ws.closed:
            ws = await self._http.ws_connect(_ws_url(self._target), max_msg_size=1 << 22)
            await ws.send_json({"type": "hello", "token": self._target.judge_token,
                                "protocol": 1})
            await self._until(ws, lambda m: m.get("type") == "welcome")
            self._ws = ws
        return self._ws

    async def _until(self, ws: aiohttp.ClientWebSocketResponse,
                     wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        while True:
            msg = await asyncio.wait_for(ws.receive(), ANSWER_TIMEOUT_S)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed ({ws.close_code})")
            data = json.loads(msg.data)
            seen.append(data)
            if wanted(data):
                return seen

    async def frame(self, frame: str | bytes) -> str:
        """Send ``frame`` then a ping; the class of what came back before the pong."""
        ws = await self._open()
        await _send(ws, frame)
        await ws.send_json({"type": "ping"})
        try:
            # The ping may be over its rate (docs/protocol.md, Message rates): refused, it is
            # answered all the same.
            seen = await self._until(ws, lambda m: m.get("type") == "pong" or (
                m.get("code") == "rate_limited" and m.get("details", {}).get("kind") == "ping"))
        except ConnectionError:
            code = ws.close_code
            return "ws 5xx" if code == 1011 else f"ws close {code}"
        errors = [m for m in seen if m.get("type") == "error"]
        if any(m.get("code") == "internal_error" for m in errors):
            return "ws 5xx"
        if any(m.get("fatal") for m in errors):
            return "ws fatal error"
        return f"ws error {errors[0].get('code')}" if errors else "ws accepted"

    async def close(self) -> None:
        """Close the socket; idempotent."""
        if self._ws is not None:
            await self._ws.close()


# ---- the run ------------------------------------------------------------------------------


async def _healthy(http: aiohttp.ClientSession, target: Target, witness_token: str) -> bool:
    """A judge's page and a witness's page join; the judge sees and admits the witness."""
    url = _ws_url(target)
    async with http.ws_connect(url) as judge, http.ws_connect(url) as witness:
        await judge.send_json({"type": "hello", "token": target.judge_token, "protocol": 1})
        await _expect(judge, lambda m: m["type"] == "welcome")
        await witness.send_json({"type": "hello", "token": witness_token, "protocol": 1})
        welcome = await _expect(witness, lambda m: m["type"] == "welcome")
        if welcome["you"]["state"] == "lobby":
            await _expect(judge, lambda m: m["type"] in ("roster", "roster_update") and any(
                p["id"] == target.participant_id and p["state"] == "lobby" and p["connected"]
                for p in m["participants"]))
            await judge.send_json({"type": "admit", "participant_id": target.participant_id})
            await _expect(witness, lambda m: m["type"] == "admitted")
        await _expect(judge, lambda m: m["type"] in ("roster", "roster_update") and any(
            p["id"] == target.participant_id and p["state"] == "admitted" and p["connected"]
            for p in m["participants"]))
    return True


async def _expect(ws: aiohttp.ClientWebSocketResponse,
                  wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.1, deadline - time.monotonic()))
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket closed ({ws.close_code})")
        data: dict[str, Any] = json.loads(msg.data)
        if wanted(data):
            return data


def _log_findings(log: str) -> dict[str, int]:
    lines = log.splitlines()
    return {
        "log_lines": len(lines),
        "error_lines": sum(1 for line in lines if " ERROR " in line or " CRITICAL " in line),
        "tracebacks": log.count("Traceback (most recent call last)"),
        "warning_lines": sum(1 for line in lines if " WARNING " in line),
    }


async def run(inputs: int, seed: int, concurrency: int, out: Path | None) -> dict[str, Any]:
    """Start a server, fuzz it, check the hearing; the figures."""
    work = out or Path(tempfile.mkdtemp(prefix="qashyq-fuzz-out-"))
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "server.log"
    log_path.unlink(missing_ok=True)
    server = FuzzedServer(log_path)
    tally = Tally()
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        await server.start(http)
        judge: JudgeSocket | None = None
        try:
            target, witness_token = await _prepare(http, server)
            judge = JudgeSocket(http, target)
            # Plan every input first (one seeded generator), then send them.
            plan: list[tuple[str, bytes | str]] = []
            for _ in range(inputs):
                roll = rng.random()
                if roll < 0.4:
                    plan.append(("http", body_request(rng, target)))
                elif roll < 0.6:
                    plan.append(("http", header_request(rng, target)))
                elif roll < 0.8:
                    plan.append(("http", path_request(rng, target)))
                elif roll < 0.9:
                    plan.append(("ws first", ws_frame(rng, target, first=True)))
                else:
                    plan.append(("ws after welcome", ws_frame(rng, target, first=False)))
            started = time.monotonic()
            queue: asyncio.Queue[tuple[str, bytes | str]] = asyncio.Queue()
            for item in plan:
                if item[0] != "ws after welcome":
                    queue.put_nowait(item)

            async def worker() -> None:
                while not queue.empty():
                    kind, payload = queue.get_nowait()
                    if kind == "http":
                        assert isinstance(payload, bytes)
                        outcome = await _exchange(target, payload)
                        example = payload[:200].decode("utf-8", "replace")
                    else:
                        try:
                            outcome = await _first_frame(http, target, payload)
                        except (aiohttp.ClientError, TimeoutError) as exc:
                            outcome = f"ws no answer ({type(exc).__name__})"
                        example = repr(payload)[:200]
                    tally.count(outcome, example)

            async def on_the_judge_socket() -> None:
                for kind, payload in plan:
                    if kind == "ws after welcome":
                        assert judge is not None
                        tally.count(await judge.frame(payload), repr(payload)[:200])

            await asyncio.gather(on_the_judge_socket(),
                                 *(worker() for _ in range(concurrency)))
            elapsed = time.monotonic() - started
            await judge.close()
            healthy = False
            with contextlib.suppress(Exception):
                async with http.get(server.base + "/healthz") as r:
                    alive = r.status == 200
                healthy = alive and server.running and await _healthy(http, target,
                                                                      witness_token)
        finally:
            if judge is not None:
                await judge.close()
            await server.close()
    findings = _log_findings(log_path.read_text(errors="replace"))
    result = {
        "inputs": inputs, "seed": seed, "seconds": round(elapsed, 1),
        "answers": dict(sorted(tally.classes.items())), "server_errors": tally.server_errors,
        "examples": dict(tally.examples), **findings, "healthy_afterwards": healthy,
        "log": str(log_path),
    }
    (work / "fuzz.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"fuzz: {result['inputs']} inputs (seed {result['seed']}) in {result['seconds']} s")
    for what, n in result["answers"].items():
        print(f"  {what:<40} {n:>6}")
    print(f"responses >= 500 (5xx, 1011, internal_error): {result['server_errors']}")
    print(f"server log: {result['log_lines']} lines, {result['error_lines']} ERROR, "
          f"{result['tracebacks']} tracebacks, {result['warning_lines']} WARNING "
          f"({result['log']})")
    print(f"hearing works afterwards (join, roster, admit): {result['healthy_afterwards']}")
    for what, examples in result["examples"].items():
        for example in examples:
            print(f"  e.g. {what}: {example}")


def main() -> None:
    """``python -m bench.fuzz``."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs to send")
    parser.add_argument("--seed", type=int, default=12, help="the generator's seed")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP inputs in flight")
    parser.add_argument("--out", type=Path, help="where server.log and fuzz.json go")
    args = parser.parse_args()
    result = asyncio.run(run(args.inputs, args.seed, args.concurrency, args.out))
    _print(result)
    ok = (result["server_errors"] == 0 and result["error_lines"] == 0
          and result["tracebacks"] == 0 and result["healthy_afterwards"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

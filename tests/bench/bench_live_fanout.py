"""Live room fan-out: N viewers, a few senders posting M danmaku/s; LiveMall vs a bare server.

LiveMall runs as in production: ``uvicorn livemall.asgi:application --ws livemall.websocket_protocol:WebSocketProtocol
--lifespan off``, ``--processes`` (default 2) separate processes on two ports sharing one
Redis (db 6 unless ``BENCH_REDIS_URL``) and the benchmark database ``livemall_bench``.
Viewers are spread evenly over the processes and so are the senders, so a message posted
on one process reaches viewers on both through the room's Redis pub/sub channel. The
servers use ``tests/bench/live_fanout_settings.py``: production settings with the chat
rate limits raised (1,000 messages/s per user and per socket) so that five senders can
post 50 messages/s; and a private ``LIVE_REDIS_PREFIX`` per run.

The reference is a bare ``websockets`` server (no framework; its own subprocess on the
same event loop, uvloop): every message it receives is broadcast as its own frame to every
connection (``websockets.broadcast``).

The client runs in separate processes (``--client-procs``, default 2 viewer processes and
one sender process), so the load generator is not the server's event loop. Each sender
message carries ``lf<run>.<seq>.<send time in µs>`` in its text. Viewers count every
message they receive once and the latency (receive time minus the time in the text).
Measured per scenario, over the ``--seconds`` of sending plus the time until every message
arrived (at most ``--drain`` seconds more):

* deliveries/s, loss (expected = messages accepted x viewers connected and reading; a
  message arriving after the drain counts as lost), viewers that received everything;
* latency p50 / p99 / max at the viewers;
* server CPU seconds (utime + stime from ``/proc``, every server process) per delivered
  message, and the ratio to the bare server's; Redis CPU (``INFO cpu``) beside it;
* server RSS at the start of sending, its peak, and at the end.

Scenarios: each ``--viewers`` x each ``--rates`` on both servers; then LiveMall runs with
``--stalled`` (5) of the N viewers connecting and never reading (a 4 KiB receive buffer),
``--stall-runs`` of them: by default N=2,000, M=50 for 30 s, and N=200, M=400 for 60 s
with texts near the 200-character limit, which sends a stalled socket enough bytes to
fill the kernel's send buffer (it grows to ~4 MB on loopback) so that the hub's own
bound (a short backlog, then the socket is dropped) is reached. Reported for those runs:
the bytes the kernel holds for each stalled socket (``ss`` Send-Q) at the end and how
many the server dropped (its log).

Run: ``make bench BENCH_ARGS="live_fanout"`` (``python -m tests.bench live_fanout``);
``--quick`` for a small smoke run. Results: a table on stdout and
``tests/artifacts/bench_live_fanout.json``. Loopback only; every phase has a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import datetime as dt
import itertools
import json
import multiprocessing
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.bench_asgi_servers import (
    ARTIFACTS,
    HOST,
    ROOT,
    _die_with_parent,
    cpu_seconds,
    free_port,
    http_get,
    machine,
    migrate,
    versions,
)

BENCH_DB = "postgres://postgres@127.0.0.1:5432/livemall_bench"
BENCH_REDIS = "redis://127.0.0.1:6379/6"
ROOM_SLUG = "bench-fanout"
SETTINGS_MODULE = "tests.bench.live_fanout_settings"
UVICORN_ARGS = (
    "--ws",
    "livemall.websocket_protocol:WebSocketProtocol",
    "--lifespan",
    "off",
    "--no-access-log",
    "--log-level",
    "warning",
)
GOAL_P99_MS = 200.0
GOAL_CPU_RATIO = 0.5
GOAL_RSS_GROWTH_MB = 64.0  # "bounded": the stalled run's peak RSS at most this much above its start


def _loop_run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def load_average() -> str:
    return Path("/proc/loadavg").read_text().strip()


# --- the bare reference server (its own process) ------------------------------------------


def bare_server_main(port: int) -> None:
    """A websockets server with no framework: every danmaku received goes out as its own frame to all."""
    from websockets.asyncio.server import broadcast, serve

    async def run() -> None:
        clients: set[Any] = set()
        ids = itertools.count(1)
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

        async def handler(ws: Any) -> None:
            clients.add(ws)
            try:
                async for raw in ws:
                    try:
                        data = json.loads(raw)
                    except ValueError:
                        continue
                    if not isinstance(data, dict) or data.get("type") != "danmaku":
                        continue
                    event = encoder.encode(
                        {
                            "type": "danmaku",
                            "id": str(next(ids)),
                            "name": "Sender",
                            "text": str(data.get("text", ""))[:200],
                            "at": int(time.time() * 1000),
                        }
                    )
                    broadcast(clients, event)
            finally:
                clients.discard(ws)

        async with serve(handler, HOST, port, backlog=4096, max_queue=64) as server:
            await server.serve_forever()

    _loop_run(run())


# --- servers ------------------------------------------------------------------------------


class Servers:
    """LiveMall (uvicorn x processes, ports of their own) or the bare server, as subprocesses."""

    def __init__(self, system: str, processes: int, env: dict[str, str], log_stem: str) -> None:
        self.system = system
        self.count = processes if system == "livemall" else 1
        self.env = env
        self.log_stem = log_stem
        self.ports = [free_port() for _ in range(self.count)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def argv(self, port: int) -> list[str]:
        if self.system == "livemall":
            return [
                sys.executable,
                "-m",
                "uvicorn",
                "livemall.asgi:application",
                "--host",
                HOST,
                "--port",
                str(port),
                *UVICORN_ARGS,
            ]
        code = f"from tests.bench.bench_live_fanout import bare_server_main; bare_server_main({port})"
        return [sys.executable, "-c", code]

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss(self) -> float:
        return sum(rss_mb(pid) for pid in self.pids)

    def __enter__(self) -> Servers:
        for index, port in enumerate(self.ports):
            log_path = ARTIFACTS / f"bench_live_fanout.{self.log_stem}.{index}.log"
            self.logs.append(log_path)
            with log_path.open("wb") as log:
                self.procs.append(
                    subprocess.Popen(
                        self.argv(port),
                        cwd=ROOT,
                        env=self.env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        preexec_fn=_die_with_parent,
                    )
                )
        for proc, port, log_path in zip(self.procs, self.ports, self.logs, strict=True):
            self._wait(proc, port, log_path, timeout=40.0)
        return self

    def _wait(self, proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.system} server exited with {proc.returncode}; see {log_path}")
            try:
                if self.system == "livemall":
                    status, _ = http_get(port, "/healthz")
                    if status == 200:
                        return
                else:
                    with socket.create_connection((HOST, port), timeout=1):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.system} server did not start within {timeout:.0f}s; see {log_path}")

    def log_count(self, needle: str) -> int:
        return sum(path.read_text(errors="replace").count(needle) for path in self.logs if path.exists())

    def __exit__(self, *exc_info: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# --- the client processes -----------------------------------------------------------------


def _tag_pattern(run: str) -> re.Pattern[str]:
    return re.compile(r'"text":"lf' + run + r"\.(\d+)\.(\d+)")


def _stalled_socket(port: int, path: str) -> socket.socket:
    """A WebSocket that completes the handshake and then never reads again (4 KiB receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(15)
    sock.connect((HOST, port))
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{HOST}:{port}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: leave everything after the response unread
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    return sock


def viewer_worker(conn: Any, spec: dict[str, Any]) -> None:
    """Open viewers, count what they receive, answer the parent's commands over ``conn``."""
    _loop_run(_viewer_main(conn, spec))


async def _viewer_main(conn: Any, spec: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect

    pattern = _tag_pattern(spec["run"])
    marker = '"lf' + spec["run"] + "."
    latency_ms: collections.Counter[int] = collections.Counter()
    seen: list[set[str]] = []
    state = {"delivered": 0, "duplicates": 0, "frames": 0, "last_us": 0, "first_us": 0}
    closed: list[int | None] = []
    sockets: list[Any] = []
    stalled: list[socket.socket] = []
    opening = asyncio.Semaphore(64)

    for index in range(spec["stalled"]):
        port = spec["ports"][index % len(spec["ports"])]
        stalled.append(await asyncio.to_thread(_stalled_socket, port, spec["path"]))

    async def reader(ws: Any, mine: set[str]) -> None:
        try:
            async for frame in ws:
                if marker not in frame or frame.startswith('{"type":"snapshot"'):
                    continue
                now_us = time.time_ns() // 1000
                state["frames"] += 1
                for seq, sent_us in pattern.findall(frame):
                    if seq in mine:
                        state["duplicates"] += 1
                        continue
                    mine.add(seq)
                    latency_ms[(now_us - int(sent_us)) // 1000] += 1
                    state["delivered"] += 1
                state["last_us"] = now_us
        except Exception:  # noqa: S110  (a dropped viewer is counted below)
            pass
        closed.append(ws.close_code)

    async def open_viewer(index: int) -> Any:
        port = spec["ports"][index % len(spec["ports"])]
        async with opening:
            return await connect(
                f"ws://{HOST}:{port}{spec['path']}",
                origin=f"http://{HOST}:{port}",
                compression="deflate" if spec["deflate"] else None,
                ping_interval=None,
                open_timeout=30,
                close_timeout=1,
            )

    outcomes = await asyncio.gather(
        *(open_viewer(index) for index in range(spec["offset"], spec["offset"] + spec["viewers"])),
        return_exceptions=True,
    )
    failed = [repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
    tasks = []
    for ws in outcomes:
        if isinstance(ws, BaseException):
            continue
        sockets.append(ws)
        mine: set[str] = set()
        seen.append(mine)
        tasks.append(asyncio.get_running_loop().create_task(reader(ws, mine)))
    conn.send(
        {
            "ready": len(sockets),
            "stalled_ports": [sock.getsockname()[1] for sock in stalled],
            "failed": len(failed),
            "errors": failed[:3],
        }
    )

    cpu0 = sum(os.times()[:2])
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command == "count":
            conn.send({"delivered": state["delivered"], "closed": len(closed)})
        elif command == "stop":
            break
    cpu = sum(os.times()[:2]) - cpu0
    per_viewer = [len(mine) for mine in seen]
    open_at_end = len(sockets) - len(closed)
    for ws in sockets:
        if ws.transport is not None:
            ws.transport.abort()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for sock in stalled:
        sock.close()
    conn.send(
        {
            "per_viewer": per_viewer,
            "open_at_end": open_at_end,
            "closed_codes": dict(collections.Counter(str(code) for code in closed[: len(sockets)])),
            "latency_ms": dict(latency_ms),
            "delivered": state["delivered"],
            "duplicates": state["duplicates"],
            "frames": state["frames"],
            "last_us": state["last_us"],
            "cpu_seconds": cpu,
        }
    )


def sender_worker(conn: Any, spec: dict[str, Any]) -> None:
    _loop_run(_sender_main(conn, spec))


async def _sender_main(conn: Any, spec: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect

    errors: collections.Counter[str] = collections.Counter()
    senders = []
    for index, cookie in enumerate(spec["cookies"]):
        port = spec["ports"][index % len(spec["ports"])]
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        senders.append(
            await connect(
                f"ws://{HOST}:{port}{spec['path']}",
                origin=f"http://{HOST}:{port}",
                additional_headers=headers,
                compression=None,
                ping_interval=None,
                open_timeout=30,
                close_timeout=1,
            )
        )

    async def drain(ws: Any) -> None:
        # Senders are in the room too: read everything, keep only the errors about our posts.
        with contextlib.suppress(Exception):
            async for frame in ws:
                if '"type":"error"' in frame:
                    for event in _events(frame):
                        if event.get("type") == "error":
                            errors[event.get("code", "?")] += 1

    readers = [asyncio.get_running_loop().create_task(drain(ws)) for ws in senders]
    conn.send({"ready": len(senders)})
    assert await asyncio.to_thread(conn.recv) == "go"
    padding = " ".join(["ha"] * (spec["pad"] // 3)) if spec["pad"] else ""
    rate, run = spec["rate"], spec["run"]
    sent = {"warmup": 0, "measured": 0}
    errors_before = 0
    for phase, seconds in (("warmup", spec["warmup"]), ("measured", spec["seconds"])):
        if phase == "measured":
            errors_before = sum(errors.values())
            conn.send({"measuring": time.time()})
        tag = run if phase == "measured" else "w" + run
        started = time.monotonic()
        total = round(seconds * rate)
        for number in range(total):
            due = started + number / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            text = f"lf{tag}.{number}.{time.time_ns() // 1000} {padding}".strip()
            ws = senders[number % len(senders)]
            try:
                await ws.send(json.dumps({"type": "danmaku", "text": text}))
                sent[phase] += 1
            except Exception:
                errors["send_failed"] += 1
    await asyncio.sleep(1.0)  # errors about the last posts
    conn.send(
        {
            "sent": sent["measured"],
            "warmup_sent": sent["warmup"],
            "errors": dict(errors),
            "errors_measured": sum(errors.values()) - errors_before,
            "finished": time.time(),
        }
    )
    assert await asyncio.to_thread(conn.recv) == "stop"
    for ws in senders:
        if ws.transport is not None:
            ws.transport.abort()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    conn.send({"closed": True})


def _events(frame: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(frame)
    except ValueError:
        return []
    return data.get("events", []) if data.get("type") == "batch" else [data]


# --- one scenario -------------------------------------------------------------------------


@dataclass
class Scenario:
    system: str
    viewers: int
    rate: int
    seconds: float
    stalled: int = 0
    pad: int = 0

    @property
    def label(self) -> str:
        extra = f", {self.stalled} stalled" if self.stalled else ""
        return f"{self.system} N={self.viewers} M={self.rate}{extra}"


@dataclass
class Result:
    system: str
    viewers: int
    rate: int
    seconds: float
    stalled: int
    server_processes: int
    load_before: str
    load_after: str
    viewers_connected: int = 0
    viewers_failed: int = 0
    viewers_reading_at_end: int = 0
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    loss_percent: float = 0.0
    viewers_with_everything: int = 0
    duplicates: int = 0
    frames: int = 0
    deliveries_per_second: float = 0.0
    delivery_span_seconds: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_max_ms: float = 0.0
    server_cpu_seconds: float = 0.0
    server_cpu_us_per_delivery: float = 0.0
    redis_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    machine_busy_percent: float = 0.0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)
    stalled_disconnected_by_server: int = 0
    stalled_send_queue_kb: list[float] = field(default_factory=list)
    cpu_ratio_to_bare: float | None = None


def percentile(histogram: dict[int, int], fraction: float) -> float:
    total = sum(histogram.values())
    if not total:
        return float("nan")
    wanted = fraction * total
    running = 0
    for value in sorted(histogram):
        running += histogram[value]
        if running >= wanted:
            return float(value)
    return float(max(histogram))


def redis_cpu(url: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    finally:
        client.close()


def send_queues_kb(server_ports: list[int], peer_ports: list[int]) -> list[float]:
    """Bytes the kernel holds unsent on the server side of these connections (``ss`` Send-Q), in KB."""
    try:
        out = subprocess.run(["ss", "-tnH", "state", "established"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        local, peer = parts[2].rsplit(":", 1)[1], parts[3].rsplit(":", 1)[1]
        if int(local) in server_ports and int(peer) in peer_ports:
            found.append(round(int(parts[1]) / 1024, 1))
    return sorted(found)


def _recv(conn: Any, timeout: float, what: str) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer from the {what} within {timeout:.0f}s")
    return conn.recv()


def run_scenario(scenario: Scenario, options: argparse.Namespace, env: dict[str, str], cookies: list[str]) -> Result:
    ctx = multiprocessing.get_context("spawn")
    run = uuid.uuid4().hex[:8]
    path = f"/ws/live/{ROOM_SLUG}/" if scenario.system == "livemall" else "/"
    stem = f"{scenario.system}-{scenario.viewers}-{scenario.rate}" + ("-stalled" if scenario.stalled else "")
    result = Result(
        system=scenario.system,
        viewers=scenario.viewers,
        rate=scenario.rate,
        seconds=scenario.seconds,
        stalled=scenario.stalled,
        server_processes=options.processes if scenario.system == "livemall" else 1,
        load_before=load_average(),
        load_after="",
    )
    print(f"  {scenario.label}: starting (load {result.load_before})", flush=True)
    with Servers(scenario.system, options.processes, env, stem) as servers:
        workers = []
        sender = None
        reading = scenario.viewers - scenario.stalled
        per = [
            reading // options.client_procs + (1 if i < reading % options.client_procs else 0)
            for i in range(options.client_procs)
        ]
        offset = 0
        stalled_ports: list[int] = []
        try:
            for index, count in enumerate(per):
                parent_end, child_end = ctx.Pipe()
                spec = {
                    "run": run,
                    "ports": servers.ports,
                    "path": path,
                    "viewers": count,
                    "offset": offset,
                    "stalled": scenario.stalled if index == 0 else 0,
                    "deflate": options.deflate,
                }
                offset += count
                proc = ctx.Process(target=viewer_worker, args=(child_end, spec), daemon=True)
                proc.start()
                workers.append((proc, parent_end))
            for _, pipe in workers:
                ready = _recv(pipe, options.connect_timeout, "viewer process")
                result.viewers_connected += ready["ready"]
                result.viewers_failed += ready["failed"]
                stalled_ports.extend(ready["stalled_ports"])
                if ready["errors"]:
                    print(f"    viewer connect errors, e.g. {ready['errors'][0]}", flush=True)
            sender_end, child_end = ctx.Pipe()
            sender_spec = {
                "run": run,
                "ports": servers.ports,
                "path": path,
                "cookies": cookies if scenario.system == "livemall" else [""] * len(cookies),
                "rate": scenario.rate,
                "seconds": scenario.seconds,
                "warmup": options.warmup,
                "pad": scenario.pad,
            }
            sender = ctx.Process(target=sender_worker, args=(child_end, sender_spec), daemon=True)
            sender.start()
            _recv(sender_end, options.connect_timeout, "sender process")
            print(
                f"    {result.viewers_connected} viewers + {scenario.stalled} stalled + {len(cookies)} senders"
                f" connected; sending {scenario.rate}/s for {scenario.seconds:g}s",
                flush=True,
            )
            sender_end.send("go")
            _recv(sender_end, options.warmup + 30, "sender process")  # measuring starts now
            cpu0, redis0, busy0, started = servers.cpu(), redis_cpu(env["REDIS_URL"]), machine_busy(), time.time()
            result.rss_start_mb = servers.rss()
            samples = [result.rss_start_mb]
            finished = None
            while finished is None:
                if sender_end.poll(0.5):
                    finished = sender_end.recv()
                samples.append(servers.rss())
                if time.time() - started > scenario.seconds + 60:
                    raise TimeoutError("the sender did not finish")
            result.sent = finished["sent"]
            result.errors = finished["errors"]
            result.accepted = max(0, result.sent - finished["errors_measured"])
            result.expected = result.accepted * result.viewers_connected
            deadline = time.time() + options.drain
            while True:
                delivered = 0
                for _, pipe in workers:
                    pipe.send("count")
                    delivered += _recv(pipe, 30, "viewer process")["delivered"]
                samples.append(servers.rss())
                if delivered >= result.expected or time.time() >= deadline:
                    break
                time.sleep(0.25)
            cpu1, redis1, busy1 = servers.cpu(), redis_cpu(env["REDIS_URL"]), machine_busy()
            if stalled_ports:
                result.stalled_send_queue_kb = send_queues_kb(servers.ports, stalled_ports)
            result.rss_end_mb = servers.rss()
            samples.append(result.rss_end_mb)
            result.rss_peak_mb = max(samples)
            result.rss_samples_mb = [round(s, 1) for s in samples[:: max(1, len(samples) // 40)]]
            histogram: collections.Counter[int] = collections.Counter()
            per_viewer: list[int] = []
            last_us = 0
            for _, pipe in workers:
                pipe.send("stop")
                report = _recv(pipe, 60, "viewer process")
                histogram.update({int(k): v for k, v in report["latency_ms"].items()})
                per_viewer.extend(report["per_viewer"])
                result.viewers_reading_at_end += report["open_at_end"]
                result.duplicates += report["duplicates"]
                result.frames += report["frames"]
                result.client_cpu_seconds += report["cpu_seconds"]
                last_us = max(last_us, report["last_us"])
            sender_end.send("stop")
            with contextlib.suppress(TimeoutError):
                _recv(sender_end, 10, "sender process")
        finally:
            for proc, _ in workers:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
            if sender is not None:
                sender.join(timeout=10)
                if sender.is_alive():
                    sender.kill()
        if scenario.stalled:
            result.stalled_disconnected_by_server = servers.log_count("viewer not reading for")
    result.delivered = sum(per_viewer)
    result.lost = max(0, result.expected - result.delivered)
    result.loss_percent = round(100 * result.lost / result.expected, 3) if result.expected else 0.0
    result.viewers_with_everything = sum(1 for count in per_viewer if count >= result.accepted)
    span = max(scenario.seconds, last_us / 1e6 - started) if last_us else scenario.seconds
    result.delivery_span_seconds = round(span, 2)
    result.deliveries_per_second = round(result.delivered / span, 1)
    result.latency_p50_ms = percentile(histogram, 0.50)
    result.latency_p99_ms = percentile(histogram, 0.99)
    result.latency_max_ms = float(max(histogram)) if histogram else float("nan")
    result.server_cpu_seconds = round(cpu1 - cpu0, 2)
    result.server_cpu_us_per_delivery = (
        round((cpu1 - cpu0) / result.delivered * 1e6, 2) if result.delivered else float("nan")
    )
    result.redis_cpu_seconds = round(redis1 - redis0, 2)
    result.client_cpu_seconds = round(result.client_cpu_seconds, 2)
    result.machine_busy_percent = round(100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1)
    result.rss_start_mb = round(result.rss_start_mb, 1)
    result.rss_peak_mb = round(result.rss_peak_mb, 1)
    result.rss_end_mb = round(result.rss_end_mb, 1)
    result.load_after = load_average()
    return result


# --- set-up -------------------------------------------------------------------------------


def prepare(senders: int) -> list[str]:
    """The room (live) and the senders with fresh sessions in the benchmark database; returns the cookies."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections
    from django.utils import timezone

    from apps.accounts import services as accounts
    from apps.accounts.models import Merchant, User
    from apps.live import services as live
    from apps.live.models import LiveRoom
    from regions import current_region

    region = current_region()
    merchant = Merchant.objects.filter(slug="bench-live").first()
    if merchant is None:
        owner = User.objects.filter(email="bench-live-owner@livemall.example").first() or accounts.user_create(
            region=region, email="bench-live-owner@livemall.example", password=None
        )
        merchant = accounts.merchant_create(name="Bench Live", country="US", owner=owner, slug="bench-live")
    room = LiveRoom.objects.filter(slug=ROOM_SLUG).first()
    now = timezone.now()
    if room is None:
        room = live.live_room_schedule(
            region=region,
            merchant=merchant,
            slug=ROOM_SLUG,
            titles={region.default_language: "Benchmark show"},
            language=region.default_language,
            starts_at=now,
            ends_at=now + dt.timedelta(days=3650),
        )
    if room.status != LiveRoom.Status.LIVE:
        room.status = LiveRoom.Status.LIVE
        room.save(update_fields=["status"])
    cookies = []
    for number in range(1, senders + 1):
        email = f"bench-sender-{number}@livemall.example"
        user = User.objects.filter(email=email).first() or accounts.user_create(
            region=region, email=email, password=None, display_name=f"Sender {number}"
        )
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(session.session_key)
    connections.close_all()
    return cookies


def clean_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --- report -------------------------------------------------------------------------------


def add_ratios(results: list[Result]) -> None:
    bare = {(r.viewers, r.rate): r for r in results if r.system == "bare" and not r.stalled}
    for result in results:
        reference = bare.get((result.viewers, result.rate))
        if result.system == "livemall" and not result.stalled and reference and reference.server_cpu_us_per_delivery:
            result.cpu_ratio_to_bare = round(
                result.server_cpu_us_per_delivery / reference.server_cpu_us_per_delivery, 3
            )


def goals(results: list[Result], top: tuple[int, int]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    main = next((r for r in results if r.system == "livemall" and (r.viewers, r.rate) == top and not r.stalled), None)
    if main is not None:
        found[f"N={top[0]} M={top[1]}: no loss for connected viewers"] = {
            "lost": main.lost,
            "met": main.lost == 0 and main.viewers_reading_at_end == main.viewers_connected,
        }
        found[f"N={top[0]} M={top[1]}: p99 < {GOAL_P99_MS:g} ms"] = {
            "p99_ms": main.latency_p99_ms,
            "met": main.latency_p99_ms < GOAL_P99_MS,
        }
    for result in results:
        if result.cpu_ratio_to_bare is not None:
            found[f"N={result.viewers} M={result.rate}: CPU/delivery <= {GOAL_CPU_RATIO}x bare"] = {
                "ratio": result.cpu_ratio_to_bare,
                "met": result.cpu_ratio_to_bare <= GOAL_CPU_RATIO,
            }
    for result in results:
        if result.stalled:
            name = f"N={result.viewers} M={result.rate}, {result.stalled} stalled"
            found[f"{name}: every other viewer gets everything"] = {
                "viewers_with_everything": result.viewers_with_everything,
                "viewers_reading": result.viewers_connected,
                "met": result.viewers_with_everything == result.viewers_connected and result.lost == 0,
            }
            found[f"{name}: memory bounded (peak <= start + {GOAL_RSS_GROWTH_MB:g} MB)"] = {
                "rss_start_mb": result.rss_start_mb,
                "rss_peak_mb": result.rss_peak_mb,
                "rss_end_mb": result.rss_end_mb,
                "stalled_dropped_by_server": result.stalled_disconnected_by_server,
                "kernel_send_queue_kb": result.stalled_send_queue_kb,
                "met": result.rss_peak_mb - result.rss_start_mb <= GOAL_RSS_GROWTH_MB,
            }
    return found


def print_table(results: list[Result]) -> None:
    print()
    print(
        f"{'server':<9}{'N':>6}{'M':>4}{'stall':>6}{'accepted':>9}{'deliv/s':>9}{'loss %':>8}{'all-msg':>11}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'srv CPU s':>10}{'µs/deliv':>9}{'/bare':>6}"
        f"{'redis s':>8}{'cli s':>7}{'busy%':>6}{'RSS MB start/peak/end':>23}"
    )
    for r in results:
        ratio = f"{r.cpu_ratio_to_bare:.2f}" if r.cpu_ratio_to_bare is not None else "-"
        everyone = f"{r.viewers_with_everything}/{r.viewers_connected}"
        rss = f"{r.rss_start_mb:.0f}/{r.rss_peak_mb:.0f}/{r.rss_end_mb:.0f}"
        print(
            f"{r.system:<9}{r.viewers:>6}{r.rate:>4}{r.stalled:>6}{r.accepted:>9}{r.deliveries_per_second:>9.0f}"
            f"{r.loss_percent:>8.2f}{everyone:>11}{r.latency_p50_ms:>8.0f}{r.latency_p99_ms:>8.0f}"
            f"{r.latency_max_ms:>8.0f}{r.server_cpu_seconds:>10.2f}{r.server_cpu_us_per_delivery:>9.2f}{ratio:>6}"
            f"{r.redis_cpu_seconds:>8.2f}{r.client_cpu_seconds:>7.1f}{r.machine_busy_percent:>6.0f}{rss:>23}"
        )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench live_fanout", description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", default="1000,2000", help="comma-separated N (viewer sockets)")
    parser.add_argument("--rates", default="20,50", help="comma-separated M (danmaku/s in total)")
    parser.add_argument("--seconds", type=float, default=10.0, help="sending time per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="sending before the measured seconds")
    parser.add_argument("--drain", type=float, default=10.0, help="at most this long for the last deliveries")
    parser.add_argument("--senders", type=int, default=5, help="signed-in sender sockets")
    parser.add_argument("--processes", type=int, default=2, help="uvicorn processes (one port each)")
    parser.add_argument("--client-procs", type=int, default=2, help="viewer client processes")
    parser.add_argument("--systems", default="livemall,bare", help="livemall, bare or both")
    parser.add_argument("--stalled", type=int, default=5, help="viewers that never read (0: skip that run)")
    parser.add_argument(
        "--stall-runs",
        default="2000:50:30:40,200:400:60:160",
        help="runs with stalled viewers, comma-separated N:M:seconds:characters added to each text",
    )
    parser.add_argument("--deflate", action="store_true", help="viewers offer permessage-deflate, as browsers do")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="smoke run: N=200, M=20, 3 s, a 10 s stalled run")
    parser.add_argument("--output", type=Path, default=ARTIFACTS / "bench_live_fanout.json")
    options = parser.parse_args(argv)
    if options.quick:
        options.viewers, options.rates, options.seconds, options.drain = "200", "20", 3.0, 5.0
        options.stall_runs = "200:20:10:40"
    options.viewer_counts = [int(v) for v in str(options.viewers).split(",") if v.strip()]
    options.rate_list = [int(v) for v in str(options.rates).split(",") if v.strip()]
    try:
        options.stall_list = [
            (int(n), int(m), float(sec), int(pad))
            for n, m, sec, pad in (run.split(":") for run in options.stall_runs.split(",") if run.strip())
        ]
    except ValueError:
        parser.error("--stall-runs: N:M:seconds:pad, comma-separated")
    options.system_list = [s.strip() for s in options.systems.split(",") if s.strip()]
    if set(options.system_list) - {"livemall", "bare"}:
        parser.error("--systems: livemall and/or bare")
    if (
        max([*options.viewer_counts, *(run[0] for run in options.stall_list)]) > 5000
        or max([*options.rate_list, *(run[1] for run in options.stall_list)]) > 500
    ):
        parser.error("stay bounded: at most 5000 viewers and 500 messages/s")
    if options.seconds > 120 or any(run[2] > 120 or run[3] > 160 for run in options.stall_list) or options.drain > 60:
        parser.error("stay bounded: --seconds and stalled runs <= 120 s, --drain <= 60, at most 160 characters added")
    return options


def main(argv: list[str]) -> int:
    options = parse(argv)
    if not Path("/proc/self/stat").exists():
        raise RuntimeError("this benchmark reads CPU and memory from /proc and needs Linux")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    prefix = f"bench-fanout-{uuid.uuid4().hex[:10]}"
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", BENCH_DB)
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", BENCH_REDIS)
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ.setdefault("REGION", "us-east")
    os.environ["DJANGO_SETTINGS_MODULE"] = "livemall.settings"
    migrate()
    cookies = prepare(options.senders)
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": SETTINGS_MODULE, "LIVE_REDIS_PREFIX": prefix, "PYTHONUNBUFFERED": "1"})
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {uptime_before}", flush=True)

    scenarios = [
        Scenario(system, viewers, rate, options.seconds)
        for viewers in options.viewer_counts
        for rate in options.rate_list
        for system in options.system_list
    ]
    if options.stalled and "livemall" in options.system_list:
        scenarios.extend(
            Scenario("livemall", n, m, seconds, stalled=options.stalled, pad=pad)
            for n, m, seconds, pad in options.stall_list
        )
    results: list[Result] = []
    try:
        for scenario in scenarios:
            results.append(run_scenario(scenario, options, env, cookies))
            r = results[-1]
            print(
                f"    accepted {r.accepted}, delivered {r.delivered}/{r.expected} ({r.loss_percent}% lost),"
                f" p50 {r.latency_p50_ms:.0f} ms, p99 {r.latency_p99_ms:.0f} ms,"
                f" server {r.server_cpu_us_per_delivery} µs CPU/delivery",
                flush=True,
            )
            if r.stalled:
                print(
                    f"    stalled: {r.stalled_disconnected_by_server} dropped by the server; kernel send queues"
                    f" {r.stalled_send_queue_kb} KB; server RSS {r.rss_start_mb} -> peak {r.rss_peak_mb}"
                    f" -> {r.rss_end_mb} MB",
                    flush=True,
                )
    finally:
        clean_redis(env["REDIS_URL"], prefix)
    add_ratios(results)
    top = (max(options.viewer_counts), max(options.rate_list))
    found = goals(results, top)
    print_table(results)
    print()
    for name, goal in found.items():
        print(
            f"  {'met' if goal['met'] else 'NOT met'}: {name} ({', '.join(f'{k}={v}' for k, v in goal.items() if k != 'met')})"
        )
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {uptime_after}")
    report = {
        "benchmark": "live_fanout",
        "command": "python -m tests.bench live_fanout" + (" -- " + " ".join(argv) if argv else ""),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "uptime_before": uptime_before,
        "uptime_after": uptime_after,
        "machine": machine(),
        "versions": versions(),
        "setup": {
            "livemall": f"uvicorn livemall.asgi:application {' '.join(UVICORN_ARGS)}, {options.processes} processes"
            f" on {options.processes} ports, Redis pub/sub between them, DJANGO_SETTINGS_MODULE={SETTINGS_MODULE}"
            " (danmaku rate limit 1000/s per user, socket frame limit 1000/s)",
            "bare": "websockets.asyncio.server.serve + websockets.broadcast, one frame per message, one process, uvloop",
            "client": f"{options.client_procs} viewer processes + 1 sender process (websockets asyncio client, uvloop);"
            f" permessage-deflate {'offered' if options.deflate else 'not offered'}",
            "database": os.environ["DATABASE_URL"].rsplit("/", 1)[-1],
            "redis": os.environ["REDIS_URL"],
        },
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "results": [asdict(r) for r in results],
        "goals": found,
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {options.output} ({report['duration_seconds']}s)")
    return 0

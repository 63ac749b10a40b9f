"""Which ASGI server should carry LiveMall: uvicorn or daphne? Measured, not guessed.

Each server runs ``livemall.asgi:application`` as a real subprocess on 127.0.0.1 against
the configured PostgreSQL and Redis (``DJANGO_ENV=test``). For each one we measure

* HTTP: requests/s and p50/p99 latency of ``GET /healthz`` at 32 keep-alive connections
  (``wrk`` when installed, otherwise a small asyncio client here), and the server's CPU
  per 1,000 requests;
* WebSocket through Channels: N sockets on ``/ws/ping/`` each doing M ping/pong round
  trips; delivered pongs per second and the server process's CPU seconds (utime + stime
  from ``/proc/<pid>/stat``, all threads) per 1,000 delivered pongs. The client offers no
  compression in the "plain" run, so both servers put the same bytes on the wire; the
  "deflate" run offers permessage-deflate as browsers do, and each server does what it
  does by default with that offer (uvicorn accepts it, daphne declines it).

Both servers run one process with access logs off. The socket client is this process,
so the messages/s figure is bounded by the client as much as by the server; the CPU per
message is read from the server process alone and is the figure that decides.
Results: a table on stdout and ``tests/artifacts/bench_asgi_servers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PING = json.dumps({"type": "ping"})

# The reference the others are compared with: what the Makefile and deploy/entrypoints/web.sh run.
REFERENCE = "uvicorn"


@dataclass(frozen=True)
class Server:
    name: str
    args: tuple[str, ...]  # after ``python -m``; ``{port}`` is filled in
    description: str


SERVERS: dict[str, Server] = {
    server.name: server
    for server in (
        Server(
            "uvicorn",
            (
                "uvicorn",
                "livemall.asgi:application",
                "--host",
                HOST,
                "--port",
                "{port}",
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ),
            "uvicorn --ws websockets-sansio (as in the Makefile and web.sh)",
        ),
        Server(
            "uvicorn-legacy",
            (
                "uvicorn",
                "livemall.asgi:application",
                "--host",
                HOST,
                "--port",
                "{port}",
                "--ws",
                "websockets",
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ),
            "uvicorn --ws websockets (legacy implementation, deprecated by uvicorn)",
        ),
        Server(
            "daphne",
            ("daphne", "-b", HOST, "-p", "{port}", "-v", "0", "livemall.asgi:application"),
            "daphne (Twisted + autobahn)",
        ),
    )
}


# --- the server process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, all its threads included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses; the fields after the last ')' do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _die_with_parent() -> None:
    # A benchmark killed mid-run must not leave a server holding a port and CPU.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_ENV", "test")
    env.setdefault("REGION", "us-east")
    env["DJANGO_SETTINGS_MODULE"] = "livemall.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class RunningServer:
    def __init__(self, server: Server, log_path: Path) -> None:
        self.server = server
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> RunningServer:
        argv = [sys.executable, "-m", *(arg.format(port=self.port) for arg in self.server.args)]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self._wait_until_serving(timeout=30.0)
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _ = http_get(self.port, "/healthz")
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                return
            raise RuntimeError(f"{self.server.name}: /healthz answered {status}; see {self.log_path}")
        raise RuntimeError(f"{self.server.name} did not answer /healthz within {timeout:.0f}s; see {self.log_path}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def http_get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection((HOST, port), timeout=2) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# --- HTTP load ------------------------------------------------------------------------


@dataclass
class HttpResult:
    tool: str
    connections: int
    seconds: float
    requests: int
    errors: int
    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    server_cpu_seconds: float
    server_cpu_ms_per_1k_requests: float


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _WRK_UNITS[unit]


def http_load_wrk(port: int, connections: int, seconds: float) -> tuple[int, int, float, float, float, float]:
    """Run wrk; returns (requests, errors, elapsed s, requests/s, p50 ms, p99 ms)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            f"http://{HOST}:{port}/healthz",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    requests, elapsed = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out).group(1, 2)
    unit = re.search(r"\d+ requests in [\d.]+(ms|s|m)", out).group(1)
    elapsed_s = _wrk_ms(elapsed + unit) / 1000.0
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in match.groups())
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return int(requests), errors, elapsed_s, rps, p50, p99


async def _http_client(port: int, deadline: float, latencies: list[float], errors: list[int]) -> None:
    request = f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


def http_load_python(port: int, connections: int, seconds: float) -> tuple[int, int, float, float, float, float]:
    """The same load as wrk with asyncio streams, for machines without wrk (the client costs more CPU)."""
    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_http_client(port, deadline, latencies, errors) for _ in range(connections)))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return len(ordered), len(errors), elapsed, len(ordered) / elapsed, p50, p99


def http_load(running: RunningServer, connections: int, seconds: float, warmup: float) -> HttpResult:
    tool = "wrk" if shutil.which("wrk") else "python-asyncio"
    load = http_load_wrk if tool == "wrk" else http_load_python
    load(running.port, connections, warmup)
    cpu_before = cpu_seconds(running.pid)
    requests, errors, elapsed, rps, p50, p99 = load(running.port, connections, seconds)
    cpu = cpu_seconds(running.pid) - cpu_before
    return HttpResult(
        tool=tool,
        connections=connections,
        seconds=round(elapsed, 2),
        requests=requests,
        errors=errors,
        requests_per_second=round(rps, 1),
        latency_p50_ms=round(p50, 2),
        latency_p99_ms=round(p99, 2),
        server_cpu_seconds=round(cpu, 2),
        server_cpu_ms_per_1k_requests=round(cpu / requests * 1_000_000, 1) if requests else float("nan"),
    )


# --- WebSocket load -------------------------------------------------------------------


@dataclass
class WsResult:
    variant: str  # "plain" or "deflate"
    connections: int
    pings_per_connection: int
    negotiated_extensions: str
    connect_seconds: float
    server_cpu_ms_per_connect: float
    messages: int  # delivered pongs
    errors: int
    seconds: float
    messages_per_second: float
    server_cpu_seconds: float
    server_cpu_seconds_per_1k_messages: float
    client_cpu_seconds: float


def _client_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _ws_round(
    running: RunningServer, connections: int, pings: int, deflate: bool, timeout: float
) -> tuple[WsResult, list[ClientConnection]]:
    url = f"ws://{HOST}:{running.port}/ws/ping/"
    origin = f"http://{HOST}:{running.port}"  # AllowedHostsOriginValidator checks it against ALLOWED_HOSTS
    opening = asyncio.Semaphore(50)  # stay under the listen backlog of either server

    async def open_socket() -> ClientConnection:
        async with opening:
            ws = await connect(
                url,
                origin=origin,
                compression="deflate" if deflate else None,
                ping_interval=None,
                open_timeout=15,
                close_timeout=2,
            )
            hello = json.loads(await ws.recv())
            if hello.get("type") != "hello":
                raise RuntimeError(f"expected hello, got {hello!r}")
            return ws

    async def ping_pong(ws: ClientConnection) -> tuple[int, int]:
        delivered = errors = 0
        for _ in range(pings):
            await ws.send(PING)
            reply = json.loads(await ws.recv())
            if reply == {"type": "pong"}:
                delivered += 1
            else:
                errors += 1
        return delivered, errors

    sockets: list[ClientConnection] = []
    try:
        cpu0, t0 = cpu_seconds(running.pid), time.perf_counter()
        sockets = list(await asyncio.wait_for(asyncio.gather(*(open_socket() for _ in range(connections))), timeout))
        cpu1, t1, client0 = cpu_seconds(running.pid), time.perf_counter(), _client_cpu()
        outcomes = await asyncio.wait_for(asyncio.gather(*(ping_pong(ws) for ws in sockets)), timeout)
        cpu2, t2, client1 = cpu_seconds(running.pid), time.perf_counter(), _client_cpu()
    except BaseException:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        raise

    messages = sum(delivered for delivered, _ in outcomes)
    server_cpu = cpu2 - cpu1
    extensions = sockets[0].response.headers.get("Sec-WebSocket-Extensions", "") if sockets else ""
    result = WsResult(
        variant="deflate" if deflate else "plain",
        connections=connections,
        pings_per_connection=pings,
        negotiated_extensions=extensions or "none",
        connect_seconds=round(t1 - t0, 2),
        server_cpu_ms_per_connect=round((cpu1 - cpu0) / connections * 1000, 2),
        messages=messages,
        errors=sum(errors for _, errors in outcomes),
        seconds=round(t2 - t1, 2),
        messages_per_second=round(messages / (t2 - t1), 1),
        server_cpu_seconds=round(server_cpu, 2),
        server_cpu_seconds_per_1k_messages=round(server_cpu / messages * 1000, 4) if messages else float("nan"),
        client_cpu_seconds=round(client1 - client0, 2),
    )
    return result, sockets


async def ws_load(running: RunningServer, connections: int, pings: int, deflate: bool, timeout: float) -> WsResult:
    result, sockets = await _ws_round(running, connections, pings, deflate, timeout)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return result


async def ws_warmup(running: RunningServer) -> None:
    # The first sockets import the consumer stack and open the Redis channel layer; keep that out of the figures.
    await ws_load(running, connections=20, pings=20, deflate=False, timeout=30)


# --- one server, all measurements -----------------------------------------------------


@dataclass
class ServerRun:
    server: str
    description: str
    round: int
    http: HttpResult
    ws: list[WsResult] = field(default_factory=list)


def measure(server: Server, round_number: int, options: argparse.Namespace) -> ServerRun:
    log_path = ARTIFACTS / f"bench_asgi_servers.{server.name}.log"
    with RunningServer(server, log_path) as running:
        http = http_load(running, options.http_connections, options.http_seconds, options.http_warmup)
        run = ServerRun(server=server.name, description=server.description, round=round_number, http=http)
        asyncio.run(ws_warmup(running))
        for deflate in (False, True) if options.deflate else (False,):
            run.ws.append(
                asyncio.run(ws_load(running, options.connections, options.pings, deflate, options.ws_timeout))
            )
    return run


# --- set-up, report -------------------------------------------------------------------


def migrate() -> None:
    """Create the benchmark database when missing, then bring its schema up to date (the app needs its tables)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(url)
        name = params.get("dbname")
        with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as conn:
            if name and not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env(),
        check=True,
        timeout=300,
    )


def versions() -> dict[str, str]:
    found = {}
    for package in ("uvicorn", "daphne", "twisted", "autobahn", "websockets", "channels", "channels-redis", "django"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    if wrk := shutil.which("wrk"):
        found["wrk"] = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    return found


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def summarise(runs: list[ServerRun]) -> dict[str, dict[str, float]]:
    """Median over rounds of each server's deciding figures."""
    summary: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(run.server for run in runs):
        mine = [run for run in runs if run.server == name]
        figures = {
            "http_requests_per_second": statistics.median(run.http.requests_per_second for run in mine),
            "http_p50_ms": statistics.median(run.http.latency_p50_ms for run in mine),
            "http_p99_ms": statistics.median(run.http.latency_p99_ms for run in mine),
            "http_server_cpu_ms_per_1k_requests": statistics.median(
                run.http.server_cpu_ms_per_1k_requests for run in mine
            ),
        }
        for variant in dict.fromkeys(ws.variant for run in mine for ws in run.ws):
            results = [ws for run in mine for ws in run.ws if ws.variant == variant]
            figures[f"ws_{variant}_messages_per_second"] = statistics.median(ws.messages_per_second for ws in results)
            figures[f"ws_{variant}_server_cpu_s_per_1k_messages"] = statistics.median(
                ws.server_cpu_seconds_per_1k_messages for ws in results
            )
            figures[f"ws_{variant}_server_cpu_ms_per_connect"] = statistics.median(
                ws.server_cpu_ms_per_connect for ws in results
            )
        summary[name] = {key: round(value, 4) for key, value in figures.items()}
    return summary


def ratios(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each server's CPU per message (and per request) divided by the reference uvicorn's: above 1 costs more."""
    if REFERENCE not in summary:
        return {}
    reference = summary[REFERENCE]
    found = {}
    for name, figures in summary.items():
        if name == REFERENCE:
            continue
        for key in figures:
            if ("cpu" in key or key.endswith("per_connect")) and reference.get(key):
                found[f"{name}/{REFERENCE} {key}"] = round(figures[key] / reference[key], 2)
    return found


def print_table(runs: list[ServerRun], summary: dict[str, dict[str, float]], found: dict[str, float]) -> None:
    print()
    print(
        f"{'server':<14}{'rnd':>4}{'HTTP req/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms/1k req':>15}"
        f"{'ws':>9}{'ext':>8}{'msg/s':>9}{'cpu s/1k msg':>14}{'cpu ms/conn':>13}{'err':>5}"
    )
    for run in runs:
        for index, ws in enumerate(run.ws):
            http = run.http
            left = (
                f"{run.server:<14}{run.round:>4}{http.requests_per_second:>12.0f}{http.latency_p50_ms:>9.2f}"
                f"{http.latency_p99_ms:>9.2f}{http.server_cpu_ms_per_1k_requests:>15.1f}"
                if index == 0
                else " " * 63
            )
            extension = "deflate" if "deflate" in ws.negotiated_extensions else "none"
            print(
                f"{left}{ws.variant:>9}{extension:>8}{ws.messages_per_second:>9.0f}"
                f"{ws.server_cpu_seconds_per_1k_messages:>14.3f}{ws.server_cpu_ms_per_connect:>13.2f}"
                f"{ws.errors + http.errors:>5}"
            )
    print()
    print("median over rounds:")
    for name, figures in summary.items():
        print(f"  {name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))
    if found:
        print("ratios (other / uvicorn --ws websockets-sansio; > 1 means the other costs more):")
        for key, value in found.items():
            print(f"  {key}: {value}")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench asgi_servers", description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, of {', '.join(SERVERS)}")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all servers, order reversed each round")
    parser.add_argument("--http-connections", type=int, default=32)
    parser.add_argument("--http-seconds", type=float, default=8.0)
    parser.add_argument("--http-warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=200, help="WebSockets open at once")
    parser.add_argument("--pings", type=int, default=50, help="ping/pong round trips per WebSocket")
    parser.add_argument("--ws-timeout", type=float, default=60.0, help="bound on each WebSocket phase, seconds")
    parser.add_argument("--no-deflate", dest="deflate", action="store_false", help="skip the permessage-deflate run")
    parser.add_argument("--output", type=Path, default=ARTIFACTS / "bench_asgi_servers.json")
    options = parser.parse_args(argv)
    options.servers = [name.strip() for name in options.servers.split(",") if name.strip()]
    if unknown := [name for name in options.servers if name not in SERVERS]:
        parser.error(f"unknown server(s) {', '.join(unknown)}; valid: {', '.join(SERVERS)}")
    if options.connections * options.pings > 100_000 or options.http_seconds > 60 or options.rounds > 5:
        parser.error("benchmarks stay bounded: connections x pings <= 100000, --http-seconds <= 60, --rounds <= 5")
    return options


def main(argv: list[str]) -> None:
    options = parse(argv)
    if not Path("/proc/self/stat").exists():
        raise RuntimeError("this benchmark reads server CPU from /proc and needs Linux")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            print(f"warning: {name} is not set; the servers run on the embedded default, not the production stack")
    migrate()

    runs: list[ServerRun] = []
    for round_number in range(1, options.rounds + 1):
        # Alternate the order so that drift in the machine's load does not always favour the same server.
        order = options.servers if round_number % 2 else list(reversed(options.servers))
        for name in order:
            print(f"round {round_number}: {SERVERS[name].description} ...", flush=True)
            runs.append(measure(SERVERS[name], round_number, options))

    summary = summarise(runs)
    found = ratios(summary)
    print_table(runs, summary, found)
    report = {
        "benchmark": "asgi_servers",
        "command": "python -m tests.bench asgi_servers" + (" -- " + " ".join(argv) if argv else ""),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "versions": versions(),
        "environment": {
            "DJANGO_ENV": server_env()["DJANGO_ENV"],
            "REGION": server_env()["REGION"],
            "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
            "channel_layer": "redis pub/sub" if os.environ.get("REDIS_URL") else "in-memory",
        },
        "servers": {
            name: {"description": SERVERS[name].description, "argv": SERVERS[name].args} for name in options.servers
        },
        "options": {key: str(value) if isinstance(value, Path) else value for key, value in vars(options).items()},
        "runs": [asdict(run) for run in runs],
        "summary": summary,
        "ratios_to_uvicorn": found,
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {options.output} ({report['duration_seconds']}s); websockets {websockets.__version__}")

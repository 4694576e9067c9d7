"""Benchmark sketch against aiohttp, uvicorn and the limit, side by side, in one run.

    python benchmarks/bench.py --rounds 5 --duration 5     (or: invoke bench)

Four servers: sketch (the reference), aiohttp, uvicorn, and "the limit", a bare asyncio
Protocol on httptools that starts one Task per request and writes a fixed response
(benchmarks/apps/bare_protocol.py): what no framework on the same loop and parser can beat.
Every ratio is sketch's requests/s divided by another server's, in the same run.

With `--compare REV_OR_DIR`, a second sketch (another revision's final reference, or a
folder holding a sketch/) is measured beside this one in the same interleaved run, and the
ratios gain a column against it: how a change to the reference is judged.

Every server but the limit runs the same app (benchmarks/apps/): plain-text `GET /`,
`GET /users/{name}` and `POST /echo` with a 1 KiB JSON body, all through one middleware. Each
endpoint is measured at every level of `--connections` (50 and 1,000 by default: latency
under a light and a heavy crowd). The servers run at the same time, pinned to one core, and
are measured in turn, round after round, so a noisy moment hurts them alike; the load
generator (wrk when it is on PATH, else loadgen.py) runs on another core. Servers only listen
on 127.0.0.1 and are killed, process group and all, at the end.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from workshop import files, manifest
from workshop.server import ServerProcess

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
LOADGEN = HERE / "loadgen.py"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: bytes = b""


def json_body(size: int = 1024) -> bytes:
    """A JSON object of exactly SIZE bytes: a list of small records, padded by a note."""
    records = [{"id": i, "name": f"user{i}", "active": i % 2 == 0} for i in range(20)]
    data = {"records": records, "note": ""}
    data["note"] = "x" * (size - len(json.dumps(data).encode()))
    body = json.dumps(data).encode()
    assert len(body) == size, len(body)
    return body


ENDPOINTS = (
    Endpoint("GET /", "GET", "/"),
    Endpoint("GET /users/{name}", "GET", "/users/ada"),
    Endpoint("POST /echo (1 KiB JSON)", "POST", "/echo", json_body()),
)
SERVER_NAMES = ("sketch", "aiohttp", "uvicorn", "limit")
ALL_SERVERS = ",".join(SERVER_NAMES)


# --- servers ----------------------------------------------------------------------------


@dataclass
class Server:
    """A server of the benchmark, run as `python ARGUMENTS` in FOLDER, with FOLDER and PATH
    on PYTHONPATH; it prints `Serving on http://HOST:PORT` once it accepts connections."""

    name: str
    note: str
    folder: Path
    arguments: list[str]  # after `python`: ["-m", "sketch", ...] or ["script.py", ...]
    path: list[Path] = field(default_factory=list)

    def process(self, wrapper: Sequence[str] = ()) -> ServerProcess:
        """The process, not started yet; WRAPPER goes between `python` and the arguments
        (a script that runs the server under a profiler)."""
        process = ServerProcess(self.folder, extra_path=self.path)
        process.command = [sys.executable, *wrapper, *self.arguments]
        return process

    def start(self) -> ServerProcess:
        return self.process().start(timeout=15)


LISTEN = ["--host", "127.0.0.1", "--port", "0"]


def sketch_server(sketch_dir: Path, name: str = "sketch") -> Server:
    note = f"python -m sketch in {sketch_dir.name}, asyncio loop"
    return Server(name, note, sketch_dir, ["-m", "sketch", *LISTEN, "sketch_app:app"], [APPS])


def script_server(name: str, script: str, note: str) -> Server:
    """A server started as `python apps/SCRIPT --port 0`."""
    return Server(name, note, APPS, [script, *LISTEN])


def compared_sketch(spec: str, into: Path) -> tuple[Path, str]:
    """The folder holding the sketch/ that SPEC names, and a name for it in the table.

    SPEC is a folder holding sketch/ (a stage folder, solutions/NN_name), or a git revision
    of this repository: its last stage's reference is copied out into INTO.
    """
    folder = Path(spec)
    if (folder / "sketch" / "__init__.py").is_file():
        return folder.resolve(), f"sketch ({folder.name})"

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", *args], cwd=manifest.ROOT, capture_output=True, timeout=60, check=False
        )

    listing = git("show", f"{spec}:{manifest.MANIFEST}")
    if listing.returncode != 0:
        said = listing.stderr.decode(errors="replace").strip()
        raise SystemExit(
            f"--compare {spec}: neither a folder holding sketch/ nor a revision: {said}"
        )
    final = manifest.parse(listing.stdout.decode())[-1].id
    archive = git("archive", "--format=tar", spec, f"solutions/{final}/sketch")
    if archive.returncode != 0:
        raise SystemExit(f"--compare {spec}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # Our own repository's files; the "data" filter where this Python has it (3.10.12+).
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    short = git("rev-parse", "--short", spec).stdout.decode().strip() or spec
    return into / "solutions" / final, f"sketch@{short}"


def available_servers(
    sketch_dir: Path, wanted: Sequence[str], compare: tuple[Path, str] | None = None
) -> tuple[list[Server], list[str]]:
    """The servers to measure, and why any wanted one was left out."""
    servers, missing = [], []
    if "sketch" in wanted:
        servers.append(sketch_server(sketch_dir))
    if compare is not None:
        servers.append(sketch_server(*compare))
    if "aiohttp" in wanted:
        if find_spec("aiohttp"):
            servers.append(script_server("aiohttp", "aiohttp_app.py", "aiohttp.web, asyncio"))
        else:
            missing.append("aiohttp (pip install -e '.[bench]')")
    if "uvicorn" in wanted:
        if find_spec("uvicorn") and find_spec("httptools"):
            note = "bare ASGI app, --loop asyncio --http httptools"
            servers.append(script_server("uvicorn", "asgi_app.py", note))
        else:
            missing.append("uvicorn (pip install -e '.[bench]')")
    if "limit" in wanted:
        note = "bare asyncio Protocol on httptools, a Task per request, a fixed response"
        servers.append(script_server("limit", "bare_protocol.py", note))
    return servers, missing


def one_server(sketch_dir: Path, name: str) -> Server:
    """The server NAME (sketch, aiohttp, uvicorn or limit), or exit saying why not."""
    servers, missing = available_servers(sketch_dir, [name])
    if not servers:
        raise SystemExit(f"--server {name}: not available: {', '.join(missing)}")
    return servers[0]


# --- cores --------------------------------------------------------------------------------


def pick_cores() -> tuple[set[int] | None, set[int] | None, str]:
    """A core for the servers and another for the load generator, where the OS allows."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None, "not pinned (this OS has no sched_setaffinity)"
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None, "not pinned (only one core available)"
    return {cores[0]}, {cores[1]}, f"servers on core {cores[0]}, load generator on core {cores[1]}"


def pin(pid: int, cores: set[int] | None) -> None:
    """Pin every thread of process PID to CORES."""
    if cores is None:
        return
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            os.sched_setaffinity(int(task.name), cores)
        except OSError:
            pass


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) process PID has used so far, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(before: float | None, after: float | None, requests: float) -> float | None:
    """Microseconds of server CPU per request: steadier than requests/s on a busy machine,
    where the server waits for a core as much as for work."""
    if before is None or after is None or requests <= 0:
        return None
    return (after - before) * 1e6 / requests


def resident_mib(pid: int) -> float | None:
    """The resident memory (RSS) of process PID: from /proc on Linux, else from `ps`."""
    try:
        found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        try:  # macOS and the BSDs: ps prints the RSS in KiB
            kib = subprocess.run(
                ["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
        return int(kib) / 1024 if kib.isdigit() else None
    return int(found[1]) / 1024 if found else None


# --- load generators ----------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    connections: int  # keep-alive connections open at once
    duration: float  # seconds


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int  # answered in the run
    cpu_us: float | None = None  # the server's CPU time per request, where /proc tells it


class Wrk:
    name = "wrk"
    limits = "wrk (C, one thread); latency percentiles from wrk --latency"

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.scripts = Path(tempfile.mkdtemp(prefix="sketch-bench-"))

    def run(self, port: int, endpoint: Endpoint, load: Load, cores) -> Sample:
        # wrk counts time in whole seconds.
        seconds = max(1, round(load.duration))
        command = [self.executable, "-t1", f"-c{load.connections}", f"-d{seconds}s"]
        command += ["--latency", "--timeout", "2s"]
        if endpoint.body:
            script = self.scripts / "post.lua"
            script.write_text(
                f'wrk.method = "POST"\nwrk.body = {json.dumps(endpoint.body.decode())}\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            command += ["-s", str(script)]
        command.append(f"http://127.0.0.1:{port}{endpoint.path}")
        text = run_bounded(command, seconds + 15, cores)
        return parse_wrk(text)

    def close(self) -> None:
        shutil.rmtree(self.scripts, ignore_errors=True)


def parse_wrk(text: str) -> Sample:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not rps:
        raise RuntimeError(f"wrk printed no result:\n{text}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(non2xx[1]) if non2xx else 0
    done = re.search(r"(\d+) requests in", text)
    requests = int(done[1]) if done else 0
    return Sample(float(rps[1]), wrk_ms(text, "50%"), wrk_ms(text, "99%"), errors, requests)


def wrk_ms(text: str, percent: str) -> float:
    found = re.search(rf"^\s+{re.escape(percent)}\s+([\d.]+)(us|ms|s)\b", text, re.M)
    if not found:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found[2]]
    return float(found[1]) * scale


class BuiltIn:
    name = "built-in"

    def __init__(self, pipeline: int) -> None:
        self.pipeline = pipeline
        self.bodies = Path(tempfile.mkdtemp(prefix="sketch-bench-"))
        self.limits = (
            "built-in generator (benchmarks/loadgen.py): one Python process on asyncio, "
            "Content-Length responses only; it can saturate before a fast server does, "
            "so the ratios it gives are lower bounds"
            + (f"; pipelining {pipeline} requests" if pipeline > 1 else "")
        )

    def run(self, port: int, endpoint: Endpoint, load: Load, cores) -> Sample:
        command = [sys.executable, str(LOADGEN), "--port", str(port)]
        command += ["--method", endpoint.method, "--path", endpoint.path]
        command += ["--connections", str(load.connections), "--duration", str(load.duration)]
        command += ["--pipeline", str(self.pipeline)]
        if endpoint.body:
            body = self.bodies / "body.json"
            body.write_bytes(endpoint.body)
            command += ["--body-file", str(body)]
        text = run_bounded(command, load.duration + 15, cores)
        result = json.loads(text.strip().splitlines()[-1])
        return Sample(
            result["rps"], result["p50_ms"], result["p99_ms"], result["errors"], result["requests"]
        )

    def close(self) -> None:
        shutil.rmtree(self.bodies, ignore_errors=True)


def run_bounded(command: list[str], timeout: float, cores: set[int] | None) -> str:
    """Run COMMAND pinned to CORES, at most TIMEOUT seconds; its stdout."""
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout)[-2000:]
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{said}")
    return done.stdout


def pick_generator(choice: str, pipeline: int):
    wrk = shutil.which("wrk")
    if choice == "wrk" and not wrk:
        raise SystemExit("--generator wrk: wrk is not on PATH (apt-get install wrk)")
    if wrk and choice in ("wrk", "auto") and pipeline <= 1:
        return Wrk(wrk)
    return BuiltIn(pipeline)


# --- the run ------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    endpoint: str
    connections: int
    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)

    def cpu_samples(self) -> list[float]:
        return [s.cpu_us for s in self.samples if s.cpu_us]

    def summary(self) -> dict:
        rates = [s.rps for s in self.samples]
        return {
            "server": self.server,
            "endpoint": self.endpoint,
            "connections": self.connections,
            "rps_median": round(self.median("rps"), 1),
            "rps_min": round(min(rates), 1),
            "rps_max": round(max(rates), 1),
            "p50_ms": round(self.median("p50_ms"), 3),
            "p99_ms": round(self.median("p99_ms"), 3),
            "cpu_us": round(statistics.median(cpus), 1) if (cpus := self.cpu_samples()) else None,
            "errors": sum(s.errors for s in self.samples),
            "rounds": [vars(s) for s in self.samples],
        }


def measure(args: argparse.Namespace, sketch_dir: Path, say: Callable[[str], None] = print) -> dict:
    """Run the benchmark described by ARGS; the results, as a JSON-able dict."""
    with tempfile.TemporaryDirectory(prefix="sketch-compare-") as tmp:
        compare = compared_sketch(args.compare, Path(tmp)) if args.compare else None
        return _measure(args, sketch_dir, compare, say)


def _measure(
    args: argparse.Namespace,
    sketch_dir: Path,
    compare: tuple[Path, str] | None,
    say: Callable[[str], None],
) -> dict:
    servers, missing = available_servers(sketch_dir, args.servers.split(","), compare)
    for why in missing:
        say(f"skipped: {why}")
    levels = args.connections
    # Each server and load generator holds every connection (macOS allows 256 files at first);
    # children inherit the limit.
    files.need_open_files(max(levels))
    server_cores, load_cores, pinning = pick_cores()
    generator = pick_generator(args.generator, args.pipeline)
    endpoints = [e for e in ENDPOINTS if not args.endpoints or e.path in args.endpoints]
    say(f"load: {generator.limits}")
    say(
        f"{' and '.join(map(str, levels))} keep-alive connections, {args.duration:g} s per "
        f"run, {args.rounds} rounds; {pinning}"
    )
    started: dict[str, ServerProcess] = {}
    results = {
        (s.name, e.name, c): Result(s.name, e.name, c)
        for c in levels
        for e in endpoints
        for s in servers
    }
    memory: dict[str, dict] = {}
    try:
        for server in servers:
            process = server.start()
            started[server.name] = process
            pin(process.proc.pid, server_cores)
        warmup = Load(levels[0], min(1.0, args.duration))
        for name, process in started.items():  # warm up, then note the memory in use
            generator.run(process.port, endpoints[0], warmup, load_cores)
            memory[name] = {"before_mib": resident_mib(process.proc.pid)}
        for round_number in range(args.rounds):
            order = rotate(list(started), round_number)  # nobody always goes first
            for connections in levels:
                load = Load(connections, args.duration)
                for endpoint in endpoints:
                    for name in order:
                        sample = measure_one(
                            started[name], name, generator, endpoint, load, load_cores
                        )
                        results[name, endpoint.name, connections].samples.append(sample)
                        say(
                            f"round {round_number + 1}  {name:8} {endpoint.name:26} "
                            f"c={connections:<5} {sample.rps:9.0f} req/s  "
                            f"p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
                            f"errors {sample.errors}"
                            + (f"  CPU {sample.cpu_us:.0f} µs/req" if sample.cpu_us else "")
                        )
        for name, process in started.items():
            memory[name]["after_mib"] = resident_mib(process.proc.pid)
    finally:
        for process in started.values():
            process.kill()
        generator.close()
    rows = [r.summary() for r in results.values() if r.samples]
    others = [s.name for s in servers if s.name != "sketch"]
    return {
        "command": args.command_line,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "generator": generator.name,
        "generator_limits": generator.limits,
        "pinning": pinning,
        "connections": levels,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "servers": {s.name: s.note for s in servers},
        "compared": compare[1] if compare else None,
        "memory": memory,
        "results": rows,
        "ratios": ratios(rows, "sketch", others),
    }


def measure_one(process: ServerProcess, name: str, generator, endpoint, load, cores) -> Sample:
    """One run of the load generator against one server, with the server's CPU time."""
    cpu_before = cpu_seconds(process.proc.pid)
    sample = generator.run(process.port, endpoint, load, cores)
    sample.cpu_us = cpu_per_request(cpu_before, cpu_seconds(process.proc.pid), sample.requests)
    if not process.alive():
        raise RuntimeError(f"{name} died:\n{process.output.last_lines(20)}")
    return sample


def rotate(items: list, by: int) -> list:
    by %= max(1, len(items))
    return items[by:] + items[:by]


# The targets of issue 19, at 50 connections: sketch's requests/s divided by each server's.
TARGETS = {
    ("GET /", "aiohttp"): 2.0,
    ("GET /", "uvicorn"): 1.5,
    ("GET /", "limit"): 0.6,
    ("GET /users/{name}", "uvicorn"): 1.3,
    ("POST /echo (1 KiB JSON)", "uvicorn"): 1.3,
}
TARGET_CONNECTIONS = 50


def ratios(rows: list[dict], sketch: str, others: Sequence[str]) -> list[dict]:
    """For each endpoint and number of connections: SKETCH's requests/s divided by each of
    OTHERS' in the same run (the median of its rounds by the median of theirs), and the same
    ratio from CPU time per request (theirs divided by SKETCH's: less CPU is faster)."""
    by = {(r["server"], r["endpoint"], r["connections"]): r for r in rows}
    found = []
    for (server, endpoint, connections), row in by.items():
        if server != sketch:
            continue
        rate, cpu = row["rps_median"], row.get("cpu_us")
        over: dict[str, float | None] = {}
        over_by_cpu: dict[str, float | None] = {}
        for other in others:
            base = by.get((other, endpoint, connections), {})
            over[other] = round(rate / base["rps_median"], 3) if base else None
            their_cpu = base.get("cpu_us")
            over_by_cpu[other] = round(their_cpu / cpu, 3) if their_cpu and cpu else None
        found.append(
            {
                "endpoint": endpoint,
                "connections": connections,
                "rps": rate,
                "cpu_us": cpu,
                "sketch_over": over,
                "sketch_over_by_cpu": over_by_cpu,
            }
        )
    return found


def machine() -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions("aiohttp", "uvicorn", "httptools", "multidict", "yarl"),
    }


def versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


# --- output -------------------------------------------------------------------------------


def table_lines(report: dict) -> list[str]:
    """The results as Markdown tables (they read well in a terminal too): every server's
    numbers, then sketch's ratios to each of the others."""
    lines = [
        "| endpoint | connections | server | requests/s median (min–max) | p50 ms | p99 ms "
        "| CPU µs/req | errors |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["results"]:
        cpu = f"{row['cpu_us']:.1f}" if row.get("cpu_us") else "–"
        lines.append(
            f"| {row['endpoint']} | {row['connections']:,} | {row['server']} | "
            f"{row['rps_median']:,.0f} ({row['rps_min']:,.0f}–{row['rps_max']:,.0f}) | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {cpu} | {row['errors']} |"
        )
    others = list(report["ratios"][0]["sketch_over"]) if report["ratios"] else []
    if not others:
        return lines
    lines += ["", *ratio_table(report["ratios"], others, "sketch_over", "rps")]
    if TARGET_CONNECTIONS in report["connections"]:
        lines.append(
            f"(≥ N: a target of issue 19, at {TARGET_CONNECTIONS} connections; ✓ met, ✗ not)"
        )
    if any(row["cpu_us"] for row in report["ratios"]):
        lines += [
            "",
            "The same ratios from CPU time per request (theirs ÷ sketch's), which a busy "
            "machine disturbs less:",
            "",
            *ratio_table(report["ratios"], others, "sketch_over_by_cpu", "cpu_us"),
        ]
    return lines


def ratio_table(rows: list[dict], others: list[str], key: str, measure: str) -> list[str]:
    """Sketch's ratios (ROWS' KEY) to each of OTHERS, beside sketch's own MEASURE."""
    heading = {"rps": "sketch requests/s", "cpu_us": "sketch CPU µs/req"}[measure]
    lines = [
        f"| endpoint | connections | {heading} | "
        + " | ".join(f"sketch ÷ {other}" for other in others)
        + " |",
        "| --- | ---: | ---: |" + " ---: |" * len(others),
    ]
    for row in rows:
        cells = [
            ratio_cell(row[key][other], row["endpoint"], other, row["connections"])
            for other in others
        ]
        value = row[measure]
        shown = "–" if value is None else f"{value:,.0f}" if measure == "rps" else f"{value:.1f}"
        lines.append(
            f"| {row['endpoint']} | {row['connections']:,} | {shown} | " + " | ".join(cells) + " |"
        )
    return lines


def ratio_cell(ratio: float | None, endpoint: str, other: str, connections: int) -> str:
    """A ratio, with the target of issue 19 it is held to and whether it meets it, if any.
    Against another sketch (--compare) three decimals: a change is judged to a few percent."""
    if ratio is None:
        return "–"
    cell = f"{ratio:.3f}×" if other.startswith("sketch") else f"{ratio:.2f}×"
    target = TARGETS.get((endpoint, other)) if connections == TARGET_CONNECTIONS else None
    if target is not None:
        cell += f" (≥ {target:g} {'✓' if ratio >= target else '✗'})"
    return cell


def plot(report: dict, path: Path) -> None:
    """Grouped bar charts, one per number of connections: requests/s per endpoint, one bar
    per server, min–max whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["connections"]
    endpoints = list(dict.fromkeys(r["endpoint"] for r in report["results"]))
    servers = list(dict.fromkeys(r["server"] for r in report["results"]))
    by = {(r["server"], r["endpoint"], r["connections"]): r for r in report["results"]}
    width = 0.8 / len(servers)
    figure, all_axes = plt.subplots(
        1, len(levels), figsize=(6 * len(levels), 4.5), dpi=110, squeeze=False
    )
    for axes, connections in zip(all_axes[0], levels, strict=True):
        for index, server in enumerate(servers):
            rows = [by.get((server, e, connections)) for e in endpoints]
            xs = [i + (index - (len(servers) - 1) / 2) * width for i in range(len(endpoints))]
            medians = [r["rps_median"] if r else 0 for r in rows]
            low = [r["rps_median"] - r["rps_min"] if r else 0 for r in rows]
            high = [r["rps_max"] - r["rps_median"] if r else 0 for r in rows]
            axes.bar(xs, medians, width, label=server, yerr=[low, high], capsize=3)
        axes.set_xticks(range(len(endpoints)), endpoints, fontsize=8)
        axes.set_ylabel("requests/s (median of rounds)")
        axes.set_title(f"{connections:,} keep-alive connections", fontsize=10)
        axes.grid(axis="y", alpha=0.3)
    all_axes[0][0].legend()
    figure.suptitle(
        f"{report['generator']}, {report['rounds']} × {report['duration_s']:g} s, no uvloop",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# --- command line -------------------------------------------------------------------------


def sketch_folder(text: str) -> Path:
    """--sketch-dir: a folder holding sketch/, made absolute (its servers run in it)."""
    folder = Path(text).resolve()
    if not (folder / "sketch" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(f"no sketch/ package in {folder}")
    return folder


def connection_levels(text: str) -> list[int]:
    """`50,1000` -> [50, 1000]: each endpoint is measured at each level."""
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"at least one connection, please: {text!r}")
    return levels


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sketch-dir", type=sketch_folder, help="the folder that holds sketch/")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    p.add_argument(
        "--connections",
        type=connection_levels,
        default=[50, 1000],
        help="keep-alive connections, one level or several (default 50,1000)",
    )
    p.add_argument("--pipeline", type=int, default=1, help="requests in flight per connection")
    p.add_argument("--generator", choices=("auto", "wrk", "builtin"), default="auto")
    p.add_argument("--servers", default=ALL_SERVERS)
    p.add_argument(
        "--compare",
        metavar="REV_OR_DIR",
        help="also measure another sketch, interleaved with this one: a git revision (its "
        "last stage's reference) or a folder holding sketch/",
    )
    p.add_argument("--endpoints", nargs="*", help="paths to measure (default: all three)")
    p.add_argument("--json", type=Path, help="write the results to this file")
    p.add_argument("--plot", type=Path, help="draw bar charts into this PNG file")
    return p


def one_server_options(p: argparse.ArgumentParser) -> None:
    """--server and --sketch-dir, for the scripts that measure one server at a time."""
    p.add_argument(
        "--server",
        default="sketch",
        choices=SERVER_NAMES,
        help="which server (default: sketch, the reference)",
    )
    p.add_argument("--sketch-dir", type=sketch_folder, help="the folder that holds sketch/")
    p.add_argument("--json", type=Path, help="write the report to this file")


def write_report(report: dict, path: Path | None, say: Callable[[str], None] = print) -> None:
    if path:
        path.write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.command_line = "python benchmarks/bench.py " + " ".join(argv or sys.argv[1:])
    sketch_dir = args.sketch_dir or manifest.final().solution_dir()
    report = measure(args, sketch_dir)
    finish(report, args)
    return 0


def finish(report: dict, args: argparse.Namespace, say: Callable[[str], None] = print) -> None:
    say("")
    for line in table_lines(report):
        say(line)
    for name, mib in report["memory"].items():
        say(
            f"{name}: resident memory {mib.get('before_mib') or 0:.1f} MiB after warm-up, "
            f"{mib.get('after_mib') or 0:.1f} MiB at the end"
        )
    write_report(report, args.json, say)
    if args.plot:
        plot(report, args.plot)
        say(f"wrote {args.plot}")


if __name__ == "__main__":
    sys.exit(main())

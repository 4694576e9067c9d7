"""Where a server's busy time goes under load, the idle wait for work left out.

    python benchmarks/busytime.py                       (or: invoke bench-profile)
    python benchmarks/busytime.py --endpoint /users/ada --method cprofile

The server (the reference unless --server says another) runs the benchmark app, pinned to
one core, under the benchmark's load on the other core (one endpoint, 50 keep-alive
connections), and is profiled for --duration seconds in one of two ways:

- py-spy (the default; `pip install py-spy`, part of the bench extras) samples the server's
  stack from outside, --rate times a second, without changing its code. It keeps only the
  samples in which the OS says the thread is running, so the time asleep in `epoll_wait`
  waiting for work is left out: what remains is busy time. `--native` adds the C frames
  (which C function inside a Python line: `send`, `getpid`, the Task machinery).
- cprofile runs the server under cProfile (benchmarks/profiled_server.py), switched on for
  the window only, and counts each function's own time; `epoll.poll` is left out whole. Its
  calls per request are exact, but its cost per call inflates Python against C, so its
  shares lean towards the Python parts.
- perf (Linux `perf record -g`, sampling the CPU itself, the kernel included) sees no Python
  function names, but splits the time exactly where py-spy cannot: the system calls (and in
  `send`, the part spent waking the client), the rest of the kernel, the interpreter, and
  each C library. py-spy files everything under a Python line to that line's cost: the
  `recv` line also holds allocating its 256 KiB buffer, the `send` line its C wrapper.

Each sample (or function) goes to the first cost in COSTS that its innermost frame matches,
walking outwards past frames that match none (a C helper, `functools`), and the costs are
printed as a table the docs can quote: share of busy time, and microseconds per request.
"""

from __future__ import annotations

import argparse
import linecache
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from workshop import manifest

try:
    from benchmarks import bench
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    import bench  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
PROFILED_SERVER = HERE / "profiled_server.py"
LEAD = 0.5  # seconds of load before and after the profiled window, so it is all under load

# What a request costs, in the order a frame is tried against them. Each pattern is searched
# in "PATH FUNCTION | SOURCE LINE": PATH relative to its sys.path entry (sketch/parser.py,
# asyncio/base_events.py), and for C frames the library (libc.so.6 send) or cProfile's name
# of a built-in (~ <method 'send' of '_socket.socket' objects>).
COSTS = [
    ("socket send (the system call)", r"sock\.send\(|libc\.so\S* send\b|'send' of '_socket"),
    ("socket recv (the system call)", r"sock\.recv\(|libc\.so\S* recv\b|'recv' of '_socket"),
    (
        "epoll_wait, not idle (events ready, or waiting for a core)",
        r"^selectors\.py .*\.poll\(|libc\.so\S* epoll_wait\b|'poll' of 'select\.epoll'",
    ),
    ("asyncio transport (its Python around send and recv)", r"^asyncio/selector_events\.py"),
    (
        "Task creation and scheduling, the event loop (asyncio)",
        r"^asyncio/(base_events|events|tasks|futures|locks)\.py|^_weakrefset\.py|^selectors\.py"
        r"|_asynciomodule\.c|libc\.so\S* getpid\b|create_task\(|get_running_loop\("
        r"|'run' of '_contextvars|'(create_task|call_soon|get_running_loop)'",
    ),
    (
        "parser: httptools and its callbacks",
        r"^sketch/(parser|limits)\.py|httptools|'feed_data'"
        r"|^bare_protocol\.py \S*(data_received|on_\w+)\b",
    ),
    ("url (yarl)", r"^yarl/|^sketch/request\.py (Request\.)?(url|path|raw_path|query)\b"),
    ("Request construction and attributes", r"^sketch/request\.py|multidict"),
    ("Response construction and encode", r"^sketch/response\.py"),
    ("writer: Date, Connection, the response's bytes", r"^sketch/(writer|httpdate)\.py"),
    ("dispatch (the router)", r"^sketch/router\.py|^sketch/app\.py (Application\.)?dispatch\b"),
    ("middleware chain and Application.handle", r"^sketch/app\.py"),
    ("JSON decode and encode", r"^json/"),
    ("protocol: queue, worker, close policy, deadline", r"^sketch/(protocol|deadline|connections)"),
    ("the app's own handlers and middleware", r"^(sketch_app|bare_protocol)\.py"),
]
OTHER = "other"


@dataclass(frozen=True)
class Frame:
    function: str
    path: str  # relative to its sys.path entry where known
    line: int = 0
    source: str = ""  # the source line being run, for Python frames

    def haystack(self) -> str:
        return f"{self.path} {self.function} | {self.source}"

    def cost(self) -> str | None:
        text = self.haystack()
        for name, pattern in COSTS:
            if re.search(pattern, text):
                return name
        return None

    def __str__(self) -> str:
        if self.line:
            return f"{self.function} ({self.path}:{self.line})"
        return self.function if self.path in ("~", "?") else f"{self.function} ({self.path})"


def deciding_frame(stack: list[Frame]) -> tuple[str, Frame]:
    """The cost of a sample, from its innermost frame that matches one, and that frame."""
    for frame in reversed(stack):
        cost = frame.cost()
        if cost is not None:
            return cost, frame
    return OTHER, stack[-1]


class Paths:
    """Full file names made short and readable: relative to the sys.path entry they are in."""

    def __init__(self, *extra: Path) -> None:
        roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        self.roots = sorted({*roots, *map(str, extra)}, key=len, reverse=True)

    def short(self, path: str) -> str:
        for root in self.roots:
            if path.startswith(root.rstrip("/") + "/"):
                return path[len(root.rstrip("/")) + 1 :]
        return path


def profiler(name: str, install: str) -> str:
    """The path of the profiler NAME, or a one-line answer saying how to get it."""
    executable = shutil.which(name)
    if executable is None:
        raise SystemExit(f"{name} is not installed ({install}); or use --method cprofile")
    return executable


# --- py-spy -------------------------------------------------------------------------------

SPY_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse_spy_frame(text: str, paths: Paths) -> Frame:
    found = SPY_FRAME.match(text)
    if not found:
        return Frame(text, "?")
    path, line = found["path"], int(found["line"] or 0)
    source = linecache.getline(path, line).strip() if line else ""
    short = paths.short(path) if line else Path(path).name  # C: the library's name
    return Frame(found["function"], short, line, source)


def read_spy(raw: str, paths: Paths) -> tuple[Counter, Counter, int]:
    """py-spy's raw output (`frame;frame;... COUNT` per stack): samples per cost and per
    deciding frame, and the number of samples."""
    costs: Counter = Counter()
    frames: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        stack = [parse_spy_frame(part, paths) for part in stack_text.split(";")]
        cost, frame = deciding_frame(stack)
        costs[cost] += int(count_text)
        frames[cost, str(frame)] += int(count_text)
        total += int(count_text)
    return costs, frames, total


def spy(pid: int, args: argparse.Namespace, out: Path) -> str:
    executable = profiler("py-spy", "pip install py-spy, or pip install -e '.[bench]'")
    command = [executable, "record", "--pid", str(pid), "--duration", f"{args.duration:g}"]
    command += ["--rate", str(args.rate), "--format", "raw", "--full-filenames", "-o", str(out)]
    command += ["--native"] if args.native else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.duration + 30)
    if done.returncode != 0 or not out.exists():
        said = (done.stderr or done.stdout).strip()[-1500:]
        hint = " (py-spy needs ptrace: root, or CAP_SYS_PTRACE; sudo on macOS)"
        raise SystemExit(f"py-spy failed{hint}:\n{said}")
    return out.read_text()


# --- perf ---------------------------------------------------------------------------------

# What a sample of the CPU costs, from its call chain (innermost frame first). A system call
# is known by its kernel entry point anywhere in the chain; anything else by the library its
# innermost frame is in, the first of LIBRARIES that matches.
WAKING_THE_CLIENT = "send: waking the client (the kernel's sock_def_readable)"
SEND = "send: the rest of the system call"
SYSTEM_CALLS = [
    ("recv (the system call)", "__x64_sys_recvfrom"),
    ("epoll_wait (the system call)", "__x64_sys_epoll_wait"),
]
LIBRARIES = [
    ("the rest of the kernel (other system calls, interrupts)", r"\[kernel"),
    ("the Python interpreter (all Python code: framework, asyncio, app)", r"python3"),
    ("httptools (llhttp, the parser in C)", r"httptools|^\S+ \(parser\.cpython"),
    ("multidict, yarl, propcache (C)", r"multidict|yarl|propcache"),
    ("asyncio's C Tasks and Futures (_asyncio)", r"_asyncio\."),
    ("libc (malloc, memcpy, the system call wrappers)", r"libc\.so"),
]


def perf_cost(chain: list[str]) -> str:
    """The cost of one perf sample, from its frames ("symbol (library)", innermost first).
    In `send`, waking the client is told apart: on loopback the sender's system call hands
    the bytes to the client's socket itself, and wakes the client if it sleeps."""
    whole = " ".join(chain)
    if "__x64_sys_sendto" in whole:
        return WAKING_THE_CLIENT if "sock_def_readable" in whole else SEND
    for name, entry in SYSTEM_CALLS:
        if entry in whole:
            return name
    for name, pattern in LIBRARIES:
        if re.search(pattern, chain[0]):
            return name
    return OTHER


PERF_FRAME = re.compile(r"^\s*[0-9a-f]+ (?P<symbol>\S+) \((?P<library>[^()]*)\)$")


def read_perf(script: str) -> tuple[Counter, Counter, int]:
    """`perf script -F ip,sym,dso` output (a sample's frames, innermost first, then a blank
    line): samples per cost and per innermost function, and the number of samples."""
    costs: Counter = Counter()
    frames: Counter = Counter()
    total = 0
    for block in script.split("\n\n"):
        chain = []
        for line in block.splitlines():
            found = PERF_FRAME.match(line)
            if found:
                symbol = found["symbol"].split("+0x")[0]
                chain.append(f"{symbol} ({Path(found['library']).name})")
        if not chain:
            continue
        cost = perf_cost(chain)
        costs[cost] += 1
        frames[cost, chain[0]] += 1
        total += 1
    return costs, frames, total


def perf(pid: int, args: argparse.Namespace, out: Path) -> str:
    """Record PID's CPU samples with call chains for the window; their frames, as text."""
    executable = profiler(
        "perf",
        "Debian: apt-get install linux-perf; Ubuntu: apt-get install linux-tools-$(uname -r)",
    )
    command = [executable, "record", "-g", "-F", str(args.rate), "-p", str(pid), "-o", str(out)]
    done = subprocess.run(
        [*command, "--", "sleep", f"{args.duration:g}"],
        capture_output=True,
        text=True,
        timeout=args.duration + 30,
    )
    if done.returncode != 0 or not out.exists():
        said = (done.stderr or done.stdout).strip()[-1500:]
        hint = " (it needs root, or /proc/sys/kernel/perf_event_paranoid at 1 or less)"
        raise SystemExit(f"perf record failed{hint}:\n{said}")
    script = subprocess.run(
        [executable, "script", "-i", str(out), "-F", "ip,sym,dso"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if script.returncode != 0 or not script.stdout.strip():
        said = script.stderr.strip()[-1500:]
        raise SystemExit(f"perf script read no samples of the server from {out}:\n{said}")
    return script.stdout


# --- cProfile -----------------------------------------------------------------------------


def cprofile_frame(key: tuple[str, int, str], paths: Paths) -> Frame:
    path, line, function = key
    if path == "~":  # a built-in, named by cProfile: <method 'send' of '_socket.socket' ...>
        return Frame(function, "~")
    return Frame(function, paths.short(path), line)


def read_cprofile(stats_file: Path, paths: Paths) -> tuple[Counter, Counter, Counter, float]:
    """Own time per cost and per function, calls per function, and the busy total (s).

    A function that matches no cost (`len`, a `cached_property`) gives its own time to its
    callers, in proportion to the time it spent for each, as a sampled stack would.
    """
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    costs: Counter = Counter()
    frames: Counter = Counter()
    calls: Counter = Counter()

    def give(key: tuple, amount: float, depth: int = 0) -> None:
        cost = cprofile_frame(key, paths).cost()
        callers = stats[key][4] if key in stats else {}
        spent = sum(timing[2] for timing in callers.values())
        if cost is None and depth < 8 and spent > 0:
            for caller, timing in callers.items():
                give(caller, amount * timing[2] / spent, depth + 1)
            return
        costs[cost or OTHER] += amount

    for key, (_, ncalls, own, _, _) in stats.items():
        frame = cprofile_frame(key, paths)
        if (frame.cost() or "").startswith("epoll_wait"):
            continue  # cProfile times epoll.poll by the clock: idle and busy, inseparable
        give(key, own)
        frames[frame.cost() or "its callers'", str(frame)] += own
        calls[frame.cost() or "its callers'", str(frame)] += ncalls
    return costs, frames, calls, sum(costs.values())


def counted_requests(calls: Counter) -> int:
    """Requests answered in the profile, counted exactly: the parser's end-of-message calls."""
    return sum(n for (_, frame), n in calls.items() if frame.startswith("on_message_complete "))


# --- the run ------------------------------------------------------------------------------


def start_server(name: str, sketch_dir: Path, stats_file: Path | None) -> bench.ServerProcess:
    """The server, as the benchmark starts it; under cProfile when STATS_FILE is given."""
    wrapper = [str(PROFILED_SERVER), str(stats_file)] if stats_file else []
    return bench.one_server(sketch_dir, name).process(wrapper).start(timeout=15)


@dataclass
class Window:
    """What happened while the profiler ran."""

    seconds: float
    cpu_s: float  # the server's CPU time, user and system, from /proc
    rps: float  # the load generator's requests/s
    samples: str = ""  # py-spy's or perf's samples, as text


def profile(args: argparse.Namespace) -> dict:
    """Load the server, profile it for the window, and sort its busy time into costs."""
    sketch_dir = args.sketch_dir or manifest.final().solution_dir()
    endpoint = next((e for e in bench.ENDPOINTS if e.path == args.endpoint), None)
    if endpoint is None:
        known = ", ".join(e.path for e in bench.ENDPOINTS)
        raise SystemExit(f"--endpoint {args.endpoint}: not one of {known}")
    server_cores, load_cores, pinning = bench.pick_cores()
    generator = bench.pick_generator(args.generator, 1)
    work = Path(tempfile.mkdtemp(prefix="sketch-busytime-"))
    stats_file = work / "server.prof" if args.method == "cprofile" else None
    process = start_server(args.server, sketch_dir, stats_file)
    try:
        bench.pin(process.proc.pid, server_cores)
        generator.run(process.port, endpoint, bench.Load(args.connections, 1.0), load_cores)
        window = under_load(
            process,
            args,
            lambda load: generator.run(process.port, endpoint, load, load_cores),
            work / "samples",  # py-spy's raw text, or perf's perf.data
        )
        report = {
            "server": args.server,
            "endpoint": endpoint.name,
            "connections": args.connections,
            "method": args.method + (" --native" if args.native else ""),
            "pinning": pinning,
            "window_s": round(window.seconds, 2),
            "rps": window.rps,
        }
        paths = Paths(sketch_dir, bench.APPS)
        if args.method == "perf":
            costs, frames, samples = read_perf(window.samples)
            busy_s, calls = samples / args.rate, None
            requests = window.rps * window.seconds  # the load's rate over the window
        elif stats_file is None:
            costs, frames, samples = read_spy(window.samples, paths)
            busy_s, calls = samples / args.rate, None
            requests = window.rps * window.seconds
        else:
            wait_for(stats_file)
            costs, frames, calls, busy_s = read_cprofile(stats_file, paths)
            requests = counted_requests(calls) or window.rps * window.seconds
        add_costs(report, costs, frames, calls, requests, busy_s, window.cpu_s, args.top)
        return report
    finally:
        process.kill()
        generator.close()
        shutil.rmtree(work, ignore_errors=True)


def under_load(process, args: argparse.Namespace, run_load, samples_file: Path) -> Window:
    """Profile PROCESS for args.duration seconds in the middle of a load (RUN_LOAD runs one,
    in a thread, LEAD seconds longer on either side)."""
    loaded: list[bench.Sample] = []
    load = bench.Load(args.connections, args.duration + 2 * LEAD)
    thread = threading.Thread(target=lambda: loaded.append(run_load(load)))
    thread.start()
    time.sleep(LEAD)
    pid = process.proc.pid
    cpu_before = bench.cpu_seconds(pid) or 0.0
    started = time.perf_counter()
    samples = ""
    if args.method == "py-spy":
        samples = spy(pid, args, samples_file)
    elif args.method == "perf":
        samples = perf(pid, args, samples_file)
    else:  # profiled_server.py profiles between these two signals
        os.kill(pid, signal.SIGUSR1)
        time.sleep(args.duration)
        os.kill(pid, signal.SIGUSR2)
    seconds = time.perf_counter() - started
    cpu = (bench.cpu_seconds(pid) or 0.0) - cpu_before
    thread.join(args.duration + 30)
    if not loaded:
        raise SystemExit("the load generator gave no result")
    return Window(seconds, cpu, loaded[0].rps, samples)


def add_costs(
    report: dict,
    costs: Counter,
    frames: Counter,
    calls: Counter | None,
    requests: float,
    busy_s: float,
    cpu_s: float,
    top: int,
) -> None:
    """The costs and the top functions, per request, into REPORT."""
    report["requests"] = round(requests)
    report["cpu_us_per_request"] = round(cpu_s * 1e6 / requests, 2) if requests else None
    report["busy_us_per_request"] = round(busy_s * 1e6 / requests, 2) if requests else None
    # The shares come from the profile, the microseconds from the CPU time the OS counted:
    # on a busy machine the profile's busy time also holds waits for a core.
    report["waited_for_a_core"] = waited_for_a_core(report)
    report["costs"] = shares(costs, report["cpu_us_per_request"], report["waited_for_a_core"])
    report["functions"] = top_functions(frames, calls, requests, top)


def wait_for(path: Path, timeout: float = 10) -> None:
    """Wait until the profiled server has written its statistics to PATH."""
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_size == 0:
        if time.monotonic() > deadline:
            raise SystemExit("the profiled server wrote no statistics")
        time.sleep(0.05)
    time.sleep(0.1)  # the file is written in one go; let it finish


EPOLL = COSTS[2][0]


def shares(costs: Counter, cpu_us: float | None, waited: bool) -> list[dict]:
    """Each cost's share of the busy time, with and without epoll_wait, and its share of
    the CPU time per request in µs. When the server WAITED for a core, the wait shows as
    epoll_wait (a woken thread is "running" before it gets a core): its CPU is then unknown,
    and the CPU time is split by the shares without it."""
    total = sum(costs.values()) or 1
    work = total - costs[EPOLL] or 1
    rows = []
    for name, amount in costs.most_common():
        without = None if name == EPOLL else amount / work
        share = without if waited else amount / total
        us = round(share * cpu_us, 2) if cpu_us and share is not None else None
        rows.append(
            {
                "cost": name,
                "share": round(amount / total, 4),
                "share_without_epoll": None if without is None else round(without, 4),
                "us_per_request": us,
            }
        )
    return rows


def top_functions(frames: Counter, calls: Counter | None, requests: float, top: int) -> list:
    """The TOP functions (and lines) by own time, with calls per request where counted."""
    total = sum(frames.values()) or 1
    rows = []
    for (cost, frame), amount in frames.most_common(top):
        row = {"frame": frame, "cost": cost, "share": round(amount / total, 4)}
        if calls is not None and requests:
            row["calls_per_request"] = round(calls[cost, frame] / requests, 2)
        rows.append(row)
    return rows


def table_lines(report: dict) -> list[str]:
    lines = [
        f"busy-time profile: {report['server']}, {report['endpoint']}, "
        f"{report['connections']} connections, {report['method']}, "
        f"{report['window_s']:g} s at {report['rps']:,.0f} requests/s; {report['pinning']}",
        f"server CPU time (from /proc): {report['cpu_us_per_request']} µs per request; "
        f"busy time profiled: {report['busy_us_per_request']} µs per request",
        *busy_machine_warning(report),
        "",
        "| cost | share of busy time | without epoll_wait | µs of CPU per request |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in report["costs"]:
        without = row["share_without_epoll"]
        cells = [
            f"{row['share']:.1%}",
            "–" if without is None else f"{without:.1%}",
            "–" if row["us_per_request"] is None else f"{row['us_per_request']:.1f}",
        ]
        lines.append(f"| {row['cost']} | " + " | ".join(cells) + " |")
    lines += ["", "| function (where its own time is spent) | cost | share |"]
    calls = any("calls_per_request" in row for row in report["functions"])
    lines[-1] += " calls per request |" if calls else ""
    lines.append("| --- | --- | ---: |" + (" ---: |" if calls else ""))
    for row in report["functions"]:
        line = f"| {row['frame']} | {row['cost']} | {row['share']:.1%} |"
        lines.append(line + (f" {row['calls_per_request']:g} |" if calls else ""))
    return lines


def waited_for_a_core(report: dict) -> bool:
    """Whether the profile saw much more busy time than the CPU time the OS counted: the
    server waited for a core (a busy machine), or the profiler slowed it down."""
    cpu, busy = report["cpu_us_per_request"], report["busy_us_per_request"]
    return bool(cpu and busy and busy > 1.2 * cpu)


def busy_machine_warning(report: dict) -> list[str]:
    if not report["waited_for_a_core"]:
        return []
    cpu, busy = report["cpu_us_per_request"], report["busy_us_per_request"]
    return [
        f"note: the profile counts {busy / cpu - 1:.0%} more busy time than the CPU time: the "
        "server waited for a core (a busy machine) or the profiler slowed it. The µs split the "
        "CPU time by the shares without epoll_wait, where a wait for a core shows."
    ]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", choices=("py-spy", "cprofile", "perf"), default="py-spy")
    bench.one_server_options(p)
    p.add_argument("--endpoint", default="/", help="the path to load: /, /users/ada or /echo")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--duration", type=float, default=10.0, help="seconds profiled")
    p.add_argument("--rate", type=int, default=200, help="py-spy's or perf's samples a second")
    p.add_argument("--native", action="store_true", help="py-spy: sample C frames too")
    p.add_argument("--generator", choices=("auto", "wrk", "builtin"), default="auto")
    p.add_argument("--top", type=int, default=15, help="how many functions to list")
    return p


def main(argv: list[str] | None = None, say=print) -> int:
    args = parser().parse_args(argv)
    report = profile(args)
    for line in table_lines(report):
        say(line)
    bench.write_report(report, args.json, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A room's worth of load on a board: learners reporting every second while the page polls.

    python -m board.loadtest [--learners 200] [--seconds 60]   # on a board of its own

The learners share this process's event loop; the page's poller is a process of its own,
with its own HTTP client, so what it times is the board answering, not a queue in the
load generator (sharing one connection pool with 200 learners once made the page look
seconds slow while the board answered in milliseconds). Each learner comes from an address
of its own, as in a room, so the board's per-client limits see a room and not one script.

It prints the latency of reports and page polls (p50, p99, max), and the board's CPU time
and memory. tests/test_board_load.py runs the same code for a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from board.testing import BoardProcess, as_learner, machine
from workshop import manifest

PAGE_EVERY = 0.25  # seconds between the poller's requests (the page itself polls every 2 s)
TIMEOUT = 5.0  # seconds any one request may take before it counts as an error


@dataclass
class Timings:
    """How long each request took, and what went wrong."""

    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if len(self.seconds) < 2:
            return f"{len(self.seconds)} requests"
        ms = sorted(s * 1000 for s in self.seconds)
        p50 = statistics.median(ms)
        p99 = statistics.quantiles(ms, n=100)[98]
        return f"{len(ms)} requests: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"


# --- the learners: this process --------------------------------------------------------


async def room(url: str, code: str, learners: int, rounds: int) -> Timings:
    """LEARNERS join, then each reports once a second for ROUNDS rounds (the last a pass)."""
    timings = Timings()
    stages = [stage.id for stage in manifest.stages()]
    limits = httpx.Limits(max_connections=learners, max_keepalive_connections=learners)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits) as http:

        async def learner(n: int) -> None:
            address = machine()
            await asyncio.sleep(n / learners)  # the room starts over a second, as in life
            reply = await http.post(
                "/api/join", json={"code": code, "name": f"learner {n:03d}"}, headers=address
            )
            if reply.status_code != 200:
                timings.errors.append(f"learner {n} joining: {reply.status_code} {reply.text}")
                return
            headers = {**address, **as_learner(reply.json()["token"])}
            for round_ in range(rounds):
                last = round_ == rounds - 1
                body = {
                    "stage": stages[n % len(stages)],
                    "passed": round_ + 1,
                    "failed": 0 if last else 1,
                    "test": "" if last else f"test_{round_}",
                }
                started = time.perf_counter()
                try:
                    reply = await http.post("/api/report", json=body, headers=headers)
                    if reply.status_code != 200:
                        timings.errors.append(f"learner {n}: {reply.status_code} {reply.text}")
                except httpx.HTTPError as problem:
                    timings.errors.append(f"learner {n}: {problem!r}")
                took = time.perf_counter() - started
                timings.seconds.append(took)
                await asyncio.sleep(max(0.0, 1.0 - took))

        await asyncio.gather(*(learner(n) for n in range(learners)))
    return timings


# --- the page: a process of its own ----------------------------------------------------


class Poller:
    """`python -m board.loadtest poll URL`: polls the page until told to stop.

    with Poller(url) as poller: ...   then poller.timings
    """

    def __init__(self, url: str, every: float = PAGE_EVERY) -> None:
        self.command = [sys.executable, "-m", "board.loadtest", "poll", url, str(every)]
        self.timings = Timings()

    def __enter__(self) -> Poller:
        self.proc = subprocess.Popen(
            self.command,
            cwd=manifest.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            out, _ = self.proc.communicate(input="", timeout=TIMEOUT + 5)  # EOF: stop
            found = json.loads(out)
            self.timings = Timings(found["seconds"], found["errors"])
        except (subprocess.TimeoutExpired, ValueError) as problem:
            self.proc.kill()
            self.proc.wait()
            self.timings.errors.append(f"the poller did not report: {problem!r}")


def poll(url: str, every: float) -> Timings:
    """Time GET /api/progress every EVERY seconds until stdin closes (runs in the poller)."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    timings = Timings()
    with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                reply = http.get("/api/progress")
                reply.raise_for_status()
                reply.json()
            except (httpx.HTTPError, ValueError) as problem:
                timings.errors.append(repr(problem))
            timings.seconds.append(time.perf_counter() - started)
            stop.wait(every)
    return timings


# --- the board's own costs -------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of PID so far (Linux's /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next(line for line in status.splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def measure(learners: int, seconds: int) -> None:
    """Start a board, load it, print what it cost."""
    with tempfile.TemporaryDirectory() as scratch:
        board = BoardProcess(Path(scratch) / "board.sqlite3").start()
        try:
            pid = board.proc.pid  # type: ignore[union-attr]
            cpu_before, rss_before = cpu_seconds(pid), rss_mib(pid)
            started = time.perf_counter()
            with Poller(board.url) as poller:
                reports = asyncio.run(room(board.url, board.code, learners, seconds))
            elapsed = time.perf_counter() - started
            cpu_after, rss_after = cpu_seconds(pid), rss_mib(pid)
        finally:
            board.kill()
    print(f"{learners} learners reporting every second for {seconds} s ({elapsed:.1f} s in all)")
    print(f"  reports:    {reports.summary()}, {len(reports.errors)} errors")
    print(f"  page polls: {poller.timings.summary()}, {len(poller.timings.errors)} errors")
    if cpu_before is not None and cpu_after is not None:
        print(f"  board CPU:  {100 * (cpu_after - cpu_before) / elapsed:.0f}% of one core")
    if rss_before is not None and rss_after is not None:
        print(f"  board RSS:  {rss_before:.1f} MiB before, {rss_after:.1f} MiB after")
    for error in (reports.errors + poller.timings.errors)[:5]:
        print(f"  error: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m board.loadtest", description=__doc__)
    parser.add_argument("--learners", type=int, default=200, help="learners in the room")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of reporting")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["poll"]:  # the poller process: python -m board.loadtest poll URL EVERY
        timings = poll(argv[1], float(argv[2]))
        print(json.dumps({"seconds": timings.seconds, "errors": timings.errors}))
        return 0
    args = parser.parse_args(argv)
    measure(args.learners, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

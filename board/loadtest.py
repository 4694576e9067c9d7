"""A room's worth of load on a board: learners reporting every second while the page polls.

    python -m board.loadtest [--learners 200] [--seconds 60]   # on a board of its own

The learners share this process's event loop, each with its own client and its own address
(so the board's per-client limits see a room, not one script). The page's poll is timed by
a probe, a process of its own with its own client, which also sends one more learner's
reports: what it times is the board answering under the room's load, not a queue in the
load generator (sharing one connection pool with 200 learners once made the page look
seconds slow while the board answered in milliseconds).

It prints p50, p99 and max of the page poll and of reports, and the board's CPU time and
memory. tests/test_board_load.py runs the same code for a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from board.testing import BoardProcess, as_learner, machine
from workshop import files, manifest

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
        p99 = statistics.quantiles(ms, n=100, method="inclusive")[98]
        return f"{len(ms)} requests: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"


# --- the learners: this process --------------------------------------------------------


async def room(url: str, code: str, learners: int, rounds: int) -> Timings:
    """LEARNERS join, then each reports once a second for ROUNDS rounds (the last a pass).

    Each learner is a machine of its own: its own address, its own client and connection
    (one pool shared by 200 learners would time its own queue, as the page's poll once did).
    """
    timings = Timings()
    stages = [stage.id for stage in manifest.stages()]
    tls = ssl.create_default_context()  # made once: each client would load the CA bundle

    async def learner(n: int) -> None:
        await asyncio.sleep(n / learners)  # the room starts over a second, as in life
        client = httpx.AsyncClient(base_url=url, timeout=TIMEOUT, headers=machine(), verify=tls)
        async with client as http:
            name = f"learner {n:03d}"
            try:
                reply = await http.post("/api/join", json={"code": code, "name": name})
                reply.raise_for_status()
            except httpx.HTTPError as problem:
                timings.errors.append(f"learner {n} joining: {problem!r}")
                return
            http.headers.update(as_learner(reply.json()["token"]))
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
                    reply = await http.post("/api/report", json=body)
                    if reply.status_code != 200:
                        timings.errors.append(f"learner {n}: {reply.status_code} {reply.text}")
                except httpx.HTTPError as problem:
                    timings.errors.append(f"learner {n}: {problem!r}")
                took = time.perf_counter() - started
                timings.seconds.append(took)
                await asyncio.sleep(max(0.0, 1.0 - took))

    await asyncio.gather(*(learner(n) for n in range(learners)))
    return timings


# --- the probe: a process of its own --------------------------------------------------


class Probe:
    """`python -m board.loadtest probe URL CODE`: the page's poll and one more learner.

    Every PAGE_EVERY seconds, until told to stop, it times GET /api/progress and a report of
    its own, from a process with nothing else to do: the board's latency under the room's
    load, not the load generator's.

        with Probe(url, code) as probe: ...   then probe.page, probe.report (Timings)
    """

    def __init__(self, url: str, code: str, every: float = PAGE_EVERY) -> None:
        self.command = [sys.executable, "-m", "board.loadtest", "probe", url, code, str(every)]
        self.page = Timings()
        self.report = Timings()

    def __enter__(self) -> Probe:
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
            self.page, self.report = Timings(**found["page"]), Timings(**found["report"])
        except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError) as problem:
            self.proc.kill()
            self.proc.wait()
            self.page.errors.append(f"the probe did not report: {problem!r}")


def probe(url: str, code: str, every: float) -> dict[str, Timings]:
    """What the probe process does, until its stdin closes."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    page, report = Timings(), Timings()
    with httpx.Client(base_url=url, timeout=TIMEOUT, headers=machine()) as http:
        joined = http.post("/api/join", json={"code": code, "name": "probe"})
        joined.raise_for_status()
        http.headers.update(as_learner(joined.json()["token"]))
        body = {"stage": manifest.stages()[0].id, "passed": 1, "failed": 1, "test": "test_x"}
        while not stop.is_set():
            timed(page, lambda: http.get("/api/progress").raise_for_status().json())
            timed(report, lambda: http.post("/api/report", json=body).raise_for_status())
            stop.wait(every)
    return {"page": page, "report": report}


def timed(timings: Timings, request: Callable[[], object]) -> None:
    started = time.perf_counter()
    try:
        request()
    except (httpx.HTTPError, ValueError) as problem:
        timings.errors.append(repr(problem))
    timings.seconds.append(time.perf_counter() - started)


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
    files.allow_open_files(learners + 1)  # each learner's connection, here and in the board
    with tempfile.TemporaryDirectory() as scratch:
        board = BoardProcess(Path(scratch) / "board.sqlite3").start()
        try:
            pid = board.proc.pid  # type: ignore[union-attr]
            cpu_before, rss_before = cpu_seconds(pid), rss_mib(pid)
            started = time.perf_counter()
            with Probe(board.url, board.code) as seen:
                room_seen = asyncio.run(room(board.url, board.code, learners, seconds))
            elapsed = time.perf_counter() - started
            cpu_after, rss_after = cpu_seconds(pid), rss_mib(pid)
        finally:
            board.kill()
    print(f"{learners} learners reporting every second for {seconds} s ({elapsed:.1f} s in all)")
    print(f"  page poll (probe): {seen.page.summary()}, {len(seen.page.errors)} errors")
    print(f"  report (probe):    {seen.report.summary()}, {len(seen.report.errors)} errors")
    print(f"  reports (room):    {room_seen.summary()}, {len(room_seen.errors)} errors")
    print("    (the room's times include its own event loop's queue: the probe's do not)")
    if cpu_before is not None and cpu_after is not None:
        print(f"  board CPU: {100 * (cpu_after - cpu_before) / elapsed:.0f}% of one core")
    if rss_before is not None and rss_after is not None:
        print(f"  board RSS: {rss_before:.1f} MiB before, {rss_after:.1f} MiB after")
    for error in (room_seen.errors + seen.page.errors + seen.report.errors)[:5]:
        print(f"  error: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m board.loadtest", description=__doc__)
    parser.add_argument("--learners", type=int, default=200, help="learners in the room")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of reporting")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["probe"]:  # the probe process: python -m board.loadtest probe URL CODE S
        found = probe(argv[1], argv[2], float(argv[3]))
        print(json.dumps({key: asdict(timings) for key, timings in found.items()}))
        return 0
    args = parser.parse_args(argv)
    measure(args.learners, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scale: thousands of keep-alive connections at once, each making one request, then idle.

    python benchmarks/scale.py --connections 10000     (or: invoke bench-scale)

It starts the server (the reference, or with --server one of the others for comparison),
warms it up, and notes its resident memory (RSS). Then it opens CONNECTIONS connections, at
most --burst of them connecting at a time (a listening socket queues only so many), sends
one `GET /` on each, reads the whole response, and leaves the connection open and idle. Once
all are in, it waits --idle seconds, notes the RSS again and checks that every connection is
still open. It reports the errors (refused or timed-out connections, answers other than 200,
connections the server closed), which must be none, the RSS before and after, and the RSS
per idle connection (issue 19's target: under 20 KiB).

The client is one asyncio process on the other core; it raises its open-file limit, and so
the server's, which inherits it (workshop/files.py: allow_open_files).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field

from workshop import files, manifest

try:
    from benchmarks import bench, loadgen
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    import bench  # type: ignore[no-redef]
    import loadgen  # type: ignore[no-redef]

TARGET_KIB = 20  # issue 19: RSS per idle keep-alive connection


@dataclass
class Errors:
    refused: int = 0  # could not connect, or not within the timeout
    not_answered: int = 0  # connected, but no whole response within the timeout
    bad_status: int = 0  # answered with something other than 200
    closed: int = 0  # the server closed a connection that should have stayed open
    said: list[str] = field(default_factory=list)  # the first few reasons, for the report

    def total(self) -> int:
        return self.refused + self.not_answered + self.bad_status + self.closed

    def note(self, kind: str, why: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        example = f"{kind}: {why}"
        if len(self.said) < 5 and example not in self.said:
            self.said.append(example)


class IdleClient(asyncio.Protocol):
    """One connection: sends one request, reads its response, then stays open and idle."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buffer = b""
        self.answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(loadgen.HEAD_END)
        if head_end < 0 or self.answered.done():
            return
        if len(self.buffer) >= head_end + 4 + loadgen.content_length(self.buffer, head_end):
            self.answered.set_result(int(self.buffer[9:12]))  # "HTTP/1.1 200 OK"

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.answered.done():
            self.answered.set_exception(ConnectionError(f"closed before the answer ({exc})"))


async def open_idle(port: int, count: int, burst: int, timeout: float, errors: Errors) -> list:
    """COUNT connections, each answered once and left open; at most BURST connecting at once."""
    loop = asyncio.get_running_loop()
    request = loadgen.build_request("GET", "/", port, b"")
    clients: list[IdleClient] = []
    gate = asyncio.Semaphore(burst)

    async def one() -> None:
        async with gate:
            try:
                _, client = await asyncio.wait_for(
                    loop.create_connection(lambda: IdleClient(request), "127.0.0.1", port),
                    timeout,
                )
            except (OSError, asyncio.TimeoutError) as error:
                errors.note("refused", repr(error))
                return
            clients.append(client)
            try:
                status = await asyncio.wait_for(asyncio.shield(client.answered), timeout)
            except (ConnectionError, asyncio.TimeoutError) as error:
                errors.note("not_answered", repr(error))
                return
            if status != 200:
                errors.note("bad_status", f"status {status}")

    await asyncio.gather(*(one() for _ in range(count)))
    return clients


def close_all(clients: list[IdleClient]) -> None:
    for client in clients:
        client.transport.abort()  # no FIN handshake to wait for: the run is over


async def run(port: int, pid: int, args: argparse.Namespace, say) -> dict:
    errors = Errors()
    warm = await open_idle(port, min(args.burst, args.connections), args.burst, 10, Errors())
    close_all(warm)
    await asyncio.sleep(0.5)  # let the server drop them before the first reading
    before = bench.resident_mib(pid)
    started = time.perf_counter()
    clients = await open_idle(port, args.connections, args.burst, args.timeout, errors)
    opened = time.perf_counter() - started
    say(
        f"{len(clients):,} connected in {opened:.1f} s, "
        f"{sum(c.answered.done() and not c.answered.exception() for c in clients):,} answered"
    )
    await asyncio.sleep(args.idle)
    after = bench.resident_mib(pid)
    for client in clients:
        if not client.open and client.answered.done() and not client.answered.exception():
            errors.note("closed", "the server closed an idle keep-alive connection")
    still_open = sum(client.open for client in clients)
    close_all(clients)
    grown_kib = (after - before) * 1024 if before is not None and after is not None else None
    return {
        "connections": args.connections,
        "still_open": still_open,
        "seconds_to_open": round(opened, 2),
        "idle_s": args.idle,
        "errors": errors.total(),
        "error_kinds": {k: v for k, v in vars(errors).items() if k != "said" and v},
        "error_examples": errors.said,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "kib_per_connection": None if grown_kib is None else round(grown_kib / args.connections, 2),
    }


def measure(args: argparse.Namespace, say=print) -> dict:
    """Start the server, run the scale test against it, stop it; the report."""
    files.need_open_files(args.connections)  # in this client and in the server
    sketch_dir = args.sketch_dir or manifest.final().solution_dir()
    server = bench.one_server(sketch_dir, args.server)
    server_cores, client_cores, pinning = bench.pick_cores()
    say(
        f"scale: {server.name} ({server.note}), {args.connections:,} keep-alive connections, "
        f"{args.burst} connecting at a time; {pinning}"
    )
    process = server.start()
    try:
        bench.pin(process.proc.pid, server_cores)
        bench.pin(os.getpid(), client_cores)
        report = asyncio.run(run(process.port, process.proc.pid, args, say))
        if not process.alive():
            raise SystemExit(f"{server.name} died:\n{process.output.last_lines(20)}")
    finally:
        process.kill()
    return {"server": server.name, "note": server.note, **report}


def summary_lines(report: dict) -> list[str]:
    lines = [
        f"errors: {report['errors']}"
        + (f" {report['error_kinds']}; e.g. {report['error_examples']}" if report["errors"] else "")
        + f"; still open after {report['idle_s']:g} s idle: {report['still_open']:,} of "
        f"{report['connections']:,}"
    ]
    per = report["kib_per_connection"]
    if per is None:
        lines.append("resident memory: not measured (no /proc and no ps on this system)")
    else:
        mark = "✓" if per < TARGET_KIB and report["errors"] == 0 else "✗"
        lines.append(
            f"{report['server']} resident memory: {report['rss_before_mib']:.1f} MiB before, "
            f"{report['rss_after_mib']:.1f} MiB with {report['connections']:,} idle "
            f"connections: {per:.1f} KiB per connection (target < {TARGET_KIB} KiB, no "
            f"errors: {mark})"
        )
    return lines


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=10_000, help="how many (default 10000)")
    bench.one_server_options(p)
    p.add_argument("--burst", type=int, default=200, help="connections connecting at once")
    p.add_argument("--idle", type=float, default=2.0, help="seconds idle before measuring")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds per connect, answer")
    return p


def main(argv: list[str] | None = None, say=print) -> int:
    args = parser().parse_args(argv)
    report = measure(args, say)
    for line in summary_lines(report):
        say(line)
    bench.write_report(report, args.json, say)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

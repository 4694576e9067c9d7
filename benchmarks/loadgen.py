"""A small HTTP/1.1 load generator: asyncio, raw sockets, keep-alive, optional pipelining.

    python benchmarks/loadgen.py --port 8080 --path / --connections 50 --duration 5

It opens CONNECTIONS keep-alive connections to 127.0.0.1, and on each sends the same
request again as soon as the previous response is complete (or PIPELINE requests at a time,
without waiting in between). It prints one JSON line: requests completed, errors,
requests/s, and latency percentiles in milliseconds.

Its limits, stated in every result (`limits`): it is one Python process on one core, so it
can itself become the bottleneck above a few tens of thousands of requests/s; it reads only
responses with a Content-Length (no chunked bodies), which is all the benchmark apps send;
it only talks to 127.0.0.1. Use wrk when you have it: it is written in C and is not the
bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

LIMITS = (
    "built-in generator: one Python process (asyncio, no uvloop), Content-Length responses "
    "only; it may saturate before a fast server does"
)
HEAD_END = b"\r\n\r\n"


class Stats:
    def __init__(self) -> None:
        self.done = 0  # responses completed before the deadline
        self.errors = 0  # non-2xx responses, closed or refused connections
        self.latencies: list[float] = []  # seconds, send to last byte of the response
        self.running = True


class LoadConnection(asyncio.Protocol):
    """One keep-alive connection that sends PIPELINE requests, waits for their responses,
    and starts again."""

    def __init__(self, request: bytes, pipeline: int, stats: Stats, lost: asyncio.Future) -> None:
        self.batch = request * pipeline
        self.pipeline = pipeline
        self.stats = stats
        self.lost = lost
        self.buffer = b""
        self.waiting = 0  # responses still owed for the batch in flight
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.send_batch()

    def send_batch(self) -> None:
        self.waiting = self.pipeline
        self.sent_at = time.perf_counter()
        self.transport.write(self.batch)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        while True:
            head_end = buffer.find(HEAD_END)
            if head_end < 0:
                break
            size = content_length(buffer, head_end)
            end = head_end + 4 + size
            if len(buffer) < end:
                break
            self.on_response(buffer[9:10] == b"2")  # "HTTP/1.1 200 ..."
            buffer = buffer[end:]
        self.buffer = buffer

    def on_response(self, ok: bool) -> None:
        stats = self.stats
        if not stats.running:
            self.transport.close()
            return
        stats.done += 1
        if not ok:
            stats.errors += 1
        self.waiting -= 1
        if self.waiting == 0:
            stats.latencies.append(time.perf_counter() - self.sent_at)
            self.send_batch()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stats.running:
            self.stats.errors += 1  # the server closed a keep-alive connection under load
        if not self.lost.done():
            self.lost.set_result(None)


def content_length(buffer: bytes, head_end: int) -> int:
    """The Content-Length of the response whose head ends at HEAD_END (0 when absent)."""
    head = buffer[:head_end].lower()
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    line_end = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : line_end if line_end >= 0 else head_end])


def build_request(method: str, path: str, port: int, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: sketch-loadgen\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def run(
    port: int,
    request: bytes,
    connections: int,
    duration: float,
    pipeline: int,
) -> dict:
    loop = asyncio.get_running_loop()
    stats = Stats()
    losses: list[asyncio.Future] = []
    transports = []

    def factory() -> LoadConnection:
        lost = loop.create_future()
        losses.append(lost)
        return LoadConnection(request, pipeline, stats, lost)

    async def connect() -> None:
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(factory, "127.0.0.1", port), timeout=5
            )
            transports.append(transport)
        except (OSError, asyncio.TimeoutError):
            stats.errors += 1

    # Opening the connections is not measured: the clock starts once they are all open
    # (their first requests are already on the way, a head start of one batch each).
    await asyncio.gather(*(connect() for _ in range(connections)))
    stats.done = 0
    stats.latencies.clear()
    started = time.perf_counter()
    await asyncio.sleep(duration)
    stats.running = False
    elapsed = time.perf_counter() - started
    for transport in transports:
        transport.close()
    if losses:
        await asyncio.wait(losses, timeout=2)
    latencies = sorted(stats.latencies)
    return {
        "requests": stats.done,
        "errors": stats.errors,
        "seconds": round(elapsed, 3),
        "rps": round(stats.done / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "connections_open": len(transports),
        "limits": LIMITS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--path", default="/")
    parser.add_argument("--body-file", help="a file whose bytes are sent as the request body")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load")
    parser.add_argument("--pipeline", type=int, default=1, help="requests sent at once")
    args = parser.parse_args(argv)
    body = b""
    if args.body_file:
        with open(args.body_file, "rb") as file:
            body = file.read()
    request = build_request(args.method, args.path, args.port, body)
    result = asyncio.run(
        run(args.port, request, args.connections, args.duration, max(1, args.pipeline))
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

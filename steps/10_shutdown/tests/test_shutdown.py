"""Stage 10 over a real process: what happens to connections when the server is told to stop.

Each test runs a server of its own (`fresh=True`), starts a request that takes a while,
sends the process a signal, and then watches the connections, the exit code, and the
marker file where the app in apps.py records its handlers and hooks.

They spend their time waiting for slow handlers and exiting processes, and share nothing,
so they run side by side: the stage checks in the time of its slowest test.
"""

import asyncio
import signal
import time
from pathlib import Path

import pytest

from workshop.testing import Connection, expect, get, server_output

LOOK_DRAIN = "sketch/connections.py: Connections.shutdown"
LOOK_SHUTDOWN = "sketch/protocol.py: HttpProtocol.shutdown"
LOOK_IN_FLIGHT = f"{LOOK_DRAIN} (wait for busy connections) and {LOOK_SHUTDOWN} (let it finish)"
EXIT_WAIT = 3.0  # seconds a signalled server gets to exit
IDLE_CLOSE = 0.25  # seconds an idle connection may stay open after SIGTERM (the busy one takes 0.4)


def events(marker: Path) -> list[str]:
    return marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []


pytestmark = pytest.mark.side_by_side


def start(serve, tmp_path: Path, shutdown_timeout: float = 5.0):
    """A server of the test's own, and the marker file its app writes to."""
    marker = tmp_path / "marker"
    args = ("--shutdown-timeout", str(shutdown_timeout))
    server = serve("apps:shutdown_app", *args, env={"MARKER": str(marker)}, fresh=True)
    return server, marker


async def slow_request_running(
    server, ms: int, behind: bytes = b"", look: str = LOOK_IN_FLIGHT
) -> Connection:
    """Open a connection, send GET /slow?ms=MS (and BEHIND, pipelined), and return once its
    handler has started. LOOK is where a failure to answer on it points."""
    mark = server.output.total
    conn = await Connection.open(server, look=look)
    await conn.send(get(f"/slow?ms={ms}") + behind)
    output = await server_output(server, mark, "handler started")
    expect(
        "handler started" in output,
        "before the signal, GET /slow must reach its handler",
        sent=conn.sent,
        expected="the app's line `event: handler started ...`",
        got=output or "(no output)",
        look="sketch/protocol.py: HttpProtocol.on_request",
    )
    return conn


async def exit_code(server, timeout: float = EXIT_WAIT) -> int | None:
    return await asyncio.to_thread(server.wait, timeout)


async def test_a_request_in_flight_when_sigterm_arrives_still_gets_its_full_response(
    serve, tmp_path
):
    server, _ = start(serve, tmp_path)
    conn = await slow_request_running(server, ms=150)
    server.send_signal(signal.SIGTERM)
    reply = await conn.read_response()
    expect(
        reply.status == 200 and reply.text == "slept 150 ms\n",
        "SIGTERM while a request is being handled: stop taking new work, but let the "
        "request finish and write its whole response",
        sent=conn.sent + b" ... then SIGTERM while its handler ran",
        expected="200 OK, body 'slept 150 ms\\n'",
        got=reply.summary(),
        look=f"{LOOK_DRAIN} (wait for busy connections) and {LOOK_SHUTDOWN}",
    )
    expect(
        reply.headers.get("Connection", "").lower() == "close",
        "the last response before the server goes away says `Connection: close`, so the "
        "client does not send another request on it",
        sent=conn.sent,
        expected="a `Connection: close` header",
        got=reply.raw,
        look=LOOK_SHUTDOWN,
    )
    await conn.close()
    code = await exit_code(server)
    expect(
        code == 0,
        "once the last request is answered, the server runs its hooks and exits with code 0",
        sent="SIGTERM",
        expected="exit code 0",
        got="still running" if code is None else f"exit code {code}",
        look=f"{LOOK_DRAIN} and {LOOK_SHUTDOWN} (return as soon as the connection has "
        "closed, not when the timeout is up)",
    )


async def test_requests_queued_behind_the_one_in_flight_are_dropped_on_sigterm(serve, tmp_path):
    server, _ = start(serve, tmp_path)
    look = f"{LOOK_SHUTDOWN} (drop the requests still queued)"
    conn = await slow_request_running(server, ms=150, behind=get("/hello"), look=look)
    server.send_signal(signal.SIGTERM)
    reply = await conn.read_response()
    rest = await conn.read_until_close(timeout=1.0)
    expect(
        reply.status == 200
        and reply.headers.get("Connection", "").lower() == "close"
        and rest == b"",
        "SIGTERM while a request runs and another waits behind it, pipelined: the one in "
        "flight is answered, and its response is the last (`Connection: close`); the one "
        "queued is dropped unanswered, and the client sends it again on a new connection "
        "(RFC 9112, 9.3.2), to a server that is not going away",
        sent=conn.sent + b" ... then SIGTERM while the first handler ran",
        expected="200 with `Connection: close`, then the connection closed, nothing more",
        got=f"{reply.summary()}, Connection: {reply.headers.get('Connection', '(none)')}, "
        f"then {rest!r}",
        look=look,
    )
    await conn.close()


async def test_new_connections_are_refused_once_shutdown_has_begun(serve, tmp_path):
    server, _ = start(serve, tmp_path)
    conn = await slow_request_running(server, ms=150)
    mark = server.output.total
    server.send_signal(signal.SIGTERM)
    await server_output(server, mark, "Shutting down")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(server.host, server.port), 1)
    except (OSError, asyncio.TimeoutError) as error:
        refused, got = True, repr(error)
    else:
        writer.close()
        refused, got = False, "the connection was accepted"
    expect(
        refused,
        "after the signal the listening socket is closed: a new client is refused at once "
        "(a load balancer then sends it to another server)",
        sent="SIGTERM, then a new connection",
        expected="ConnectionRefusedError",
        got=got,
        look="sketch/runner.py: serve (server.close())",
    )
    reply = await conn.read_response()
    expect(
        reply.status == 200,
        "closing the listening socket must not touch the connections already open: the "
        "request in flight still gets its answer",
        sent=conn.sent + b" ... then SIGTERM",
        expected="200 OK",
        got=reply.summary(),
        look=LOOK_DRAIN,
    )
    await conn.close()


async def test_an_idle_keep_alive_connection_is_closed_at_once_on_sigterm(serve, tmp_path):
    server, _ = start(serve, tmp_path)
    async with await Connection.open(server) as idle:
        await idle.send(get("/hello"))
        await idle.read_response()  # now it waits, kept alive, for a request that never comes
        busy = await slow_request_running(server, ms=400)
        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        closed = await idle.is_closed(timeout=IDLE_CLOSE)
        took = time.monotonic() - started
        expect(
            closed,
            "an idle keep-alive connection has nothing in flight: on SIGTERM close it "
            "right away, do not wait for the keep-alive timeout nor for other connections",
            sent=idle.sent + b" (answered), then SIGTERM while another request ran",
            expected=f"the idle connection closed within {IDLE_CLOSE} s",
            got=f"closed after {took:.2f} s" if closed else f"still open after {IDLE_CLOSE} s",
            look=f"{LOOK_SHUTDOWN} (no worker: close now)",
        )
        expect(
            not await busy.is_closed(timeout=0.05),
            "closing the idle connections must leave the busy one open: it still has a "
            "request to answer (that the answer arrives is the first test's business)",
            sent=busy.sent + b" ... then SIGTERM",
            expected="the busy connection still open",
            got="the server closed it too",
            look=f"{LOOK_DRAIN} and {LOOK_SHUTDOWN} (a worker: let it finish)",
        )
        await busy.close()


async def test_a_handler_slower_than_the_shutdown_timeout_is_cancelled(serve, tmp_path):
    server, marker = start(serve, tmp_path, shutdown_timeout=0.15)
    conn = await slow_request_running(server, ms=30_000)
    server.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = await exit_code(server)
    took = time.monotonic() - started
    expect(
        code == 0 and took < 2.0,
        "with --shutdown-timeout 0.15, a handler still running 0.15 s after the signal is "
        "given up on: the process must exit soon after, with code 0",
        sent=conn.sent + b" (a 30 s handler), then SIGTERM",
        expected="exit code 0 within about 0.15 s",
        got=f"still running after {took:.1f} s" if code is None else f"exit {code} in {took:.2f} s",
        look=f"{LOOK_SHUTDOWN} (a bounded wait, then abort())",
    )
    recorded = events(marker)
    want = ["handler started (30000 ms)", "handler cancelled", "shutdown hook", "cleanup hook"]
    expect(
        recorded == want,
        "the handler that ran too long is cancelled (it sees CancelledError), and has "
        "unwound before the shutdown and cleanup hooks run (they may close what it uses)",
        sent="SIGTERM, shutdown timeout 0.15 s, handler of 30 s",
        expected=want,
        got=recorded,
        look=f"sketch/protocol.py: HttpProtocol.abort (wait for the handler) and {LOOK_SHUTDOWN}",
    )
    rest = await conn.read_until_close(timeout=1.0)
    expect(
        rest == b"",
        "the client of the cancelled handler sees the connection close, with no response",
        sent=conn.sent,
        expected="the connection closed, nothing written",
        got=rest,
        look="sketch/protocol.py: HttpProtocol.abort",
    )
    await conn.close()


async def test_shutdown_and_cleanup_hooks_run_after_the_requests_in_flight(serve, tmp_path):
    server, marker = start(serve, tmp_path)
    conn = await slow_request_running(server, ms=100)
    server.send_signal(signal.SIGTERM)
    await conn.read_response()
    await conn.close()
    code = await exit_code(server)
    want = ["handler started (100 ms)", "handler done", "shutdown hook", "cleanup hook"]
    expect(
        code == 0 and events(marker) == want,
        "on SIGTERM: finish the requests in flight, then run the on_shutdown hooks, then "
        "the on_cleanup hooks (a database pool must outlive the last handler using it)",
        sent="GET /slow?ms=100, then SIGTERM",
        expected=f"exit code 0 and the marker file {want}",
        got=f"exit code {code}, marker file {events(marker)}",
        look=f"{LOOK_DRAIN} and {LOOK_SHUTDOWN} (return only once every connection has "
        "closed: serve() runs the hooks right after)",
    )


async def test_a_second_signal_during_shutdown_stops_at_once(serve, tmp_path):
    server, marker = start(serve, tmp_path, shutdown_timeout=30)
    conn = await slow_request_running(server, ms=30_000)
    mark = server.output.total
    server.send_signal(signal.SIGTERM)
    await server_output(server, mark, "Shutting down")
    server.send_signal(signal.SIGINT)  # Ctrl-C: "I said stop"
    started = time.monotonic()
    code = await exit_code(server)
    took = time.monotonic() - started
    expect(
        code == 0 and took < 2.0,
        "a second signal while waiting for requests in flight means: do not wait any "
        "longer; abort them, run the hooks, exit 0",
        sent="SIGTERM, then SIGINT while a 30 s handler ran (shutdown timeout 30 s)",
        expected="exit code 0 within a moment of the second signal",
        got=f"still running after {took:.1f} s" if code is None else f"exit {code} in {took:.2f} s",
        look=f"{LOOK_SHUTDOWN} (a second signal aborts every connection: shutdown must then "
        "return, the connection has closed)",
    )
    expect(
        {"shutdown hook", "cleanup hook"} <= set(events(marker)),
        "even a hurried stop runs the shutdown and cleanup hooks",
        sent="SIGTERM, then SIGINT",
        expected="`shutdown hook` and `cleanup hook` in the marker file",
        got=events(marker),
        look=f"{LOOK_DRAIN} and {LOOK_SHUTDOWN} (serve() runs the hooks once they return)",
    )
    await conn.close()

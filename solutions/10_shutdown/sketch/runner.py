"""run_app: serve an Application until the process is told to stop."""

import asyncio
import signal
import sys

from sketch.app import Application
from sketch.limits import Limits
from sketch.protocol import HttpProtocol
from sketch.server import start_server


def run_app(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    header_timeout: float = 15.0,
) -> None:
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, then shut down gracefully.

    Requests in flight get up to SHUTDOWN_TIMEOUT seconds to finish; a second signal
    stops at once.
    """
    limits = Limits(keepalive_timeout=keepalive_timeout, header_timeout=header_timeout)
    asyncio.run(serve(app, host, port, limits, shutdown_timeout))


async def serve(
    app: Application, host: str, port: int, limits: Limits, shutdown_timeout: float
) -> None:
    await app.startup()  # before the first connection: a failing hook stops us here
    stop = stop_event()
    connections: set[HttpProtocol] = set()
    server = await start_server(lambda: HttpProtocol(app, limits, connections), host, port)
    await stop.wait()
    stop.clear()  # from now on, a second signal means: stop at once
    print("Shutting down: finishing the requests in flight", file=sys.stderr, flush=True)
    server.close()  # no new connections
    await drain(connections, shutdown_timeout, stop)
    await app.shutdown()
    await app.cleanup()


async def drain(connections: set[HttpProtocol], timeout: float, stop: asyncio.Event) -> None:
    """Close idle connections, give busy ones TIMEOUT seconds, then abort what is left."""
    for connection in list(connections):
        connection.shutdown()
    if connections:
        all_closed = asyncio.gather(*(c.closed for c in connections))
        second_signal = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            [all_closed, second_signal], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        second_signal.cancel()
        all_closed.cancel()
    for connection in list(connections):
        connection.abort()  # still busy after the timeout, or a second signal came


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the server can stop in an orderly way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

"""run_app: serve an Application until the process is told to stop."""

import asyncio
import signal
import sys

from sketch.app import Application
from sketch.limits import Limits
from sketch.protocol import HttpProtocol
from sketch.server import start_server

CANCEL_GRACE = 1.0  # seconds cancelled handlers get to unwind before the cleanup hooks run


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
    server.close()  # no new connections
    print("Shutting down: finishing the requests in flight", file=sys.stderr, flush=True)
    await drain(connections, shutdown_timeout, stop)
    await app.shutdown()
    await app.cleanup()


async def drain(connections: set[HttpProtocol], timeout: float, stop: asyncio.Event) -> None:
    """Close idle connections, give busy ones TIMEOUT seconds, then abort what is left."""
    # TODO(10_shutdown): Call shutdown() on every connection; wait (bounded, or until `stop`); abort the rest.
    raise NotImplementedError(
        "10_shutdown: sketch/runner.py: drain: Call shutdown() on every connection; wait (bounded, or until `stop`); abort the rest."
    )


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the server can stop in an orderly way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

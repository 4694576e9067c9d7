#: file from 04
"""run_app: serve an Application until the process is told to stop."""

import asyncio
#: from 07
import signal
#: end
#: from 10
import sys
#: end

from sketch.app import Application
#: from 09
from sketch.limits import Limits
#: end
from sketch.protocol import HttpProtocol
from sketch.server import start_server
#: from 10

CANCEL_GRACE = 1.0  # seconds cancelled handlers get to unwind before the cleanup hooks run
#: end


#: to 06
def run_app(app: Application, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve APP on HOST:PORT until Ctrl-C."""
    try:
        asyncio.run(serve(app, host, port))
    except KeyboardInterrupt:
        pass


async def serve(app: Application, host: str, port: int) -> None:
    #: todo 04 Start a server whose protocol factory makes an HttpProtocol(app); serve forever.
    server = await start_server(lambda: HttpProtocol(app), host, port)
    async with server:
        await server.serve_forever()
    #: end
#: end
#: from 07 to 08
def run_app(app: Application, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, with its hooks around."""
    asyncio.run(serve(app, host, port))
#: end
#: from 09
def run_app(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    #: from 10
    shutdown_timeout: float = 60.0,
    #: end
    keepalive_timeout: float = 75.0,
    header_timeout: float = 15.0,
) -> None:
    #: to 09
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, with its hooks around."""
    #: end
    #: from 10
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, then shut down gracefully.

    Requests in flight get up to SHUTDOWN_TIMEOUT seconds to finish; a second signal
    stops at once.
    """
    #: end
    limits = Limits(keepalive_timeout=keepalive_timeout, header_timeout=header_timeout)
    #: to 09
    asyncio.run(serve(app, host, port, limits))
    #: end
    #: from 10
    asyncio.run(serve(app, host, port, limits, shutdown_timeout))
    #: end
#: end
#: from 07 to 09


#: to 08
async def serve(app: Application, host: str, port: int) -> None:
#: end
#: from 09
async def serve(app: Application, host: str, port: int, limits: Limits) -> None:
#: end
    #: todo 07 Run startup hooks, serve until a signal, then close and run shutdown and cleanup.
    await app.startup()  # before the first connection: a failing hook stops us here
    stop = stop_event()
    #: to 08
    server = await start_server(lambda: HttpProtocol(app), host, port)
    #: end
    #: from 09
    server = await start_server(lambda: HttpProtocol(app, limits), host, port)
    #: end
    try:
        await stop.wait()
    finally:
        server.close()
        await app.shutdown()
        await app.cleanup()
    #: end
#: end
#: from 10


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
    #: todo 10 Call shutdown() on every connection; wait (bounded, or until `stop`); abort the rest.
    for connection in list(connections):
        connection.shutdown()
    if connections:
        all_closed = asyncio.create_task(asyncio.wait([c.closed for c in connections]))
        second_signal = asyncio.create_task(stop.wait())
        await asyncio.wait(
            [all_closed, second_signal], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        all_closed.cancel()
        second_signal.cancel()
    busy = [c.worker for c in connections if c.worker is not None]
    for connection in list(connections):
        connection.abort()  # still busy after the timeout, or a second signal came
    if busy:
        # Let the cancelled handlers unwind before the cleanup hooks close what they use.
        await asyncio.wait(busy, timeout=CANCEL_GRACE)
    #: end
#: end
#: from 07


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the server can stop in an orderly way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop
#: end

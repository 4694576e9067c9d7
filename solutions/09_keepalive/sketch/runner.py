"""run_app: serve an Application until the process is told to stop."""

import asyncio
import signal

from sketch.app import Application
from sketch.connections import Connections
from sketch.limits import Limits
from sketch.protocol import HttpProtocol
from sketch.server import start_server


def run_app(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    keepalive_timeout: float = 75.0,
    header_timeout: float = 15.0,
    body_timeout: float = 60.0,
    max_connections: int | None = None,
) -> None:
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, with its hooks around.

    The other arguments are the server's limits (sketch/limits.py).
    """
    limits = Limits(
        client_max_size=app.client_max_size,
        max_connections=max_connections,
        keepalive_timeout=keepalive_timeout,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
    asyncio.run(serve(app, host, port, limits))


async def serve(app: Application, host: str, port: int, limits: Limits) -> None:
    await app.startup()  # before the first connection: a failing hook stops us here
    stop = stop_event()
    connections = Connections()
    server = await start_server(lambda: HttpProtocol(app, limits, connections), host, port)
    try:
        await stop.wait()
    finally:
        server.close()
        await app.shutdown()
        await app.cleanup()


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the server can stop in an orderly way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

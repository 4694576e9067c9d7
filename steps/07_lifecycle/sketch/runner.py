"""run_app: serve an Application until the process is told to stop."""

import asyncio
import signal

from sketch.app import Application
from sketch.protocol import HttpProtocol
from sketch.server import start_server


def run_app(app: Application, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, with its hooks around."""
    asyncio.run(serve(app, host, port))


async def serve(app: Application, host: str, port: int) -> None:
    # TODO(07_lifecycle): Run startup hooks, serve until a signal, then close and run shutdown and cleanup.
    raise NotImplementedError(
        "07_lifecycle: sketch/runner.py: serve: Run startup hooks, serve until a signal, then close and run shutdown and cleanup."
    )


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the server can stop in an orderly way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

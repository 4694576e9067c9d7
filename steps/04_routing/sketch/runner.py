"""run_app: serve an Application until the process is told to stop."""

import asyncio

from sketch.app import Application
from sketch.protocol import HttpProtocol
from sketch.server import start_server


def run_app(app: Application, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve APP on HOST:PORT until Ctrl-C."""
    try:
        asyncio.run(serve(app, host, port))
    except KeyboardInterrupt:
        pass


async def serve(app: Application, host: str, port: int) -> None:
    # TODO(04_routing): Start a server whose protocol factory makes an HttpProtocol(app); serve forever.
    raise NotImplementedError(
        "04_routing: sketch/runner.py: serve: Start a server whose protocol factory makes an HttpProtocol(app); serve forever."
    )

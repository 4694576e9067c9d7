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
    server = await start_server(lambda: HttpProtocol(app), host, port)
    async with server:
        await server.serve_forever()

#: file from routing
"""run_app: serve an Application until the process is told to stop."""

import asyncio

#: from lifecycle
import signal

#: end lifecycle
#: from shutdown
import sys
#: end shutdown

from sketch.app import Application

#: from keepalive
from sketch.connections import Connections
from sketch.limits import Limits

#: end keepalive
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
    body_timeout: float = 60.0,
    max_connections: int | None = None,
) -> None:
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, then shut down gracefully.

    Requests in flight get up to SHUTDOWN_TIMEOUT seconds to finish; a second signal
    stops at once. The other arguments are the server's limits (sketch/limits.py).
    """
    limits = Limits(
        client_max_size=app.client_max_size,
        max_connections=max_connections,
        keepalive_timeout=keepalive_timeout,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
    asyncio.run(serve(app, host, port, limits, shutdown_timeout))


#: variant run_app until lifecycle
def run_app_until_interrupted(
    app: Application, *, host: str = "127.0.0.1", port: int = 8080
) -> None:
    """Serve APP on HOST:PORT until Ctrl-C."""
    try:
        asyncio.run(serve_until_interrupted(app, host, port))
    except KeyboardInterrupt:
        pass


#: variant run_app from lifecycle until keepalive
def run_app_with_hooks(app: Application, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve APP on HOST:PORT until SIGINT or SIGTERM, with its hooks around."""
    asyncio.run(serve_with_hooks(app, host, port))


#: variant run_app from keepalive until shutdown
def run_app_with_limits(
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
    asyncio.run(serve_with_limits(app, host, port, limits))


async def serve(
    app: Application, host: str, port: int, limits: Limits, shutdown_timeout: float
) -> None:
    await app.startup()  # before the first connection: a failing hook stops us here
    stop = stop_event()
    connections = Connections()
    server = await start_server(lambda: HttpProtocol(app, limits, connections), host, port)
    await stop.wait()
    stop.clear()  # from now on, a second signal means: stop at once
    server.close()  # no new connections
    print("Shutting down: finishing the requests in flight", file=sys.stderr, flush=True)
    await drain(connections, shutdown_timeout, stop)
    await app.shutdown()
    await app.cleanup()


#: variant serve until lifecycle
async def serve_until_interrupted(app: Application, host: str, port: int) -> None:
    #: todo routing Start a server whose protocol factory makes an HttpProtocol(app); serve forever.
    server = await start_server(lambda: HttpProtocol(app), host, port)
    async with server:
        await server.serve_forever()
    #: end routing


#: variant serve from lifecycle until keepalive
async def serve_with_hooks(app: Application, host: str, port: int) -> None:
    #: todo lifecycle Run startup hooks, serve until a signal, then close and run shutdown and
    #:     cleanup.
    await app.startup()  # before the first connection: a failing hook stops us here
    stop = stop_event()
    server = await start_server(lambda: HttpProtocol(app), host, port)
    try:
        await stop.wait()
    finally:
        server.close()
        await app.shutdown()
        await app.cleanup()
    #: end lifecycle


#: mistake server-not-closed: serve in lifecycle
#:     never calls server.close(): it goes on accepting connections while the hooks close
#:     what the handlers use
async def serve_still_listening(app: Application, host: str, port: int) -> None:
    await app.startup()
    stop = stop_event()
    await start_server(lambda: HttpProtocol(app), host, port)
    try:
        await stop.wait()
    finally:
        await app.shutdown()
        await app.cleanup()


#: mistake cleanup-outside-finally: serve in lifecycle
#:     runs the hooks after the wait, not in a `finally:`: a wait that ends in an exception
#:     (its task cancelled) skips them
async def serve_without_finally(app: Application, host: str, port: int) -> None:
    await app.startup()
    stop = stop_event()
    server = await start_server(lambda: HttpProtocol(app), host, port)
    await stop.wait()
    server.close()
    await app.shutdown()
    await app.cleanup()


#: mistake serving-before-startup: serve in lifecycle
#:     starts the server first: a request may reach the app before its startup hooks ran
async def serve_before_startup(app: Application, host: str, port: int) -> None:
    stop = stop_event()
    server = await start_server(lambda: HttpProtocol(app), host, port)
    await app.startup()
    try:
        await stop.wait()
    finally:
        server.close()
        await app.shutdown()
        await app.cleanup()


#: mistake exits-at-once-on-a-signal: serve in lifecycle
#:     serves for ever, as stage 04 did: SIGTERM kills the process, no hook runs
async def serve_until_killed(app: Application, host: str, port: int) -> None:
    await app.startup()
    server = await start_server(lambda: HttpProtocol(app), host, port)
    try:
        async with server:
            await server.serve_forever()
    finally:
        await app.shutdown()
        await app.cleanup()


#: variant serve from keepalive until shutdown
async def serve_with_limits(app: Application, host: str, port: int, limits: Limits) -> None:
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


#: since shutdown
async def drain(connections: Connections, timeout: float, stop: asyncio.Event) -> None:
    """Let every connection finish, TIMEOUT seconds at most; a second signal cuts it short."""
    finishing = asyncio.create_task(connections.shutdown(timeout))
    second_signal = asyncio.create_task(stop.wait())
    await asyncio.wait([finishing, second_signal], return_when=asyncio.FIRST_COMPLETED)
    second_signal.cancel()
    if not finishing.done():
        await connections.abort()  # the second signal: give up on them all now
    await finishing


#: since lifecycle
def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the server can stop in an orderly way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

"""Open a listening socket on the running event loop and say where it is."""

import asyncio
from collections.abc import Callable


async def start_server(
    protocol_factory: Callable[[], asyncio.Protocol], host: str, port: int
) -> asyncio.Server:
    """Listen on HOST:PORT; every new connection gets its own protocol object.

    asyncio calls `protocol_factory()` once per accepted connection, so no state is ever
    shared between two clients by accident.
    """
    #: todo echo `await loop.create_server(...)` on the running loop, then announce(server) and
    #:     return it.
    loop = asyncio.get_running_loop()
    # backlog: connections the OS queues until we accept them (asyncio's default is 100;
    # a burst of a thousand clients connecting at once would see some refused).
    server = await loop.create_server(protocol_factory, host, port, backlog=1024)
    announce(server)
    return server
    #: end echo


#: mistake get-event-loop: start_server in echo
#:     reaches the loop with asyncio.get_event_loop(), the old way, deprecated outside a loop
async def start_server_on_the_old_loop(
    protocol_factory: Callable[[], asyncio.Protocol], host: str, port: int
) -> asyncio.Server:
    loop = asyncio.get_event_loop()
    server = await loop.create_server(protocol_factory, host, port, backlog=1024)
    announce(server)
    return server


def announce(server: asyncio.Server) -> None:
    """Print the one line that tests, graders and people wait for (port 0 is resolved)."""
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Serving on http://{host}:{port}", flush=True)


#: until routing
async def serve_forever(
    protocol_factory: Callable[[], asyncio.Protocol], host: str, port: int
) -> None:
    """Serve until the task is cancelled (Ctrl-C under `asyncio.run`)."""
    server = await start_server(protocol_factory, host, port)
    async with server:
        await server.serve_forever()

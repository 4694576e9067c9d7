#: file from keepalive
"""The open connections of a server: how many there are, and, at shutdown, each of them.

Each connection adds itself when it is made and leaves when it is lost. A server capped at
`max_connections` answers 503 on a connection beyond the cap. At shutdown the server asks
them all at once to finish (`HttpProtocol.shutdown`), and waits for the last.
"""

#: from shutdown
import asyncio

#: end shutdown
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sketch.protocol import HttpProtocol


class Connections:
    """The register of a server's open connections."""

    def __init__(self) -> None:
        self.open: set[HttpProtocol] = set()

    def add(self, connection: "HttpProtocol") -> None:
        self.open.add(connection)

    def discard(self, connection: "HttpProtocol") -> None:
        self.open.discard(connection)

    def full(self, max_connections: int | None) -> bool:
        """MAX_CONNECTIONS are open already (None: there is no limit)."""
        return max_connections is not None and len(self.open) >= max_connections

    #: since shutdown
    async def shutdown(self, timeout: float) -> None:
        """Ask every connection to finish within TIMEOUT seconds; return once all have."""
        #: todo shutdown Await connection.shutdown(timeout) for every connection in a copy of
        #:     self.open, all at once (asyncio.gather).
        await asyncio.gather(*(connection.shutdown(timeout) for connection in list(self.open)))
        #: end shutdown

    #: mistake shutdown-not-awaited: shutdown in shutdown
    #:     starts the connections' shutdowns but does not await them: the hooks run, the
    #:     process exits, and the request in flight is cut off
    async def shutdown_in_the_background(self, timeout: float) -> None:
        asyncio.gather(*(connection.shutdown(timeout) for connection in list(self.open)))

    #: since shutdown
    async def abort(self) -> None:
        """Give up on every connection now: a second signal means stop at once."""
        await asyncio.gather(*(connection.abort() for connection in list(self.open)))

"""The open connections of a server: how many there are, and, at shutdown, each of them.

Each connection adds itself when it is made and leaves when it is lost. A server capped at
`max_connections` answers 503 on a connection beyond the cap. At shutdown the server asks
them all at once to finish (`HttpProtocol.shutdown`), and waits for the last.
"""

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

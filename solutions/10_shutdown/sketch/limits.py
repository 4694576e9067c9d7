"""What a client may send, and how long it may take: the server's defences.

Every number here bounds memory or time that a client could otherwise make the server
spend. The sizes follow aiohttp's defaults. The parser (sketch/parser.py) enforces the
sizes, the connection (sketch/protocol.py) the times and the number of connections.
`run_app` makes the server's Limits from its arguments and the app's `client_max_size`.
"""

from dataclasses import dataclass


class RequestRejected(Exception):
    """A request the server will not serve: answered with `status`, then the connection closes.

    It waits in a connection's queue like a request, behind those read before it.
    """

    keep_alive = False  # the connection closes after its answer (see HttpProtocol.is_last)

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def body_too_large(client_max_size: int) -> RequestRejected:
    return RequestRejected(413, f"the request body is over {client_max_size} bytes")


@dataclass(frozen=True)
class Limits:
    max_line_size: int = 8190  # bytes in the request target, or in a chunk's size line
    max_field_size: int = 8190  # bytes in one header, name and value
    max_headers: int = 100
    max_head_size: int = 64 * 1024  # bytes from the request line to the end of the headers
    client_max_size: int = 1024**2  # bytes of body (aiohttp's default; the app's setting)
    max_pipeline: int = 16  # requests waiting on one connection before we stop reading
    max_connections: int | None = None  # open at once; beyond it: 503 (None: no limit)
    keepalive_timeout: float = 75.0  # seconds an idle connection is kept open
    header_timeout: float = 15.0  # seconds a client may take to send a request head
    body_timeout: float = 60.0  # seconds a client may take to send a body, once its head is in

#: file from keepalive
"""What a client may send, and how long it may take: the server's defences.

Every number here bounds memory or time that a client could otherwise make the server
spend. The sizes follow aiohttp's defaults.
"""

from dataclasses import dataclass


class RequestRejected(Exception):
    """A request the server will not process; answered with `status`, then closed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    max_line_size: int = 8190  # bytes in the request target
    max_field_size: int = 8190  # bytes in one header, name and value
    max_headers: int = 100
    max_head_size: int = 64 * 1024  # bytes from the request line to the end of the headers
    client_max_size: int = 1024**2  # bytes of body (aiohttp's default)
    max_pipeline: int = 16  # requests waiting on one connection before we stop reading
    keepalive_timeout: float = 75.0  # seconds an idle connection is kept open
    header_timeout: float = 15.0  # seconds a client may take to send a request head

    def check_head(self, version: str, headers: list[tuple[bytes, bytes]]) -> None:
        """Refuse, once the headers are in, what no body or handler should ever see."""
        names = {name.lower() for name, _ in headers}
        if version == "1.1" and b"host" not in names:
            raise RequestRejected(400, "an HTTP/1.1 request must have a Host header")
        for name, value in headers:
            name = name.lower()
            if name == b"content-length" and int(value) > self.client_max_size:
                raise RequestRejected(413, "the request body is too large")
            if name == b"expect" and value.lower() != b"100-continue":
                raise RequestRejected(417, "the only expectation we meet is 100-continue")

    @staticmethod
    def expects_continue(headers: list[tuple[bytes, bytes]]) -> bool:
        return any(n.lower() == b"expect" and v.lower() == b"100-continue" for n, v in headers)

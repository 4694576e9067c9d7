"""Turn a stream of bytes into complete requests, with httptools doing the hard part.

httptools (a binding to llhttp, Node.js's parser) reads bytes as they come and calls
methods on this object: `on_url`, `on_header`, `on_body` and friends. TCP delivers bytes in
arbitrary pieces, so one URL or body may arrive over several calls: we accumulate, and hand
on a `RawRequest` only when `on_message_complete` says the message is whole.
"""

from collections.abc import Callable
from dataclasses import dataclass

import httptools


@dataclass
class RawRequest:
    """A request as it was read off the wire, before any interpretation."""

    method: str  # "GET"
    target: bytes  # the request-target, as sent: b"/search?q=asyncio"
    version: str  # "1.1"
    headers: list[tuple[bytes, bytes]]  # in order, repeats kept
    body: bytes


class RequestParser:
    """Feeds bytes to httptools and passes each complete request to `on_request`."""

    def __init__(self, on_request: Callable[[RawRequest], None]) -> None:
        self.on_request = on_request
        self.parser = httptools.HttpRequestParser(self)
        self.on_message_begin()

    def feed(self, data: bytes) -> None:
        """Parse what arrived; raises httptools.HttpParserError on malformed input."""
        self.parser.feed_data(data)

    # --- callbacks, called by httptools from inside feed_data ---------------------------

    def on_message_begin(self) -> None:
        self.url = bytearray()
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # Whitespace around a value is not part of it (RFC 9110, 5.5): llhttp drops what comes
        # before the value, not what comes after.
        value = value.rstrip(b" \t")
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        request = RawRequest(
            method=self.parser.get_method().decode("ascii"),
            target=bytes(self.url),
            version=self.parser.get_http_version(),
            headers=self.headers,
            body=bytes(self.body),
        )
        self.on_request(request)

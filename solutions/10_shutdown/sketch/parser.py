"""Turn a stream of bytes into complete requests, with httptools doing the hard part.

httptools (a binding to llhttp, Node.js's parser) reads bytes as they come and calls
methods on this object: `on_url`, `on_header`, `on_body` and friends. TCP delivers bytes in
arbitrary pieces, so one URL or body may arrive over several calls: we accumulate, and hand
on a `RawRequest` only when `on_message_complete` says the message is whole.
"""

from collections.abc import Callable
from dataclasses import dataclass

import httptools

from sketch.limits import Limits, RequestRejected, body_too_large
from sketch.rules import check_fields, check_request_line

# Bytes handed to llhttp at a time: between two pieces we see how far it got (RequestParser.feed).
PIECE = 4096


@dataclass
class RawRequest:
    """A request as it was read off the wire, before any interpretation."""

    method: str  # "GET"
    target: bytes  # the request-target, as sent: b"/search?q=asyncio"
    version: str  # "1.1"
    headers: list[tuple[bytes, bytes]]  # in order, repeats kept
    body: bytes
    keep_alive: bool = False  # may the connection serve another request after this one?


class RequestParser:
    """Feeds bytes to httptools and passes each complete request to `on_request`."""

    def __init__(
        self,
        on_request: Callable[[RawRequest], None],
        limits: Limits = Limits(),
        on_expect_continue: Callable[[], None] = lambda: None,
    ) -> None:
        self.on_request = on_request
        self.limits = limits
        self.on_expect_continue = on_expect_continue
        self.parser = httptools.HttpRequestParser(self)
        self.in_head = True  # until the end of the headers: the bytes coming are a head
        self.head_size = 0  # bytes of the current head received so far
        self.framing = 0  # bytes of the current body read since the last of its data
        self.on_message_begin()

    def feed(self, data: bytes) -> None:
        """Parse what arrived; raises httptools.HttpParserError on malformed input."""
        if self.in_head:
            self.head_size += len(data)  # reset by on_headers_complete if the head ends here
        if len(data) <= PIECE:
            self.feed_piece(data)
        else:  # in pieces, so that feed_piece sees how far llhttp got after each
            view = memoryview(data)  # pieces of it, not copies
            for start in range(0, len(data), PIECE):
                try:
                    self.feed_piece(view[start : start + PIECE])
                except httptools.HttpParserUpgrade as upgrade:  # say where it stopped in DATA
                    raise httptools.HttpParserUpgrade(start + upgrade.args[0]) from None
        # httptools buffers a header until it is complete: bound what it may hold. Checked
        # after feeding, so a body that came in the same piece as its head is not counted.
        if self.in_head and self.head_size > self.limits.max_head_size:
            raise RequestRejected(431, "the request head is too large")

    def feed_piece(self, piece: bytes | memoryview) -> None:
        """Parse a piece of at most PIECE bytes; bound the framing of a chunked body."""
        body_size = len(self.body)
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserCallbackError as error:
            # A callback raised: one of our limits (the client's fault, RequestRejected), or a
            # bug of ours, which must not pass for a malformed request. Raise what it raised.
            raise (error.__context__ or error) from None
        # llhttp reads a chunked body's framing (chunk sizes, their extensions, trailers)
        # without telling us: a piece of a body that brought none of its data was all framing.
        if self.in_head or len(self.body) > body_size:
            self.framing = 0
        else:
            self.framing += len(piece)
            if self.framing > self.limits.max_line_size:
                raise RequestRejected(400, "a chunk-size line or a trailer is too long")

    # --- callbacks, called by httptools from inside feed_data ---------------------------

    def on_message_begin(self) -> None:
        self.url = bytearray()
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.limits.max_line_size:
            raise RequestRejected(414, "the request target is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:  # a trailer, after a chunked body: not a header (RFC 9110, 6.5.1)
            return
        # Whitespace around a value is not part of it (RFC 9110, 5.5): llhttp drops what comes
        # before the value, not what comes after.
        value = value.rstrip(b" \t")
        self.headers.append((name, value))
        if len(name) + len(value) > self.limits.max_field_size:
            raise RequestRejected(431, "a request header is too large")
        if len(self.headers) > self.limits.max_headers:
            raise RequestRejected(431, "the request has too many headers")

    @property
    def waiting_for(self) -> str | None:
        """The part of a request that has begun to arrive but is not all in: "head", "body",
        or None between requests."""
        if not self.in_head:
            return "body"
        return "head" if self.head_size > 0 else None

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_size = 0
        version = self.parser.get_http_version()
        waits_for_continue = self.check_head(version)
        # An HTTP/1.0 client knows no 100 Continue: it sends its body without waiting.
        if waits_for_continue and version == "1.1":
            self.on_expect_continue()

    def check_head(self, version: str) -> bool:
        """Refuse, once the headers are in, what no body or handler should ever see. Returns
        whether the client waits for `100 Continue` before it sends the body."""
        check_request_line(self.parser.get_method(), self.url, version)  # sketch/rules.py
        return check_fields(version, self.headers, self.limits.client_max_size)

    def on_body(self, body: bytes) -> None:
        self.body += body
        if len(self.body) > self.limits.client_max_size:  # a chunked body, as it streams
            raise body_too_large(self.limits.client_max_size)

    def on_message_complete(self) -> None:
        request = RawRequest(
            method=self.parser.get_method().decode("ascii"),
            target=bytes(self.url),
            version=self.parser.get_http_version(),
            headers=self.headers,
            body=bytes(self.body),
            keep_alive=self.parser.should_keep_alive(),
        )
        self.on_request(request)
        self.in_head = True  # whatever comes next is the head of the next request

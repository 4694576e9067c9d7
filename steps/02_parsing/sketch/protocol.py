"""One connection: bytes in, bytes out.

asyncio creates one protocol object per connection and calls its methods as things happen:
`connection_made` once, `data_received` for every chunk that arrives, `connection_lost` at
the end. The methods must return quickly: they run on the event loop, between everyone
else's work.
"""

import asyncio
from http import HTTPStatus

import httptools

from sketch.parser import RawRequest, RequestParser


class HttpProtocol(asyncio.Protocol):
    """Reads an HTTP/1.1 request from a connection, answers it, and closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.parser = RequestParser(self.on_request)

    def data_received(self, data: bytes) -> None:
        # TODO(02_parsing): Feed the bytes to self.parser; on httptools.HttpParserError answer 400 and close; httptools.HttpParserUpgrade is no error: carry on.
        raise NotImplementedError(
            "02_parsing: sketch/protocol.py: HttpProtocol.data_received: Feed the bytes to self.parser; on httptools.HttpParserError answer 400 and close; httptools.HttpParserUpgrade is no error: carry on."
        )

    def on_request(self, raw: RawRequest) -> None:
        """Answer with a plain-text summary of what was parsed, then close."""
        lines = [f"{raw.method} {raw.target.decode('latin-1')} HTTP/{raw.version}"]
        lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in raw.headers]
        lines += ["", f"body: {len(raw.body)} bytes"]
        body = ("\n".join(lines) + "\n").encode("utf-8")
        self.transport.write(
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n"
            b"\r\n" + body
        )
        self.transport.close()

    def send_error(self, status: int, body: bytes) -> None:
        """Answer a request we could not read, then close: the byte stream is unusable."""
        self.transport.write(
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("ascii")
            + b"Content-Type: text/plain; charset=utf-8\r\n"
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n"
            + b"Connection: close\r\n"
            + b"\r\n"
            + body
        )
        self.transport.close()

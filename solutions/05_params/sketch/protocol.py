"""One connection: bytes in, bytes out.

asyncio creates one protocol object per connection and calls its methods as things happen:
`connection_made` once, `data_received` for every chunk that arrives, `connection_lost` at
the end. The methods must return quickly: they run on the event loop, between everyone
else's work.
"""

import asyncio
import logging
from typing import TYPE_CHECKING

import httptools

from sketch.parser import RawRequest, RequestParser
from sketch.request import Request
from sketch.response import Response

if TYPE_CHECKING:
    from sketch.app import Application

log = logging.getLogger("sketch")


class HttpProtocol(asyncio.Protocol):
    """Reads an HTTP/1.1 request from a connection, answers it, and closes."""

    def __init__(self, app: "Application") -> None:
        self.app = app

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.parser = RequestParser(self.on_request)
        self.task: asyncio.Task[None] | None = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed(data)
        except httptools.HttpParserUpgrade:
            pass  # an upgrade we do not speak: the request itself was read and is answered
        except httptools.HttpParserError:
            self.send_error(400, b"400: Bad Request: the request could not be parsed.\n")

    def on_request(self, raw: RawRequest) -> None:
        """Run the handler in a task of its own: it may await, data_received may not."""
        if self.task is not None:
            return  # we close after one response, so a second request is not answered
        if len(raw.body) > self.app.client_max_size:  # read already, but no handler sees it
            self.send_error(413, b"413: Request Entity Too Large: the body is over the limit.\n")
            return
        request = Request(raw, self.app, self.transport)
        self.task = asyncio.get_running_loop().create_task(self.respond(request))

    async def respond(self, request: Request) -> None:
        try:
            response = await self.app.handle(request)
            data = self.encode(response, request)
        except Exception:
            # The last safety net: log why, and tell the client no more than that it failed.
            log.exception("Error handling %s %s", request.method, request.path)
            data = self.encode(Response(text="500: Internal Server Error\n", status=500), request)
        self.transport.write(data)
        self.transport.close()

    @staticmethod
    def encode(response: Response, request: Request) -> bytes:
        # Until stage 09 every connection serves one request: say so, then close.
        response.headers["Connection"] = "close"
        return response.encode(head=request.method == "HEAD")

    def send_error(self, status: int, body: bytes) -> None:
        """Answer a request we could not read, then close: the byte stream is unusable."""
        response = Response(body, status=status, headers={"Connection": "close"})
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        self.transport.write(response.encode())
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()  # the client is gone: stop working for it

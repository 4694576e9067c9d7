"""One connection: bytes in, bytes out.

asyncio creates one protocol object per connection and calls its methods as things happen:
`connection_made` once, `data_received` for every chunk that arrives, `connection_lost` at
the end. The methods must return quickly: they run on the event loop, between everyone
else's work.
"""

import asyncio

import httptools

from sketch.parser import RawRequest, RequestParser
from sketch.request import Request
from sketch.response import Response


class HttpProtocol(asyncio.Protocol):
    """Reads an HTTP/1.1 request from a connection, answers it, and closes."""

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
        request = Request(raw, transport=self.transport)
        self.task = asyncio.get_running_loop().create_task(self.respond(request))
        self.task.add_done_callback(self.respond_done)

    def respond_done(self, task: "asyncio.Task[None]") -> None:
        """If answering failed, print why and hang up: never leave a client waiting."""
        if task.cancelled() or task.exception() is None:
            return
        task.get_loop().call_exception_handler(
            {"message": "Answering a request failed", "exception": task.exception()}
        )
        self.transport.close()

    async def respond(self, request: Request) -> None:
        response = await demo_handler(request)
        # TODO(03_responses): Write the response's bytes (headers only for HEAD), then close the connection.
        raise NotImplementedError(
            "03_responses: sketch/protocol.py: HttpProtocol.respond: Write the response's bytes (headers only for HEAD), then close the connection."
        )

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


async def demo_handler(request: Request) -> Response:
    """The demo of stage 03: say hello, in plain text or JSON."""
    from sketch.response import json_response

    if request.path == "/json":
        seen = {"method": request.method, "url": str(request.url), "remote": request.remote}
        return json_response({**seen, "query": dict(request.query)})
    name = request.query.get("name", "world")
    return Response(text=f"Hello, {name}!\n")

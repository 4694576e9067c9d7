"""The limit: a bare asyncio Protocol on httptools, one Task per request, a fixed response.

    python bare_protocol.py --port 0

This is what any framework on asyncio and httptools whose handlers may await has to do for
every request, and nothing more: feed the bytes to httptools, keep the URL and the headers
its callbacks hand over, start a Task for the request (a handler that may await needs one),
and write one fixed plain-text response with a Content-Length, keeping the connection open
when the client allows it. No real framework can be faster on the same loop and parser, so
`invoke bench` divides the reference's requests/s by this server's: the share of the limit
it reaches.

What it leaves out, on purpose (each is work a real framework does, and pays for):
- routing and every answer but one: `/`, `/users/ada` and `POST /echo` all get
  "Hello, World!" (the echo's body is parsed by httptools and dropped, never decoded);
- Request and Response objects, headers as a mapping, middleware, error pages;
- the `Date` header, limits on sizes, timeouts, flow control (`pause_writing`), and
  graceful shutdown;
- ordering of pipelined requests whose handlers really await: here every Task finishes in
  its first step, so the responses leave in the order the requests came.
"""

import asyncio

import httptools
from listen import address  # beside this file

BODY = b"Hello, World!"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
KEEP_OPEN = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
CLOSE = HEAD + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


async def handler(url: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """Stands for a framework's handler: a coroutine that could await, but does not."""
    return BODY


class BareProtocol(asyncio.Protocol):
    """One connection: httptools calls the `on_*` methods from inside `feed_data`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(BAD_REQUEST)
            self.transport.close()

    # The least any framework keeps of a request: its target and its headers.
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url  # the target may come in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        keep_alive = self.parser.should_keep_alive()
        # The loop keeps the Task until its first step has run; this one ends in that step.
        self.loop.create_task(self.answer(self.url, self.headers, keep_alive))

    async def answer(self, url: bytes, headers: list, keep_alive: bool) -> None:
        await handler(url, headers)  # the body is always BODY: the responses are prepared
        if self.transport.is_closing():
            return  # the client left while the request waited for its turn
        self.transport.write(KEEP_OPEN if keep_alive else CLOSE)
        if not keep_alive:
            self.transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    # backlog: a thousand clients connecting at once wait to be accepted instead of refused.
    server = await loop.create_server(BareProtocol, host, port, backlog=2048)
    bound = server.sockets[0].getsockname()
    print(f"Serving on http://{bound[0]}:{bound[1]}", flush=True)
    await server.serve_forever()  # until the process is killed


if __name__ == "__main__":
    asyncio.run(serve(*address()))

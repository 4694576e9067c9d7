"""One connection: bytes in, bytes out.

asyncio creates one protocol object per connection and calls its methods as things happen:
`connection_made` once, `data_received` for every chunk that arrives, `connection_lost` at
the end. The methods must return quickly: they run on the event loop, between everyone
else's work.
"""

import asyncio

#: from routing
import logging

#: end routing
#: from parsing until responses
from http import HTTPStatus

#: from keepalive
from collections import deque

#: end keepalive
#: from routing
from typing import TYPE_CHECKING
#: end routing
#: from parsing

import httptools
#: end parsing
#: from keepalive

from sketch.httpdate import http_date
from sketch.limits import Limits, RequestRejected

#: end keepalive
#: from parsing
from sketch.parser import RawRequest, RequestParser

#: end parsing
#: from responses
from sketch.request import Request
from sketch.response import Response
#: end responses
#: from routing

if TYPE_CHECKING:
    from sketch.app import Application

log = logging.getLogger("sketch")
#: end routing


#: until parsing
class EchoProtocol(asyncio.Protocol):
    """Sends every byte it receives straight back."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        #: todo echo Keep the transport on self so data_received can write to it.
        self.transport = transport
        #: end echo

    def data_received(self, data: bytes) -> None:
        #: todo echo Write the bytes back, unchanged.
        self.transport.write(data)
        #: end echo


#: variant HttpProtocol from parsing until keepalive
class OneShotHttpProtocol(asyncio.Protocol):
    """Reads an HTTP/1.1 request from a connection, answers it, and closes."""

    #: from routing

    def __init__(self, app: "Application") -> None:
        self.app = app

    #: end routing

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.parser = RequestParser(self.on_request)
        #: from responses
        self.task: asyncio.Task[None] | None = None
        #: end responses

    def data_received(self, data: bytes) -> None:
        #: todo parsing Feed the bytes to self.parser; on httptools.HttpParserError answer 400 and
        #:     close.
        try:
            self.parser.feed(data)
        except httptools.HttpParserUpgrade:
            pass  # an upgrade we do not speak: the request itself was read and is answered
        except httptools.HttpParserError:
            self.send_error(400, b"400: Bad Request: the request could not be parsed.\n")
        #: end parsing

    def on_request(self, raw: RawRequest) -> None:
        """Run the handler in a task of its own: it may await, data_received may not."""
        if self.task is not None:
            return  # we close after one response, so a second request is not answered
        request = Request(raw, self.app)
        self.task = asyncio.get_running_loop().create_task(self.respond(request))

    #: variant on_request until responses
    def on_request_summary(self, raw: RawRequest) -> None:
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

    #: variant send_error until responses
    def send_error_by_hand(self, status: int, body: bytes) -> None:
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

    #: variant on_request from responses until routing
    def on_request_with_demo(self, raw: RawRequest) -> None:
        """Run the handler in a task of its own: it may await, data_received may not."""
        if self.task is not None:
            return  # we close after one response, so a second request is not answered
        request = Request(raw)
        self.task = asyncio.get_running_loop().create_task(self.respond(request))
        self.task.add_done_callback(self.respond_done)

    #: from responses until routing
    def respond_done(self, task: "asyncio.Task[None]") -> None:
        """If answering failed, print why and hang up: never leave a client waiting."""
        if task.cancelled() or task.exception() is None:
            return
        task.get_loop().call_exception_handler(
            {"message": "Answering a request failed", "exception": task.exception()}
        )
        self.transport.close()

    #: from responses

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

    #: variant respond until routing
    async def respond_with_demo(self, request: Request) -> None:
        response = await demo_handler(request)
        #: todo responses Write the response's bytes (headers only for HEAD), then close the
        #:     connection.
        data = self.encode(response, request)
        self.transport.write(data)
        self.transport.close()
        #: end responses

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

    #: end responses


#: from responses until routing
async def demo_handler(request: Request) -> Response:
    """The demo of stage 03: say hello, in plain text or JSON."""
    from sketch.response import json_response

    if request.path == "/json":
        return json_response({"method": request.method, "query": dict(request.query)})
    name = request.query.get("name", "world")
    return Response(text=f"Hello, {name}!\n")


#: from parsing


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection, kept alive: requests are answered one by one, in order.

    Bytes are parsed as they arrive, even while a handler runs; complete requests wait in
    `self.queue`. One task per busy connection (`self.worker`) answers them in turn, so
    pipelined requests get their responses in the order they were sent.
    """

    def __init__(
        self,
        app: "Application",
        limits: Limits = Limits(),
        connections: "set[HttpProtocol] | None" = None,
    ) -> None:
        self.connections = connections if connections is not None else set()
        self.app = app
        self.limits = limits
        self.queue: deque[RawRequest | RequestRejected] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.writable = asyncio.Event()  # cleared while the transport's buffer is full
        self.writable.set()
        self.reading = True
        self.closing = False  # answer what is queued, then close
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None  # loop time at which the timer closes us

    #: variant __init__ until shutdown
    def init_untracked(self, app: "Application", limits: Limits = Limits()) -> None:
        self.app = app
        self.limits = limits
        self.queue: deque[RawRequest | RequestRejected] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.writable = asyncio.Event()  # cleared while the transport's buffer is full
        self.writable.set()
        self.reading = True
        self.closing = False  # answer what is queued, then close
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None  # loop time at which the timer closes us

    # --- events from asyncio -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        self.parser = RequestParser(self.on_request, self.limits, self.send_continue)
        #: from shutdown
        self.closed = self.loop.create_future()  # done when the connection is gone
        self.connections.add(self)
        #: end shutdown
        self.start_timer(self.limits.keepalive_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return  # we are closing after the responses already owed
        head_was_started = self.parser.head_started
        try:
            self.parser.feed(data)
        except RequestRejected as rejection:
            self.reject(rejection)
        except httptools.HttpParserUpgrade as upgrade:
            # An upgrade we do not speak: the request itself was read and is answered as plain
            # HTTP/1.1. httptools stops where it ends: what follows is the next request.
            rest = data[upgrade.args[0] :]
            if rest:
                self.data_received(rest)
        except httptools.HttpParserError:
            self.reject(RequestRejected(400, "the request could not be parsed"))
        else:
            if self.parser.head_started:
                if not head_was_started:
                    # A head has begun: all of it must be in within header_timeout, however
                    # slowly it trickles (so later pieces do not restart the timer).
                    self.start_timer(self.limits.header_timeout)
            elif self.worker is None:
                self.start_timer(self.limits.keepalive_timeout)  # idle between requests
            else:
                self.stop_timer()  # the worker restarts it when the queue is answered

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_timer()
        if self.timer is not None:
            self.timer.cancel()  # release the protocol now, not when the timer would fire
        self.writable.set()  # release a worker waiting to write, so it can end
        if self.worker is not None:
            self.worker.cancel()  # the client is gone: stop working for it
        #: from shutdown
        self.connections.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)
        #: end shutdown

    # Flow control: asyncio calls these when the transport's write buffer passes its
    # high-water mark and when it drains again.
    def pause_writing(self) -> None:
        #: todo keepalive The client reads slowly: clear self.writable so the worker waits.
        self.writable.clear()
        #: end keepalive

    def resume_writing(self) -> None:
        #: todo keepalive The buffer drained: set self.writable.
        self.writable.set()
        #: end keepalive

    # --- requests in, responses out ----------------------------------------------------

    def on_request(self, raw: RawRequest) -> None:
        """A whole request was parsed: queue it, and make sure a worker is answering."""
        #: todo keepalive Queue it; pause reading if the queue is full; then self.start_worker().
        self.queue.append(raw)
        if len(self.queue) >= self.limits.max_pipeline and self.reading:
            self.transport.pause_reading()  # a backlog: let TCP push back on the client
            self.reading = False
        self.start_worker()
        #: end keepalive

    def reject(self, rejection: RequestRejected) -> None:
        """Answer a request we will not serve after those before it, then close."""
        self.queue.append(rejection)
        self.closing = True
        self.transport.pause_reading()
        self.start_worker()

    def start_worker(self) -> None:
        """Make sure one task is answering the queue: at most one per connection."""
        if self.worker is None:
            self.stop_timer()
            self.worker = self.loop.create_task(self.answer_queue())
            self.worker.add_done_callback(self.worker_done)

    def worker_done(self, worker: "asyncio.Task[None]") -> None:
        """A worker that raised is a bug in the server: log it, and drop the connection
        rather than leave the client waiting for an answer that will never come."""
        if not worker.cancelled() and worker.exception() is not None:
            self.loop.call_exception_handler(
                {"message": "Answering requests failed", "exception": worker.exception()}
            )
            self.transport.abort()

    async def answer_queue(self) -> None:
        """Answer queued requests in order; end when the queue is empty or we close."""
        #: todo keepalive Pop, answer, write; close unless keep-alive; wait while not writable;
        #:     repeat.
        try:
            while self.queue:
                item = self.queue.popleft()
                if not self.reading and len(self.queue) < self.limits.max_pipeline // 2:
                    self.transport.resume_reading()
                    self.reading = True
                if isinstance(item, RequestRejected):
                    self.transport.write(rejection_response(item).encode())
                    self.transport.close()
                    return
                request = Request(item, self.app)
                self.transport.write(await self.answer(request, item.keep_alive))
                if not item.keep_alive:
                    self.transport.close()
                    return
                await self.writable.wait()
        except asyncio.CancelledError:
            return  # the connection was lost; there is no one to answer
        finally:
            self.worker = None
        if self.closing:
            self.transport.close()
        elif not self.transport.is_closing():
            self.start_timer(self.limits.keepalive_timeout)
        #: end keepalive

    async def answer(self, request: Request, keep_alive: bool) -> bytes:
        """The bytes of the response to REQUEST; a failure anywhere becomes a 500.

        The response says `Connection: close` if the request asked for it, or if it is the
        last we will send: we are closing and nothing else is queued (a shutdown may have
        begun while the handler ran).
        """
        try:
            response = await self.app.handle(request)
            return encode(response, request, keep_alive and not self.is_last_response())
        except Exception:
            # The last safety net: log why, and tell the client no more than that it failed.
            log.exception("Error handling %s %s", request.method, request.path)
            response = Response(text="500: Internal Server Error\n", status=500)
            return encode(response, request, keep_alive and not self.is_last_response())

    def is_last_response(self) -> bool:
        return self.closing and not self.queue

    def send_continue(self) -> None:
        """The client waits for our go-ahead before sending the body (Expect: 100-continue)."""
        if self.worker is None:  # never in the middle of another response
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    #: from shutdown

    # --- shutdown ---------------------------------------------------------------------

    def shutdown(self) -> None:
        """Finish the response in progress, if any, then close; take no new requests."""
        #: todo shutdown Mark the connection closing; close it now if no worker is busy.
        self.closing = True
        self.queue.clear()
        if self.worker is None:
            self.transport.close()
        #: end shutdown

    def abort(self) -> None:
        """Give up on the connection now: cancel its handler, drop the socket."""
        if self.worker is not None:
            self.worker.cancel()
        self.transport.abort()

    #: end shutdown

    # --- timers -----------------------------------------------------------------------
    # Every request moves the connection's deadline. Cancelling a timer handle and making a
    # new one each time costs more than a small request itself, so the deadline is just a
    # number that moves; one handle fires at the earliest deadline ever set and, if the
    # deadline has moved on since, sets itself again for the new one.

    def start_timer(self, seconds: float) -> None:
        """Close the connection in SECONDS, unless the timer is moved or stopped first."""
        self.deadline = self.loop.time() + seconds
        if self.timer is None or self.timer.when() > self.deadline:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(self.deadline, self.on_timeout)

    def stop_timer(self) -> None:
        self.deadline = None  # a handle still pending will find no deadline, and do nothing

    def on_timeout(self) -> None:
        self.timer = None
        if self.deadline is None:
            return
        if self.loop.time() < self.deadline:  # moved on meanwhile: wait for the new one
            self.timer = self.loop.call_at(self.deadline, self.on_timeout)
            return
        #: todo keepalive Idle for too long (or a head sent too slowly): close the connection if no
        #:     worker runs.
        if self.worker is None:
            self.transport.close()
        #: end keepalive


#: end parsing
#: from keepalive


def encode(response: Response, request: Request, keep_alive: bool) -> bytes:
    """The response's bytes, dated, saying whether the connection stays open."""
    if "Date" not in response.headers:  # a handler may have set its own
        response.headers["Date"] = http_date()
    if keep_alive:
        if request.version == "1.0":
            response.headers["Connection"] = "keep-alive"  # 1.0 closes unless told otherwise
    else:
        response.headers["Connection"] = "close"
    return response.encode(head=request.method == "HEAD")


def rejection_response(rejection: RequestRejected) -> Response:
    text = f"{rejection.status}: {rejection.detail}\n"
    headers = {"Connection": "close", "Date": http_date()}
    return Response(text=text, status=rejection.status, headers=headers)


#: end keepalive

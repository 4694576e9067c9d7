"""One connection: bytes in, bytes out.

asyncio creates one protocol object per connection and calls its methods as things happen:
`connection_made` once, `data_received` for every chunk that arrives, `connection_lost` at
the end. The methods must return quickly: they run on the event loop, between everyone
else's work.
"""

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

import httptools

from sketch.connections import Connections
from sketch.deadline import Deadline
from sketch.limits import Limits, RequestRejected
from sketch.parser import RawRequest, RequestParser
from sketch.request import Request
from sketch.response import Response
from sketch.writer import CONTINUE, rejection_bytes, response_bytes

if TYPE_CHECKING:
    from sketch.app import Application

log = logging.getLogger("sketch")

LINGER = 2.0  # seconds we read and drop what a client sends after our last response

CANCEL_GRACE = 1.0  # seconds a cancelled handler gets to unwind before the cleanup hooks run


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection, kept alive: requests are answered one by one, in order.

    The protocol turns asyncio's events into work for small parts, each in its module: the
    parser reads requests (sketch/parser.py), the writer makes each response's bytes
    (sketch/writer.py), a Deadline closes a connection left idle (sketch/deadline.py).
    Bytes are parsed as they arrive, even while a handler runs; whole requests wait in
    `self.queue`, and one task per busy connection (`self.worker`) answers them in turn, so
    pipelined requests get their responses in the order they were sent. When the connection
    closes is decided in one place: the close policy, below.
    """

    def __init__(
        self,
        app: "Application",
        limits: Limits = Limits(),
        connections: Connections | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        # The server's register of open connections: counted against max_connections.
        self.connections = connections if connections is not None else Connections()
        self.queue: deque[RawRequest | RequestRejected] = deque()  # read, not yet answered
        self.worker: asyncio.Task[None] | None = None  # answers the queue; one at most
        self.reading = True  # False while we keep the transport from reading (a backlog)
        self.writable = asyncio.Event()  # cleared while the client reads too slowly
        self.writable.set()
        self.closing = False  # take no new requests: see the close policy
        self.hung_up = False  # our side has ended: we only read, and drop, what comes

    # --- events from asyncio ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        # One connection too many (run_app's max_connections): its first request gets a 503.
        busy = self.connections.full(self.limits.max_connections)
        on_request = self.refuse_busy if busy else self.on_request
        self.parser = RequestParser(on_request, self.limits, self.send_continue)
        self.deadline = Deadline(self.on_timeout)
        self.deadline.start(self.limits.keepalive_timeout)  # idle from the start
        self.connections.add(self)
        self.closed = asyncio.get_running_loop().create_future()  # set by connection_lost

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return  # we are closing after the responses already owed
        was_waiting_for = self.parser.waiting_for
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
            waiting_for = self.parser.waiting_for
            if waiting_for is not None:
                if waiting_for != was_waiting_for:
                    # A head or a body has begun: all of it must be in within its timeout,
                    # however slowly it trickles (so later pieces do not restart the timer).
                    self.deadline.start(self.time_allowed())
            elif self.worker is None:
                self.deadline.start(self.limits.keepalive_timeout)  # idle between requests
            else:
                self.deadline.stop()  # the worker starts it again once the queue is answered

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline.cancel()  # release the protocol now, not when the timer would fire
        self.writable.set()  # release a worker waiting to write, so it can end
        if self.worker is not None:
            self.worker.cancel()  # the client is gone: stop working for it
        self.connections.discard(self)
        self.closed.set_result(None)

    # Flow control: asyncio calls these when the transport's write buffer passes its
    # high-water mark and when it drains again.
    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    # --- requests in, responses out --------------------------------------------------------

    def on_request(self, raw: RawRequest) -> None:
        """A whole request was parsed: queue it, and make sure a worker is answering."""
        self.queue.append(raw)
        if len(self.queue) >= self.limits.max_pipeline and self.reading:
            self.transport.pause_reading()  # a backlog: let TCP push back on the client
            self.reading = False
        self.start_worker()

    def reject(self, rejection: RequestRejected) -> None:
        """Answer a request we will not serve after those before it, then close."""
        self.queue.append(rejection)
        self.begin_closing()
        self.start_worker()

    def refuse_busy(self, raw: RawRequest) -> None:
        """On a connection beyond max_connections: the request gets a 503, then we close."""
        self.reject(RequestRejected(503, "the server has too many connections; try again"))

    def start_worker(self) -> None:
        """Make sure one task is answering the queue: at most one per connection."""
        if self.worker is None:
            self.deadline.stop()
            self.worker = asyncio.get_running_loop().create_task(self.run_worker())

    async def run_worker(self) -> None:
        """The worker's task: answer the queue. Should that ever raise, it is a bug in the
        server: log it, and drop the connection rather than leave the client waiting for an
        answer that will never come. (Caught here, not in a done callback: a callback would
        cost the loop one more scheduled call per busy connection.)"""
        try:
            await self.answer_queue()
        except Exception:
            log.exception("Answering requests failed")
            self.transport.abort()

    async def answer_queue(self) -> None:
        """Answer queued requests in order; end when the queue is empty or we close."""
        try:
            while self.queue:
                item = self.queue.popleft()
                if not self.reading and len(self.queue) < self.limits.max_pipeline // 2:
                    self.transport.resume_reading()
                    self.reading = True
                data, last = await self.answer(item)
                self.transport.write(data)
                if last:
                    self.hang_up()
                    return
                await self.writable.wait()
        except asyncio.CancelledError:
            return  # the connection was lost; there is no one to answer
        finally:
            self.worker = None
        self.all_answered()

    async def answer(self, item: RawRequest | RequestRejected) -> tuple[bytes, bool]:
        """The bytes of the response to ITEM, and whether it is the connection's last.

        The Application turns whatever a handler raises into a response (its 500 page), so
        the only failure left here is a response the writer refuses to send.
        """
        if isinstance(item, RequestRejected):
            return rejection_bytes(item), self.is_last(item)
        request = Request(item, self.app, self.transport)
        response = await self.app.handle(request)
        last = self.is_last(item)  # asked after the handler: a shutdown may have begun
        try:
            return response_bytes(response, request, keep_alive=not last), last
        except ValueError:  # a header with CR or LF would split the response: never send it
            log.exception("Invalid response to %s %s", request.method, request.path)
            response = Response(text="500: Internal Server Error\n", status=500)
            return response_bytes(response, request, keep_alive=not last), last

    def send_continue(self) -> None:
        """The client waits for our go-ahead before sending the body (Expect: 100-continue)."""
        if self.worker is None:  # never in the middle of another response
            self.transport.write(CONTINUE)

    # --- the close policy: when this connection closes, in one place ------------------------

    def is_last(self, item: RawRequest | RequestRejected) -> bool:
        """Whether the response to ITEM is the last: it then says `Connection: close`, and the
        connection closes once it is written. So it is when the client asked for it (HTTP/1.0,
        or `Connection: close`: httptools' keep_alive), when the request could not be read (a
        RequestRejected), and when we are closing and nothing else is queued."""
        return not item.keep_alive or (self.closing and not self.queue)

    def begin_closing(self) -> None:
        """Take no new requests; answer those queued, then close (a rejection, a shutdown)."""
        self.closing = True
        self.transport.pause_reading()  # what comes now would be ignored anyway

    def all_answered(self) -> None:
        """The queue is empty: close if we are closing, else wait for the next request."""
        if self.closing:
            self.hang_up()
        else:
            self.deadline.start(self.time_allowed())

    def hang_up(self) -> None:
        """Close after our last response, in stages (RFC 9112 section 9.6).

        A socket closed while bytes from the client wait unread in it (the rest of a body we
        refused, a request pipelined behind the last) sends a reset instead of an orderly
        end, and a reset can destroy the response still on its way. So our side ends first
        (write_eof: the client gets an end of stream once the response is out), what the
        client still sends is read and dropped, and the socket closes when the client closes
        its side (asyncio then closes the transport: we define no eof_received to keep it
        open) or LINGER seconds later (on_timeout).
        """
        self.closing = True  # data_received drops what comes now
        if not self.transport.can_write_eof():  # (TLS cannot end one side only)
            self.transport.close()
            return
        self.hung_up = True
        self.connections.discard(self)  # it serves no more requests: another may take its place
        self.transport.write_eof()
        self.transport.resume_reading()  # paused by a backlog or by begin_closing: drain it
        self.deadline.start(LINGER)

    def time_allowed(self) -> float:
        """The seconds the client has now: to send the rest of a head or a body, or, idle,
        to begin its next request."""
        waiting_for = self.parser.waiting_for
        if waiting_for == "head":
            return self.limits.header_timeout
        if waiting_for == "body":
            return self.limits.body_timeout
        return self.limits.keepalive_timeout

    def on_timeout(self) -> None:
        """The deadline passed: idle too long, or a request head or body sent too slowly."""
        if self.hung_up:  # the client never closed its side: close ours for good
            self.transport.close()
            return
        if self.parser.waiting_for == "body":  # its head was read: answer it, then close
            self.reject(RequestRejected(408, "the request body took too long to arrive"))
            return
        if self.worker is None:
            self.transport.close()

    # --- shutdown -------------------------------------------------------------------------

    async def shutdown(self, timeout: float) -> None:
        """Take no new requests, finish the one in progress within TIMEOUT seconds, close."""
        # TODO(10_shutdown): Begin closing and drop what is queued; close now if no worker is busy. Wait for self.closed, TIMEOUT seconds at most; still open then: self.abort().
        raise NotImplementedError(
            "10_shutdown: sketch/protocol.py: HttpProtocol.shutdown: Begin closing and drop what is queued; close now if no worker is busy. Wait for self.closed, TIMEOUT seconds at most; still open then: self.abort()."
        )

    async def abort(self) -> None:
        """Give up now: drop the socket (connection_lost then cancels the handler), and give
        the handler CANCEL_GRACE seconds to unwind before the cleanup hooks close what it uses."""
        worker = self.worker
        self.transport.abort()
        if worker is not None:
            await asyncio.wait([worker], timeout=CANCEL_GRACE)

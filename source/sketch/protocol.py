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

from sketch.connections import Connections
from sketch.deadline import Deadline
from sketch.limits import Limits, RequestRejected

#: end keepalive
#: from parsing
from sketch.parser import RawRequest, RequestParser

#: end parsing
#: from responses
from sketch.request import Request
from sketch.response import Response

#: end responses
#: from keepalive
from sketch.writer import CONTINUE, rejection_bytes, response_bytes
#: end keepalive
#: from routing

if TYPE_CHECKING:
    from sketch.app import Application

log = logging.getLogger("sketch")
#: end routing
#: from keepalive

LINGER = 2.0  # seconds we read and drop what a client sends after our last response
#: end keepalive
#: from shutdown

CANCEL_GRACE = 1.0  # seconds a cancelled handler gets to unwind before the cleanup hooks run
#: end shutdown


#: until parsing
class EchoProtocol(asyncio.Protocol):
    """Sends every byte it receives straight back."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        #: todo echo Keep the transport on self so data_received can write to it.
        self.transport = transport
        #: end echo

    #: mistake transport-on-class: connection_made in echo
    #:     keeps the transport on the class: every connection writes to the newest one
    def connection_made_on_class(self, transport: asyncio.BaseTransport) -> None:
        EchoProtocol.transport = transport

    def data_received(self, data: bytes) -> None:
        #: todo echo Write the bytes back, unchanged.
        self.transport.write(data)
        #: end echo

    #: mistake echo-decodes-text: data_received in echo
    #:     treats the bytes as UTF-8 text: bytes that are not UTF-8 break the connection
    def data_received_as_text(self, data: bytes) -> None:
        self.transport.write(data.decode("utf-8").encode("utf-8"))

    #: mistake echo-closes-connection: data_received in echo
    #:     closes the connection after echoing the first chunk
    def data_received_and_close(self, data: bytes) -> None:
        self.transport.write(data)
        self.transport.close()

    #: mistake echo-waits-for-whole-lines: data_received in echo
    #:     treats TCP as a stream of lines: holds back what follows the last newline
    def data_received_by_line(self, data: bytes) -> None:
        self.pending = getattr(self, "pending", b"") + data
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self.transport.write(line + b"\n")


#: variant HttpProtocol from parsing until keepalive
class OneShotHttpProtocol(asyncio.Protocol):
    """Reads an HTTP/1.1 request from a connection, answers it, and closes."""

    #: since routing
    def __init__(self, app: "Application") -> None:
        self.app = app

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.parser = RequestParser(self.on_request)
        #: from responses
        self.task: asyncio.Task[None] | None = None
        #: end responses

    def data_received(self, data: bytes) -> None:
        #: todo parsing Feed the bytes to self.parser; on httptools.HttpParserError answer 400 and
        #:     close; httptools.HttpParserUpgrade is no error: carry on.
        try:
            self.parser.feed(data)
        except httptools.HttpParserUpgrade:
            pass  # an upgrade we do not speak: the request itself was read and is answered
        except httptools.HttpParserError:
            self.send_error(400, b"400: Bad Request: the request could not be parsed.\n")
        #: end parsing

    #: mistake upgrade-not-caught: data_received in parsing
    #:     catches HttpParserError only: an Upgrade request ends in a traceback
    def data_received_without_upgrade(self, data: bytes) -> None:
        try:
            self.parser.feed(data)
        except httptools.HttpParserError:
            self.send_error(400, b"400: Bad Request: the request could not be parsed.\n")

    #: mistake garbage-not-answered: data_received in parsing
    #:     hangs up on bytes that do not parse, without the 400 that says why
    def data_received_hanging_up(self, data: bytes) -> None:
        try:
            self.parser.feed(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError:
            self.transport.close()

    def on_request(self, raw: RawRequest) -> None:
        """Run the handler in a task of its own: it may await, data_received may not."""
        if self.task is not None:
            return  # we close after one response, so a second request is not answered
        if len(raw.body) > self.app.client_max_size:  # read already, but no handler sees it
            self.send_error(413, b"413: Request Entity Too Large: the body is over the limit.\n")
            return
        request = Request(raw, self.app, self.transport)
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
        request = Request(raw, transport=self.transport)
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

    #: since responses
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

    #: variant respond from responses until routing
    async def respond_with_demo(self, request: Request) -> None:
        response = await demo_handler(request)
        #: todo responses Write the response's bytes (headers only for HEAD), then close the
        #:     connection.
        data = self.encode(response, request)
        self.transport.write(data)
        self.transport.close()
        #: end responses

    #: mistake respond-ignores-head: respond in responses
    #:     writes response.encode() itself: a HEAD request gets the body too
    async def respond_with_body_for_head(self, request: Request) -> None:
        response = await demo_handler(request)
        response.headers["Connection"] = "close"
        self.transport.write(response.encode())
        self.transport.close()

    #: mistake respond-keeps-connection-open: respond in responses
    #:     writes the response but never closes the connection it promised to close
    async def respond_without_close(self, request: Request) -> None:
        response = await demo_handler(request)
        self.transport.write(self.encode(response, request))

    #: since responses
    @staticmethod
    def encode(response: Response, request: Request) -> bytes:
        # Until stage 09 every connection serves one request: say so, then close.
        response.headers["Connection"] = "close"
        return response.encode(head=request.method == "HEAD")

    #: since responses
    def send_error(self, status: int, body: bytes) -> None:
        """Answer a request we could not read, then close: the byte stream is unusable."""
        response = Response(body, status=status, headers={"Connection": "close"})
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        self.transport.write(response.encode())
        self.transport.close()

    #: since responses
    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()  # the client is gone: stop working for it


#: from responses until routing
async def demo_handler(request: Request) -> Response:
    """The demo of stage 03: say hello, in plain text or JSON."""
    from sketch.response import json_response

    if request.path == "/json":
        seen = {"method": request.method, "url": str(request.url), "remote": request.remote}
        return json_response({**seen, "query": dict(request.query)})
    name = request.query.get("name", "world")
    return Response(text=f"Hello, {name}!\n")


#: since parsing
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
        #: from shutdown
        self.closed = asyncio.get_running_loop().create_future()  # set by connection_lost
        #: end shutdown

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
        #: from shutdown
        self.closed.set_result(None)
        #: end shutdown

    # Flow control: asyncio calls these when the transport's write buffer passes its
    # high-water mark and when it drains again.
    def pause_writing(self) -> None:
        #: todo keepalive The client reads slowly: clear self.writable so the worker waits.
        self.writable.clear()
        #: end keepalive

    #: mistake pause-writing-sets: pause_writing in keepalive
    #:     sets self.writable where it should clear it: the worker never waits
    def pause_writing_by_setting(self) -> None:
        self.writable.set()

    def resume_writing(self) -> None:
        #: todo keepalive The buffer drained: set self.writable.
        self.writable.set()
        #: end keepalive

    # --- requests in, responses out --------------------------------------------------------

    def on_request(self, raw: RawRequest) -> None:
        """A whole request was parsed: queue it, and make sure a worker is answering."""
        #: todo keepalive Queue it; pause reading if the queue is full; then self.start_worker().
        self.queue.append(raw)
        if len(self.queue) >= self.limits.max_pipeline and self.reading:
            self.transport.pause_reading()  # a backlog: let TCP push back on the client
            self.reading = False
        self.start_worker()
        #: end keepalive

    #: mistake answered-concurrently: on_request in keepalive
    #:     answers each request in a task of its own: pipelined responses race, out of order
    def on_request_in_a_task(self, raw: RawRequest) -> None:
        async def answer_now() -> None:
            data, last = await self.answer(raw)
            self.transport.write(data)
            if last:
                self.hang_up()

        asyncio.get_running_loop().create_task(answer_now())

    #: mistake never-pauses-reading: on_request in keepalive
    #:     queues without bound: a client that pipelines without reading fills our memory
    def on_request_unbounded(self, raw: RawRequest) -> None:
        self.queue.append(raw)
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
        #: todo keepalive Pop, answer, write; after the last response self.hang_up(); wait while
        #:     not writable; repeat. Then self.all_answered().
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
        #: end keepalive

    #: mistake no-wait-while-paused: answer_queue in keepalive
    #:     writes the next response even while the transport asked us to pause writing
    async def answer_queue_ignoring_pauses(self) -> None:
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
        except asyncio.CancelledError:
            return
        finally:
            self.worker = None
        self.all_answered()

    #: mistake close-after-every-response: answer_queue in keepalive
    #:     closes after each response, as stage 08 did: keep-alive never happens
    async def answer_queue_closing(self) -> None:
        try:
            while self.queue:
                item = self.queue.popleft()
                if not self.reading and len(self.queue) < self.limits.max_pipeline // 2:
                    self.transport.resume_reading()
                    self.reading = True
                data, _ = await self.answer(item)
                self.transport.write(data)
                self.hang_up()
                return
        except asyncio.CancelledError:
            return
        finally:
            self.worker = None

    #: mistake reading-never-resumed: answer_queue in keepalive
    #:     pauses reading on a backlog but never resumes it: the connection stalls
    async def answer_queue_never_resuming(self) -> None:
        try:
            while self.queue:
                item = self.queue.popleft()
                data, last = await self.answer(item)
                self.transport.write(data)
                if last:
                    self.hang_up()
                    return
                await self.writable.wait()
        except asyncio.CancelledError:
            return
        finally:
            self.worker = None
        self.all_answered()

    #: mistake idle-timer-not-restarted: answer_queue in keepalive
    #:     forgets all_answered(): once answered, an idle connection stays open for ever
    async def answer_queue_leaving_idle(self) -> None:
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
            return
        finally:
            self.worker = None

    #: mistake closes-at-once: answer_queue in keepalive
    #:     closes the socket at once after the last response: a client still sending gets a
    #:     reset, which can destroy the response
    async def answer_queue_closing_at_once(self) -> None:
        try:
            while self.queue:
                item = self.queue.popleft()
                if not self.reading and len(self.queue) < self.limits.max_pipeline // 2:
                    self.transport.resume_reading()
                    self.reading = True
                data, last = await self.answer(item)
                self.transport.write(data)
                if last:
                    self.transport.close()
                    return
                await self.writable.wait()
        except asyncio.CancelledError:
            return
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
        #: todo keepalive Close the transport, unless a worker is busy (a slow handler is not an
        #:     idle connection).
        if self.worker is None:
            self.transport.close()
        #: end keepalive

    #: mistake timeout-closes-busy-connection: on_timeout in keepalive
    #:     closes even while a handler runs: a slow handler is not an idle connection
    def on_timeout_closing_always(self) -> None:
        self.transport.close()

    #: from shutdown

    # --- shutdown -------------------------------------------------------------------------

    async def shutdown(self, timeout: float) -> None:
        """Take no new requests, finish the one in progress within TIMEOUT seconds, close."""
        #: todo shutdown Begin closing and drop what is queued; close now if no worker is busy.
        #:     Wait for self.closed, TIMEOUT seconds at most; still open then: self.abort().
        self.begin_closing()
        self.queue.clear()
        if self.worker is None:
            self.transport.close()  # idle: nothing is owed
        done, _ = await asyncio.wait([self.closed], timeout=timeout)
        if not done:
            await self.abort()
        #: end shutdown

    #: mistake queue-not-dropped: shutdown in shutdown
    #:     answers the requests still queued behind the one in flight, after the signal
    async def shutdown_keeping_the_queue(self, timeout: float) -> None:
        self.begin_closing()
        if self.worker is None:
            self.transport.close()
        done, _ = await asyncio.wait([self.closed], timeout=timeout)
        if not done:
            await self.abort()

    #: mistake idle-not-closed: shutdown in shutdown
    #:     waits for every connection, idle ones too: they close only at the timeout
    async def shutdown_waiting_for_idle(self, timeout: float) -> None:
        self.begin_closing()
        self.queue.clear()
        done, _ = await asyncio.wait([self.closed], timeout=timeout)
        if not done:
            await self.abort()

    #: mistake unbounded-wait: shutdown in shutdown
    #:     waits for the handler however long it takes: the shutdown timeout means nothing
    async def shutdown_without_timeout(self, timeout: float) -> None:
        self.begin_closing()
        self.queue.clear()
        if self.worker is None:
            self.transport.close()
        await self.closed

    #: mistake busy-closed-at-once: shutdown in shutdown
    #:     closes every connection at once: the request in flight loses its response
    async def shutdown_closing_all(self, timeout: float) -> None:
        self.begin_closing()
        self.queue.clear()
        self.transport.close()
        done, _ = await asyncio.wait([self.closed], timeout=timeout)
        if not done:
            await self.abort()

    #: mistake not-closing: shutdown in shutdown
    #:     forgets begin_closing(): the last response says keep-alive, and reading goes on
    async def shutdown_still_open(self, timeout: float) -> None:
        self.queue.clear()
        if self.worker is None:
            self.transport.close()
        done, _ = await asyncio.wait([self.closed], timeout=timeout)
        if not done:
            await self.abort()

    async def abort(self) -> None:
        """Give up now: drop the socket (connection_lost then cancels the handler), and give
        the handler CANCEL_GRACE seconds to unwind before the cleanup hooks close what it uses."""
        worker = self.worker
        self.transport.abort()
        if worker is not None:
            await asyncio.wait([worker], timeout=CANCEL_GRACE)

    #: end shutdown

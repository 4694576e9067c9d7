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

from sketch.httpdate import http_date
from sketch.limits import Limits, RequestRejected
from sketch.parser import RawRequest, RequestParser
from sketch.request import Request
from sketch.response import Response

if TYPE_CHECKING:
    from sketch.app import Application

log = logging.getLogger("sketch")


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection, kept alive: requests are answered one by one, in order.

    Bytes are parsed as they arrive, even while a handler runs; complete requests wait in
    `self.queue`. One task per busy connection (`self.worker`) answers them in turn, so
    pipelined requests get their responses in the order they were sent.
    """

    def __init__(self, app: "Application", limits: Limits = Limits()) -> None:
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

    # Flow control: asyncio calls these when the transport's write buffer passes its
    # high-water mark and when it drains again.
    def pause_writing(self) -> None:
        # TODO(09_keepalive): The client reads slowly: clear self.writable so the worker waits.
        raise NotImplementedError(
            "09_keepalive: sketch/protocol.py: HttpProtocol.pause_writing: The client reads slowly: clear self.writable so the worker waits."
        )

    def resume_writing(self) -> None:
        # TODO(09_keepalive): The buffer drained: set self.writable.
        raise NotImplementedError(
            "09_keepalive: sketch/protocol.py: HttpProtocol.resume_writing: The buffer drained: set self.writable."
        )

    # --- requests in, responses out ----------------------------------------------------

    def on_request(self, raw: RawRequest) -> None:
        """A whole request was parsed: queue it, and make sure a worker is answering."""
        # TODO(09_keepalive): Queue it; pause reading if the queue is full; then self.start_worker().
        raise NotImplementedError(
            "09_keepalive: sketch/protocol.py: HttpProtocol.on_request: Queue it; pause reading if the queue is full; then self.start_worker()."
        )

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
        # TODO(09_keepalive): Pop, answer, write; close unless keep-alive; wait while not writable; repeat.
        raise NotImplementedError(
            "09_keepalive: sketch/protocol.py: HttpProtocol.answer_queue: Pop, answer, write; close unless keep-alive; wait while not writable; repeat."
        )

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
        # TODO(09_keepalive): Idle for too long (or a head sent too slowly): close the connection if no worker runs.
        raise NotImplementedError(
            "09_keepalive: sketch/protocol.py: HttpProtocol.on_timeout: Idle for too long (or a head sent too slowly): close the connection if no worker runs."
        )


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

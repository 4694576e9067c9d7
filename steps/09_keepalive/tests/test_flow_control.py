"""Stage 09 without a network: HttpProtocol driven by hand, with a transport that records.

Flow control is about what the server does when the other side is slow: a client that
sends a lot and reads little must not make the server buffer without bound. These tests
play the transport's part: they call pause_writing()/resume_writing() as asyncio would,
and watch for pause_reading()/resume_reading().
"""

import asyncio

from sketch.app import Application
from sketch.limits import Limits
from sketch.protocol import HttpProtocol
from sketch.request import Request
from sketch.response import Response

from workshop.testing import expect, get

LOOK_FLOW = "sketch/protocol.py: HttpProtocol.pause_writing, resume_writing and answer_queue"


class RecordingTransport(asyncio.Transport):
    """Just enough of a transport: it keeps what is written and whether reading is paused."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.reading_paused = False
        self.pauses = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.reading_paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading_paused = False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def responses(self) -> int:
        return self.written.count(b"HTTP/1.1 200 OK\r\n")


def app_with_gate(gate: asyncio.Event) -> Application:
    """GET /hello answers at once; GET /wait answers once GATE is set."""

    async def hello(request: Request) -> Response:
        return Response(text="hello\n")

    async def wait(request: Request) -> Response:
        await gate.wait()
        return Response(text="waited\n")

    app = Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/wait", wait)
    return app


async def settle(condition, rounds: int = 200) -> bool:
    """Let the event loop run until CONDITION() holds (or ROUNDS turns have passed)."""
    for _ in range(rounds):
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


def connect(app: Application, limits: Limits = Limits()) -> tuple[HttpProtocol, RecordingTransport]:
    protocol = HttpProtocol(app, limits)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_a_full_write_buffer_makes_the_worker_wait_for_resume_writing():
    protocol, transport = connect(app_with_gate(asyncio.Event()))
    protocol.pause_writing()  # asyncio: the transport's buffer is over its high-water mark
    data = get("/hello") * 3
    protocol.data_received(data)
    await settle(lambda: transport.responses() >= 1)
    await settle(lambda: False, rounds=20)  # give a wrong worker the time to write more
    written = transport.responses()
    expect(
        written == 1,
        "while the transport says pause_writing(), the worker may finish the response in "
        "hand but must wait before it answers the next: a client that does not read must "
        "not make us pile responses into memory",
        sent=data + b" (three pipelined requests, after pause_writing())",
        expected="1 response written, then a wait on self.writable",
        got=f"{written} responses written",
        look=LOOK_FLOW,
    )
    protocol.resume_writing()  # asyncio: the buffer drained below its low-water mark
    expect(
        await settle(lambda: transport.responses() == 3),
        "after resume_writing() the worker goes on with the requests still queued",
        sent=data,
        expected="3 responses written",
        got=f"{transport.responses()} responses written",
        look=LOOK_FLOW,
    )
    protocol.connection_lost(None)


async def test_a_backlog_of_pipelined_requests_pauses_reading_until_it_shrinks():
    gate = asyncio.Event()
    protocol, transport = connect(app_with_gate(gate), Limits(max_pipeline=4))
    data = get("/wait") + get("/hello") * 5
    protocol.data_received(data)  # one slow request, then five more behind it
    expect(
        transport.reading_paused,
        "with max_pipeline=4, a connection holding 4 or more requests not yet answered must "
        "call transport.pause_reading(): the client's writes then back up in TCP, not in "
        "our memory",
        sent=data + b" (the first handler blocks)",
        expected="transport.pause_reading() called",
        got="reading never paused",
        look="sketch/protocol.py: HttpProtocol.on_request",
    )
    gate.set()
    answered = await settle(lambda: transport.responses() == 6)
    expect(
        answered and not transport.reading_paused,
        "once the queue has shrunk, reading resumes (transport.resume_reading()) and every "
        "queued request is answered",
        sent=data,
        expected="6 responses, reading resumed",
        got=f"{transport.responses()} responses, reading "
        + ("still paused" if transport.reading_paused else "resumed"),
        look="sketch/protocol.py: HttpProtocol.answer_queue",
    )
    protocol.connection_lost(None)


async def test_one_request_at_a_time_never_pauses_reading():
    protocol, transport = connect(app_with_gate(asyncio.Event()), Limits(max_pipeline=4))
    for _ in range(6):
        protocol.data_received(get("/hello"))
        await settle(lambda: not protocol.queue and protocol.worker is None)
    expect(
        transport.responses() == 6 and transport.pauses == 0,
        "a client that waits for each response never has a backlog: reading must not be "
        "paused for it",
        sent=get("/hello") + b" six times, one after the other",
        expected="6 responses, pause_reading() never called",
        got=f"{transport.responses()} responses, pause_reading() called {transport.pauses} times",
        look="sketch/protocol.py: HttpProtocol.on_request (pause only at max_pipeline)",
    )
    protocol.connection_lost(None)

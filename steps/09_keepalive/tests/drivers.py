"""Scenarios the stage 09 tests run in the process that imports your code (`drivers`).

Each one drives your HttpProtocol by hand, with a transport that records (as asyncio would
drive it, but with the test playing the network), and returns what it saw as plain data:
how many responses were written, whether reading was paused. The tests, in another process,
decide from those observations. They look only at what a transport sees, never at your
protocol's attributes, so any design that behaves right passes.
"""

import asyncio
import hashlib

from workshop.doubles import RecordingTransport


def app_with_gate(gate: asyncio.Event):
    """GET /hello answers at once; GET /wait answers once GATE is set."""
    from sketch.app import Application
    from sketch.response import Response

    async def hello(request) -> Response:
        return Response(text="hello\n")

    async def wait(request) -> Response:
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


def connect(app, max_pipeline: int | None = None):
    from sketch.limits import Limits
    from sketch.protocol import HttpProtocol

    limits = Limits() if max_pipeline is None else Limits(max_pipeline=max_pipeline)
    protocol = HttpProtocol(app, limits)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def paused_writing(data: bytes) -> dict:
    """pause_writing(), then DATA (pipelined requests) arrives; later resume_writing()."""
    protocol, transport = connect(app_with_gate(asyncio.Event()))
    protocol.pause_writing()  # asyncio: the transport's buffer is over its high-water mark
    protocol.data_received(data)
    await settle(lambda: transport.responses() >= 1)
    await settle(lambda: False, rounds=20)  # give a wrong worker the time to write more
    while_paused = transport.responses()
    protocol.resume_writing()  # asyncio: the buffer drained below its low-water mark
    await settle(lambda: transport.responses() >= data.count(b" HTTP/1.1\r\n"))
    after_resume = transport.responses()
    protocol.connection_lost(None)
    return {"while_paused": while_paused, "after_resume": after_resume}


async def backlog(data: bytes, max_pipeline: int, expected: int) -> dict:
    """DATA arrives at once, its first request held by a gate; then the gate opens."""
    gate = asyncio.Event()
    protocol, transport = connect(app_with_gate(gate), max_pipeline)
    protocol.data_received(data)
    paused = transport.reading_paused
    gate.set()
    await settle(lambda: transport.responses() == expected and not transport.reading_paused)
    seen = {
        "paused_with_backlog": paused,
        "responses": transport.responses(),
        "paused_at_end": transport.reading_paused,
    }
    protocol.connection_lost(None)
    return seen


async def one_at_a_time(request: bytes, count: int, max_pipeline: int) -> dict:
    """REQUEST sent COUNT times, each only once the previous response was written."""
    protocol, transport = connect(app_with_gate(asyncio.Event()), max_pipeline)
    for sent in range(1, count + 1):
        protocol.data_received(request)
        await settle(lambda n=sent: transport.responses() >= n)
        await settle(lambda: False, rounds=5)  # the worker finishes its turn
    seen = {"responses": transport.responses(), "pauses": transport.pauses}
    protocol.connection_lost(None)
    return seen


def parse_at_once(data: bytes) -> dict:
    """Feed DATA to a new RequestParser in one piece: the bodies parsed, or the rejection."""
    from sketch.limits import Limits, RequestRejected
    from sketch.parser import RequestParser

    parsed: list = []
    try:
        RequestParser(parsed.append, Limits()).feed(data)
    except RequestRejected as rejection:
        return {"rejected": f"{rejection.status} {rejection.detail}", "bodies": []}
    bodies = [{"size": len(r.body), "sha256": hashlib.sha256(r.body).hexdigest()} for r in parsed]
    return {"rejected": None, "bodies": bodies}

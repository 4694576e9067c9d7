"""Applications the stage 09 tests serve: `python -m sketch --port 0 apps:keepalive_app`.

`/sleep?ms=N&n=K` sleeps N milliseconds, then answers with K and how many handlers were
running when it started: on a connection answered in order, that is always 1.
"""

import asyncio

from sketch.app import Application
from sketch.request import Request
from sketch.response import Response

running = 0  # handlers of /sleep running right now, across all connections


async def hello(request: Request) -> Response:
    return Response(text="hello\n")


async def sleep(request: Request) -> Response:
    global running
    running += 1
    at_start = running
    try:
        await asyncio.sleep(int(request.query.get("ms", "0")) / 1000)
    finally:
        running -= 1
    n = request.query.get("n", "?")
    return Response(text=f"request {n}; handlers running when it started: {at_start}\n")


async def echo(request: Request) -> Response:
    return Response(body=await request.read())


def keepalive_app() -> Application:
    app = Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/sleep", sleep)
    app.router.add_post("/echo", echo)
    return app

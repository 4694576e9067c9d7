"""Applications the stage 09 tests serve: `python -m sketch --port 0 apps:keepalive_app`.

`apps:small_app` takes bodies of 1 KiB at most (`Application(client_max_size=1024)`).

`/sleep?ms=N&n=K&c=C` sleeps N milliseconds, then answers with K and how many handlers of
client C were running when it started: on a connection answered in order, that is always 1.
(Each test names its own C, so tests running side by side do not count each other.)
"""

import asyncio
from collections import Counter

from sketch.app import Application
from sketch.request import Request
from sketch.response import Response

running: Counter[str] = Counter()  # handlers of /sleep running right now, by client


async def hello(request: Request) -> Response:
    return Response(text="hello\n")


async def sleep(request: Request) -> Response:
    client = request.query.get("c", "")
    running[client] += 1
    at_start = running[client]
    try:
        await asyncio.sleep(int(request.query.get("ms", "0")) / 1000)
    finally:
        running[client] -= 1
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


SMALL = 1024  # bytes: the client_max_size of small_app


def small_app() -> Application:
    app = Application(client_max_size=SMALL)
    app.router.add_get("/hello", hello)
    app.router.add_post("/echo", echo)
    return app

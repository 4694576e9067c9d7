"""The app tests/test_hostile_input.py serves with the final reference (solutions/10_shutdown).

Each route misbehaves in one way a real application might: it leaves the body unread,
sets a header it should not, raises, or takes its time.
"""

import asyncio

from sketch.app import Application
from sketch.request import Request
from sketch.response import Response


async def ok(request: Request) -> Response:
    return Response(text="ok\n")


async def echo(request: Request) -> Response:
    return Response(text=f"{len(await request.read())} bytes\n")


async def host(request: Request) -> Response:
    return Response(text=f"Host: {', '.join(request.headers.getall('Host'))}\n")


async def ignore_body(request: Request) -> Response:
    return Response(text="body ignored\n")  # never reads request.read()


async def evil(request: Request) -> Response:
    print("EVIL: a request was parsed out of another request's body", flush=True)
    return Response(text="evil\n")


async def header_injection(request: Request) -> Response:
    # A value taken from the client, unchecked: a CR LF would start a header of its own.
    return Response(text="hi\n", headers={"X-Name": "bob\r\nSet-Cookie: session=stolen"})


async def boom(request: Request) -> Response:
    raise RuntimeError("the database password is hunter2")


async def slow(request: Request) -> Response:
    print("slow: started", flush=True)
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        print("slow: cancelled", flush=True)
        raise
    return Response(text="slow\n")


def make_app() -> Application:
    app = Application()
    app.router.add_get("/ok", ok)
    app.router.add_post("/echo", echo)
    app.router.add_post("/ignore", ignore_body)
    app.router.add_post("/host", host)
    app.router.add_get("/evil", evil)
    app.router.add_get("/inject", header_injection)
    app.router.add_get("/boom", boom)
    app.router.add_get("/slow", slow)
    return app

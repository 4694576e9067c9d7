"""Applications the stage 06 tests serve: `python -m sketch --port 0 apps:middleware_app`
(and, at the end, what the object-level tests hand to your Application).

Every request passes through five middlewares, in this order: first, gate, second, third,
guard.

    first, second, third   note their name in request.trail on the way in, and add an
                           `X-Out: name` header to the response on the way out
    gate                   /together/KEY/...: waits until two requests with the same KEY
                           are inside, so both are in flight at once (at most 2 s); it
                           sits between others so that a chain which keeps its place in
                           shared state (self.index, say) gets mixed up by the second
    guard                  /private/... needs `X-Token: let-me-in`: without it, a 403
                           straight away; with it, request.user is set for the handler
"""

import asyncio
from collections import defaultdict

from sketch import Application, Request, Response, json_response
from sketch.router import Handler


def recorder(name: str):
    """A middleware that notes NAME on the way in and on the way out."""

    async def record(request: Request, handler: Handler) -> Response:
        request.trail = [*getattr(request, "trail", []), name]  # type: ignore[attr-defined]
        response = await handler(request)
        response.headers.add("X-Out", name)
        return response

    record.__name__ = record.__qualname__ = name
    return record


async def guard(request: Request, handler: Handler) -> Response:
    """Short-circuits: an unauthorised request never reaches the handler."""
    if request.path.startswith("/private"):
        if request.headers.get("X-Token") != "let-me-in":
            return Response(text="403: Forbidden: no token\n", status=403)
        request.user = "token holder"  # type: ignore[attr-defined]
    return await handler(request)


def gate():
    """Hold a request until a second one with the same key arrives, or 2 s pass."""
    arrived: dict[str, int] = defaultdict(int)
    both_in: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def middleware(request: Request, handler: Handler) -> Response:
        parts = request.path.split("/")
        if len(parts) < 4 or parts[1] != "together":
            return await handler(request)
        key = parts[2]
        arrived[key] += 1
        if arrived[key] >= 2:
            both_in[key].set()
        try:
            await asyncio.wait_for(both_in[key].wait(), 2.0)
            request.met = True  # type: ignore[attr-defined]
        except asyncio.TimeoutError:
            request.met = False  # type: ignore[attr-defined]
        return await handler(request)

    return middleware


def middleware_app() -> Application:
    first, second, third = recorder("first"), recorder("second"), recorder("third")
    app = Application(middlewares=[first, gate(), second, third, guard])
    app["private_calls"] = 0

    async def trail(request: Request) -> Response:
        return json_response(
            {
                "path": request.path,
                "trail": getattr(request, "trail", []),
                "met": getattr(request, "met", None),
            }
        )

    async def private(request: Request) -> Response:
        request.app["private_calls"] += 1
        return Response(text=f"the secret, for {getattr(request, 'user', 'nobody')}\n")

    async def private_calls(request: Request) -> Response:
        return json_response({"private_calls": request.app["private_calls"]})

    app.router.add_get("/trail", trail)
    app.router.add_get("/together/{key}/{who}", trail)
    app.router.add_get("/private/secret", private)
    app.router.add_get("/stats/private-calls", private_calls)
    return app


# For the object-level tests (test_chain.py), in the same process as your code.


async def hello(request: Request) -> Response:
    return Response(text="hello")


class Trail:
    """Middlewares that note their name in `seen` as a request passes through them."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def middleware(self, name: str):
        async def middleware(request: Request, handler: Handler) -> Response:
            self.seen.append(name)
            return await handler(request)

        return middleware

"""The application the stage 10 tests serve: `python -m sketch --port 0 apps:shutdown_app`.

`GET /slow?ms=N` takes N milliseconds. Handlers and hooks append a line to the file named by
the MARKER environment variable, so after the process has exited a test can read what ran,
in which order; they also print, so a test can wait until a handler is running.
"""

import asyncio
import os

from sketch.app import Application
from sketch.request import Request
from sketch.response import Response


def record(event: str) -> None:
    with open(os.environ["MARKER"], "a", encoding="utf-8") as marker:
        marker.write(event + "\n")
    print(f"event: {event}", flush=True)


async def hello(request: Request) -> Response:
    return Response(text="hello\n")


async def slow(request: Request) -> Response:
    ms = int(request.query.get("ms", "500"))
    record(f"handler started ({ms} ms)")
    try:
        await asyncio.sleep(ms / 1000)
    except asyncio.CancelledError:
        record("handler cancelled")
        raise
    record("handler done")
    return Response(text=f"slept {ms} ms\n")


async def on_shutdown(app: Application) -> None:
    record("shutdown hook")


async def on_cleanup(app: Application) -> None:
    record("cleanup hook")


def shutdown_app() -> Application:
    app = Application()
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/hello", hello)
    app.router.add_get("/slow", slow)
    return app

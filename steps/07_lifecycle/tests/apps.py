"""Applications the stage 07 tests serve: `python -m sketch --port 0 apps:lifecycle_app`.

Every hook appends one line to the file named by the MARKER environment variable, so a test
can read, after the fact, which hooks ran and in which order. Hooks also print a line: the
server's output shows whether they ran before or after `Serving on ...`. At the end: the
hooks the object-level tests (test_hooks.py) hand to your Application.

Two more observers: the first shutdown hook tries to connect to the server's own port (the
test writes it into the file named by LISTENING) and notes whether it was still accepted;
`cancelling_app` has a route that cancels the task running `serve`, as a program that embeds
the server would to stop it.
"""

import asyncio
import os

from sketch.app import Application
from sketch.request import Request
from sketch.response import Response


def record(event: str) -> None:
    """Append EVENT to the marker file, and say it on the server's output."""
    with open(os.environ["MARKER"], "a", encoding="utf-8") as marker:
        marker.write(event + "\n")
    print(f"hook: {event}", flush=True)


def hook(event: str, *, key: str | None = None, value: str | None = None):
    """A hook that yields to the event loop once, sets app[key] if asked, then records EVENT."""

    async def run(app: Application) -> None:
        await asyncio.sleep(0)  # a real hook awaits something: a database, a file, a socket
        if key is not None:
            app[key] = value
        record(event)

    run.__qualname__ = f"hook({event!r})"
    return run


async def connect_database(app: Application) -> None:
    """A startup hook that builds on what the one before it left on the app."""
    await asyncio.sleep(0)
    app["database"] = f"connected with {app['config']}"
    record("startup 2")


async def state(request: Request) -> Response:
    """What the startup hooks left on the app, as a handler sees it."""
    app = request.app
    return Response(text=f"config={app.get('config')}; database={app.get('database')}\n")


async def probe_listening(app: Application) -> None:
    """Whether the server still accepts connections once the shutdown hooks run."""
    path = os.environ.get("LISTENING")
    if not path or not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as file:
        port = int(file.read().split()[0])
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, asyncio.TimeoutError):
        seen = "refused"
    else:
        writer.close()
        seen = "accepted"
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"\n{seen}\n")


def lifecycle_app() -> Application:
    app = Application()
    app.on_startup.append(hook("startup 1", key="config", value="settings.toml"))
    app.on_startup.append(connect_database)
    app.on_shutdown.append(probe_listening)
    app.on_shutdown.append(hook("shutdown 1"))
    app.on_shutdown.append(hook("shutdown 2"))
    app.on_cleanup.append(hook("cleanup 1"))
    app.on_cleanup.append(hook("cleanup 2"))
    app.router.add_get("/state", state)
    return app


async def unreachable_database(app: Application) -> None:
    raise ConnectionRefusedError("the database at db.example:5432 is not answering")


async def remember_serving_task(app: Application) -> None:
    app["serving task"] = asyncio.current_task()  # a startup hook runs in serve's own task


async def cancel_serving(request: Request) -> Response:
    """Cancel the task running `serve`, just after this response is written."""
    asyncio.get_running_loop().call_soon(request.app["serving task"].cancel)
    return Response(text="cancelling the server's task\n")


def cancelling_app() -> Application:
    app = lifecycle_app()
    app.on_startup.append(remember_serving_task)
    app.router.add_get("/cancel", cancel_serving)
    return app


def failing_app() -> Application:
    """An app whose second startup hook fails: the server must never start serving."""
    app = Application()
    app.on_startup.append(hook("startup 1"))
    app.on_startup.append(unreachable_database)
    app.router.add_get("/state", state)
    return app


# For the object-level tests (test_hooks.py), in the same process as your code.


class HookCalls:
    """Hooks that record (name, the app they were given) in `calls` when they run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def hook(self, name: str):
        async def hook(app: Application) -> None:
            await asyncio.sleep(0)  # a hook is a coroutine: it only runs if it is awaited
            self.calls.append((name, app))

        return hook

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class NoDatabase(Exception):
    """The error our broken hook raises (its own class, so nothing else is mistaken for it)."""


async def broken(app: Application) -> None:
    raise NoDatabase("no database")

"""The demo application `python -m sketch` serves when no APP is given."""

import asyncio
import logging
import sys

from sketch.app import Application, Handler
from sketch.exceptions import HTTPException, HTTPNotFound
from sketch.request import Request
from sketch.response import Response, json_response


async def log_requests(request: Request, handler: Handler) -> Response:
    """A middleware: log each request with the status it got, raised HTTP errors included."""
    log = logging.getLogger("sketch.access")
    try:
        response = await handler(request)
    except HTTPException as error:  # a raised 404 is an answer too: log it, pass it on
        log.info("%s %s -> %d", request.method, request.path, error.status)
        raise
    log.info("%s %s -> %d", request.method, request.path, response.status)
    return response


async def load_users(app: Application) -> None:
    """A startup hook: where a real app would connect to its database."""
    app["users"] = {"alice": "Alice Liddell", "bob": "Bob Dylan"}


async def close_users(app: Application) -> None:
    print("Cleanup: users released", file=sys.stderr, flush=True)


async def index(request: Request) -> Response:
    names = ", ".join(sorted(request.app["users"]))
    return Response(text=f"Hello from sketch! Try GET /alice. Users: {names}\n")


async def user(request: Request) -> Response:
    """Welcome a known user; anyone else is a 404, raised like any other exception."""
    name = request.match_info["username"]
    users = request.app["users"]
    if name not in users:
        raise HTTPNotFound(text=f"No user {name!r} here.\n")
    return Response(text=f"Welcome, {users[name]}!\n")


async def echo(request: Request) -> Response:
    """Send back what was posted, as JSON with a little about the request."""
    body = await request.text()
    return json_response({"method": request.method, "path": request.path, "body": body})


async def slow(request: Request) -> Response:
    """Take a while to answer (GET /slow?seconds=2): try a shutdown while it runs."""
    seconds = float(request.query.get("seconds", "2"))
    await asyncio.sleep(seconds)
    return Response(text=f"Done after {seconds:g} s.\n")


def make_app() -> Application:
    app = Application(middlewares=[log_requests])
    app.on_startup.append(load_users)
    app.on_cleanup.append(close_users)
    app.router.add_get("/", index)
    app.router.add_post("/echo", echo)
    app.router.add_get("/slow", slow)  # before /{username}, which would match it too
    app.router.add_get("/{username}", user)
    return app

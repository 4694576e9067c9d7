#: file from routing
"""The demo application `python -m sketch` serves when no APP is given."""

#: from middleware
import logging

#: end middleware
#: from shutdown
import asyncio

#: end shutdown
#: from errors
import sys
#: end errors

#: from errors
from sketch.exceptions import HTTPException, HTTPNotFound

#: end errors
from sketch.app import Application

#: from middleware
from sketch.app import Handler

#: end middleware
from sketch.request import Request
from sketch.response import Response, json_response


#: variant index until errors
async def index_hello(request: Request) -> Response:
    return Response(text="Hello from sketch!\n")


#: variant echo until errors
async def echo_first(request: Request) -> Response:
    """Send back what was posted, as JSON with a little about the request."""
    body = await request.text()
    return json_response({"method": request.method, "path": request.path, "body": body})


#: from params until errors
async def hello(request: Request) -> Response:
    return Response(text=f"Hello, {request.match_info['name']}!\n")


#: variant log_requests from middleware until errors
async def log_responses(request: Request, handler: Handler) -> Response:
    """A middleware: log each request with the status it got."""
    response = await handler(request)
    logging.getLogger("sketch.access").info(
        "%s %s -> %d", request.method, request.path, response.status
    )
    return response


#: variant load_users from lifecycle until errors
async def load_users_quietly(app: Application) -> None:
    app["users"] = {"alice": "Alice Liddell", "bob": "Bob Dylan"}


#: variant user from lifecycle until errors
async def user_or_404(request: Request) -> Response:
    name = request.match_info["username"]
    users = request.app["users"]
    if name not in users:
        return Response(text=f"No user {name!r} here.\n", status=404)
    return Response(text=f"Welcome, {users[name]}!\n")


#: since middleware
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


#: since lifecycle
async def load_users(app: Application) -> None:
    """A startup hook: where a real app would connect to its database."""
    app["users"] = {"alice": "Alice Liddell", "bob": "Bob Dylan"}


#: since errors
async def close_users(app: Application) -> None:
    print("Cleanup: users released", file=sys.stderr, flush=True)


async def index(request: Request) -> Response:
    names = ", ".join(sorted(request.app["users"]))
    return Response(text=f"Hello from sketch! Try GET /alice. Users: {names}\n")


#: since lifecycle
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


#: since shutdown
async def slow(request: Request) -> Response:
    """Take a while to answer (GET /slow?seconds=2): try a shutdown while it runs."""
    seconds = float(request.query.get("seconds", "2"))
    await asyncio.sleep(seconds)
    return Response(text=f"Done after {seconds:g} s.\n")


def make_app() -> Application:
    app = Application(middlewares=[log_requests])
    app.on_startup.append(load_users)
    #: from errors
    app.on_cleanup.append(close_users)
    #: end errors
    app.router.add_get("/", index)
    app.router.add_post("/echo", echo)
    #: from shutdown
    app.router.add_get("/slow", slow)  # before /{username}, which would match it too
    #: end shutdown
    app.router.add_get("/{username}", user)
    return app


#: variant make_app until middleware
def make_plain_app() -> Application:
    app = Application()
    app.router.add_get("/", index)
    app.router.add_post("/echo", echo)
    #: from params
    app.router.add_get("/hello/{name}", hello)
    #: end params
    return app


#: variant make_app from middleware until lifecycle
def make_logged_app() -> Application:
    app = Application(middlewares=[log_requests])
    app.router.add_get("/", index)
    app.router.add_post("/echo", echo)
    app.router.add_get("/hello/{name}", hello)
    return app

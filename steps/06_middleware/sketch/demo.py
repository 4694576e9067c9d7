"""The demo application `python -m sketch` serves when no APP is given."""

import logging

from sketch.app import Application, Handler
from sketch.request import Request
from sketch.response import Response, json_response


async def index(request: Request) -> Response:
    return Response(text="Hello from sketch!\n")


async def echo(request: Request) -> Response:
    """Send back what was posted, as JSON with a little about the request."""
    body = await request.text()
    return json_response({"method": request.method, "path": request.path, "body": body})


async def hello(request: Request) -> Response:
    return Response(text=f"Hello, {request.match_info['name']}!\n")


async def log_requests(request: Request, handler: Handler) -> Response:
    """A middleware: log each request with the status it got."""
    response = await handler(request)
    logging.getLogger("sketch.access").info(
        "%s %s -> %d", request.method, request.path, response.status
    )
    return response


def make_app() -> Application:
    app = Application(middlewares=[log_requests])
    app.router.add_get("/", index)
    app.router.add_post("/echo", echo)
    app.router.add_get("/hello/{name}", hello)
    return app

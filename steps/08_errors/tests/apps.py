"""Applications the stage 08 tests serve: `python -m sketch --port 0 apps:errors_app`.

Each route fails in its own way: it raises an HTTP exception, or a plain Python error.
"""

from sketch.app import Application, Handler
from sketch.exceptions import HTTPBadRequest, HTTPFound, HTTPNotFound
from sketch.request import Request
from sketch.response import Response


async def ok(request: Request) -> Response:
    return Response(text="still serving\n")


async def missing(request: Request) -> Response:
    raise HTTPNotFound()  # no text of its own: the server writes the page


async def moved(request: Request) -> Response:
    raise HTTPFound("/new-home")


async def bad(request: Request) -> Response:
    if "name" not in request.query:
        raise HTTPBadRequest(text="the query must have a name: /bad?name=...\n")
    return Response(text=f"hello {request.query['name']}\n")


async def boom(request: Request) -> Response:
    return Response(text=f"{1 / 0}")  # a bug: ZeroDivisionError


async def catch_not_found(request: Request, handler: Handler) -> Response:
    """A middleware that turns the router's 404 under /caught/ into a page of its own."""
    try:
        return await handler(request)
    except HTTPNotFound:
        if not request.path.startswith("/caught/"):
            raise
        text = f"Nothing at {request.path}; the middleware caught the 404.\n"
        return Response(text=text, status=404, headers={"X-Caught": "yes"})


def errors_app(debug: bool = False) -> Application:
    app = Application(middlewares=[catch_not_found], debug=debug)
    app.router.add_get("/ok", ok)
    app.router.add_get("/missing", missing)
    app.router.add_get("/moved", moved)
    app.router.add_get("/bad", bad)
    app.router.add_get("/boom", boom)
    return app


def debug_app() -> Application:
    """The same routes, made with debug=True: tracebacks go to the page too."""
    return errors_app(debug=True)

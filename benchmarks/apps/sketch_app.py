"""The benchmark app on sketch: `python -m sketch --port 0 sketch_app:app`.

The same three endpoints as aiohttp_app.py and asgi_app.py, and the same middleware in
front of all of them, so the three servers do the same work per request.
"""

from sketch import Application, Request, Response, json_response


async def stamp(request: Request, handler):
    """One middleware, as a real app would have: it tags every response."""
    response = await handler(request)
    response.headers["X-Bench"] = "1"
    return response


async def hello(request: Request) -> Response:
    return Response(text="Hello, World!")


async def user(request: Request) -> Response:
    return Response(text=f"Hello, {request.match_info['name']}!")


async def echo(request: Request) -> Response:
    return json_response(await request.json())


def make_app() -> Application:
    app = Application(middlewares=[stamp])
    app.router.add_get("/", hello)
    app.router.add_get("/users/{name}", user)
    app.router.add_post("/echo", echo)
    return app


app = make_app()

"""Applications the stage 04 tests serve (`python -m sketch --port 0 apps:routing_app`), and
the handlers its object-level tests route to."""

from sketch import Application, Request, Response


def routing_app() -> Application:
    """A few exact routes, one handler that breaks the rules, and some shared state."""
    app = Application()
    app["greeting"] = "hello from app state"

    async def index(request: Request) -> Response:
        return Response(text="index page\n")

    async def about(request: Request) -> Response:
        return Response(text="about page\n")

    async def submit(request: Request) -> Response:
        return Response(text=f"submitted: {await request.text()}\n")

    async def returns_a_string(request: Request) -> Response:
        return "just a string, not a Response"  # type: ignore[return-value]

    async def state(request: Request) -> Response:
        same = "the same app" if request.app is app else f"another object: {request.app!r}"
        return Response(text=f"{request.app['greeting']}; request.app is {same}\n")

    app.router.add_get("/", index)
    app.router.add_get("/about", about)
    app.router.add_post("/submit", submit)
    app.router.add_get("/broken", returns_a_string)
    app.router.add_get("/state", state)
    return app


# Handlers the object-level tests (test_dispatcher.py) route to, in the same process as your
# code; the tests reach them through the `apps` fixture.


async def index(request: Request) -> Response:
    return Response(text="index")


async def about(request: Request) -> Response:
    return Response(text="about")


async def submit(request: Request) -> Response:
    return Response(text="submitted")


async def returns_none(request: Request) -> Response:
    return None  # type: ignore[return-value]

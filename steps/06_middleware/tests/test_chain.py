"""Stage 06 without a server: Application.handle builds the chain for each request."""

from sketch.app import Application
from sketch.parser import RawRequest
from sketch.request import Request
from sketch.response import Response

from workshop.testing import expect

LOOK_HANDLE = "sketch/app.py: Application.handle"


def make_request(app: Application, target: bytes = b"/") -> Request:
    return Request(RawRequest("GET", target, "1.1", [(b"Host", b"x")], b""), app)


async def hello(request: Request) -> Response:
    return Response(text="hello")


async def test_an_app_without_middlewares_calls_the_route():
    app = Application()
    app.router.add_get("/", hello)
    response = await app.handle(make_request(app))
    expect(
        isinstance(response, Response) and response.body == b"hello",
        "with no middlewares, app.handle(request) is just the router and the handler",
        expected="Response with body b'hello'",
        got=repr(response),
        look=LOOK_HANDLE,
    )


async def test_handling_requests_leaves_the_middleware_list_as_it_was():
    seen: list[str] = []

    def named(name: str):
        async def middleware(request, handler):
            seen.append(name)
            return await handler(request)

        return middleware

    middlewares = [named("a"), named("b"), named("c")]
    app = Application(middlewares=middlewares)
    app.router.add_get("/", hello)
    for _ in range(3):
        await app.handle(make_request(app))
    expect(
        seen == ["a", "b", "c"] * 3 and app.middlewares == middlewares,
        "three requests through middlewares [a, b, c] must each see a, b, c in that order, "
        "and app.middlewares must be left as it was (reversed() makes a new iterator; "
        ".reverse() would flip the list in place)",
        expected="a, b, c three times; app.middlewares unchanged",
        got=f"order {seen}; app.middlewares "
        f"{'unchanged' if app.middlewares == middlewares else 'changed'}",
        look=LOOK_HANDLE,
    )

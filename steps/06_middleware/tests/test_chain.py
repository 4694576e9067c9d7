"""Stage 06 without a server: Application.handle builds the chain for each request.

Your Application runs in the process that imports your code; the handler and the recording
middlewares come from tests/apps.py, imported there too (`sketch` and `apps` are handles).
"""

from workshop.testing import expect

LOOK_HANDLE = "sketch/app.py: Application.handle"


def make_request(sketch, app, target: bytes = b"/"):
    raw = sketch.parser.RawRequest("GET", target, "1.1", [(b"Host", b"x")], b"")
    return sketch.request.Request(raw, app)


async def test_an_app_without_middlewares_calls_the_route(sketch, apps):
    app = sketch.app.Application()
    app.router.add_get("/", apps.hello)
    response = await app.handle(make_request(sketch, app))
    expect(
        isinstance(response, sketch.response.Response) and response.body == b"hello",
        "with no middlewares, app.handle(request) is just the router and the handler",
        expected="Response with body b'hello'",
        got=repr(response),
        look=LOOK_HANDLE,
    )


async def test_handling_requests_leaves_the_middleware_list_as_it_was(sketch, apps):
    trail = apps.Trail()
    middlewares = [trail.middleware("a"), trail.middleware("b"), trail.middleware("c")]
    app = sketch.app.Application(middlewares=middlewares)
    app.router.add_get("/", apps.hello)
    for _ in range(3):
        await app.handle(make_request(sketch, app))
    seen, after = trail.seen, app.middlewares
    expect(
        seen == ["a", "b", "c"] * 3 and after == middlewares,
        "three requests through middlewares [a, b, c] must each see a, b, c in that order, "
        "and app.middlewares must be left as it was (reversed() makes a new iterator; "
        ".reverse() would flip the list in place)",
        expected="a, b, c three times; app.middlewares unchanged",
        got=f"order {seen}; app.middlewares {'unchanged' if after == middlewares else 'changed'}",
        look=LOOK_HANDLE,
    )

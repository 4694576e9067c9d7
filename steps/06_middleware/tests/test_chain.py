"""Stage 06 without a server: Application.handle builds the chain for each request.

Your Application runs in the process that imports your code; the handler and the recording
middlewares come from tests/apps.py, imported there too (`sketch` and `apps` are handles).
"""

from workshop.testing import expect, fail

LOOK_HANDLE = "sketch/app.py: Application.handle"
LATE_BINDING = (
    "every layer of the chain called the outermost one again, for ever. A lambda made in a "
    "loop, `lambda request: middleware(request, handler)`, reads `handler` and `middleware` "
    "when it is called, not when it is made: by then both are the last ones of the loop. "
    "Bind them when you make the layer: functools.partial(middleware, handler=handler)"
)
POSITIONAL = (
    "a middleware is called as middleware(request, handler): partial(middleware, handler) "
    "puts the next handler where the request goes; name it, partial(middleware, handler=...)"
)


def make_request(sketch, app, target: bytes = b"/"):
    raw = sketch.parser.RawRequest("GET", target, "1.1", [(b"Host", b"x")], b"")
    return sketch.request.Request(raw, app)


async def handle(app, request, sent: str):
    """`await app.handle(request)`, and a failure that says why when it raises."""
    try:
        return await app.handle(request)
    except RecursionError as error:
        fail(
            f"{sent} never got to the handler: {LATE_BINDING}",
            sent=sent,
            expected="each middleware once, then the handler",
            got=f"RecursionError: {error}",
            look=LOOK_HANDLE,
        )
    except Exception as error:  # raised by your code, in the process that runs it
        why = f": {POSITIONAL}" if "not callable" in str(error) else ""
        fail(
            f"{sent} raised an exception{why}",
            sent=sent,
            expected="the handler's Response",
            got=f"{type(error).__name__}: {error}",
            look=LOOK_HANDLE,
        )


async def test_an_app_without_middlewares_calls_the_route(sketch, apps):
    app = sketch.app.Application()
    app.router.add_get("/", apps.hello)
    response = await handle(app, make_request(sketch, app), "GET / through Application()")
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
        await handle(app, make_request(sketch, app), "GET / through middlewares [a, b, c]")
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

"""Stage 04 without a server: the router and the Application as plain objects.

`UrlDispatcher.resolve(method, path)` gives back a handler and the path's parameters (none
yet: that is stage 05). `Application.handle(request)` resolves, calls, and checks.

Your Application lives in the process that imports your code (`sketch` is a handle to your
package there); the handlers it routes to are in tests/apps.py, imported there too.
"""

import pytest

from workshop.testing import expect, fail

LOOK_RESOLVE = "sketch/router.py: UrlDispatcher.resolve"
LOOK_HANDLE = "sketch/app.py: Application.handle"


def make_request(sketch, app, method: str, target: bytes):
    raw = sketch.parser.RawRequest(method, target, "1.1", [(b"Host", b"x")], b"")
    return sketch.request.Request(raw, app)


@pytest.fixture
def app(sketch, apps):
    app = sketch.app.Application()
    app.router.add_get("/", apps.index)
    app.router.add_get("/about", apps.about)
    app.router.add_post("/about", apps.submit)
    return app


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [("GET", "/", "index"), ("GET", "/about", "about"), ("POST", "/about", "submit")],
)
def test_resolve_gives_the_handler_added_for_method_and_path(app, apps, method, path, name):
    handler = getattr(apps, name)
    found, match_info = app.router.resolve(method, path)
    expect(
        found is handler and match_info == {},
        f"resolve({method!r}, {path!r}) must give the handler added for {method} {path}, and "
        "no parameters",
        expected=f"({handler.__name__}, {{}})",
        got=f"({getattr(found, '__name__', found)}, {match_info!r})",
        look=LOOK_RESOLVE,
    )


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("DELETE", "/about")])
def test_resolve_gives_a_404_handler_when_nothing_matches(app, apps, method, path):
    found, _ = app.router.resolve(method, path)
    expect(
        all(found is not handler for handler in (apps.index, apps.about, apps.submit)),
        f"resolve({method!r}, {path!r}) matches no route: it must give the not_found handler",
        expected="sketch.router.not_found",
        got=getattr(found, "__name__", found),
        look=LOOK_RESOLVE,
    )


async def test_handle_calls_the_handler_and_returns_its_response(app, sketch):
    try:
        response = await app.handle(make_request(sketch, app, "GET", b"/about?page=2"))
    except Exception as error:  # raised by your code, in the process that runs it
        awaited = "coroutine" in str(error)
        fail(
            "app.handle(GET /about?page=2) must return the handler's Response, not raise"
            + (
                ": a handler is an async def, so calling it only makes a coroutine; `await` "
                "it to run it and get its Response"
                if awaited
                else ""
            ),
            expected="Response with body b'about'",
            got=f"{type(error).__name__}: {error}",
            look=LOOK_HANDLE,
        )
    expect(
        isinstance(response, sketch.response.Response) and response.body == b"about",
        "app.handle(GET /about?page=2) must route on the path and return the handler's Response",
        expected="Response with body b'about'",
        got=repr(response),
        look=LOOK_HANDLE,
    )


async def test_handle_refuses_a_handler_result_that_is_not_a_response(sketch, apps):
    app = sketch.app.Application()
    app.router.add_get("/none", apps.returns_none)
    try:
        result = await app.handle(make_request(sketch, app, "GET", b"/none"))
    except TypeError as error:
        expect(
            "returns_none" in str(error),
            "the TypeError must name the handler, so the log says which one to fix",
            expected="a message naming 'returns_none'",
            got=repr(error),
            look=LOOK_HANDLE,
        )
    else:
        fail(
            "a handler that returns None is a bug: app.handle must raise TypeError saying so",
            expected="TypeError",
            got=f"app.handle returned {result!r}",
            look=LOOK_HANDLE,
        )

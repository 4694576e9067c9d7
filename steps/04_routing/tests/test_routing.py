"""Stage 04 over real TCP: an Application whose router picks the handler for each request.

The server is `python -m sketch --port 0 apps:routing_app` (see apps.py beside this file):
GET /, GET /about, POST /submit, GET /state, and GET /broken, whose handler returns a str.
Until stage 09 the server closes the connection after each response, so every request here
has a connection of its own.
"""

import pytest

from workshop.testing import expect, get, request, server_output

APP = "apps:routing_app"
LOOK_RESOLVE = "sketch/router.py: UrlDispatcher.resolve"
LOOK_HANDLE = "sketch/app.py: Application.handle"
LOOK_RUNNER = "sketch/runner.py: serve"


@pytest.mark.parametrize(("path", "text"), [("/", "index page\n"), ("/about", "about page\n")])
async def test_each_route_is_answered_by_its_own_handler(serve, path, text):
    reply = await request(serve(APP), get(path))
    expect(
        reply.status == 200 and reply.text == text,
        f"GET {path} must be answered by the handler added for it",
        sent=reply.sent,
        expected=f"200 OK, body {text!r}",
        got=reply.summary(),
        look=f"{LOOK_RESOLVE}, then {LOOK_HANDLE} and {LOOK_RUNNER}",
    )


async def test_post_route_gets_the_request_body(serve):
    data = b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    reply = await request(serve(APP), data)
    expect(
        reply.status == 200 and reply.text == "submitted: hello\n",
        "POST /submit must reach its handler, with the body it sent",
        sent=data,
        expected="200 OK, body 'submitted: hello\\n'",
        got=reply.summary(),
        look=LOOK_RESOLVE,
    )


async def test_unknown_path_returns_404_with_a_short_text_body(serve):
    reply = await request(serve(APP), get("/no/such/page"))
    expect(
        reply.status == 404,
        "a path no route has must be answered 404 Not Found",
        sent=reply.sent,
        expected="404 Not Found",
        got=reply.summary(),
        look=f"{LOOK_RESOLVE}: return not_found when nothing matches",
    )
    content_type = reply.headers.get("Content-Type", "")
    expect(
        content_type.startswith("text/plain") and 0 < len(reply.body) <= 200,
        "a 404 needs a short plain-text body saying what went wrong",
        sent=reply.sent,
        expected="Content-Type: text/plain, a body of a line or so",
        got=f"Content-Type: {content_type or '(none)'}, body {reply.body!r}",
        look="sketch/router.py: not_found",
    )


@pytest.mark.parametrize("path", ["/about/", "/ABOUT", "/abou", "/about/more"])
async def test_paths_are_matched_exactly(serve, path):
    reply = await request(serve(APP), get(path))
    expect(
        reply.status == 404,
        f"GET {path} must be 404: only /about itself is a route, not a path that is like it",
        sent=reply.sent,
        expected="404 Not Found",
        got=reply.summary(),
        look=f"{LOOK_RESOLVE} (compare the whole path, with ==)",
    )


async def test_method_is_matched_too(serve):
    data = b"POST /about HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    reply = await request(serve(APP), data)
    expect(
        reply.status == 404 and "about page" not in reply.text,
        "POST /about must not be served by the GET handler of /about: the method is part of "
        "the route (in this stage, a path without a handler for the method is a 404)",
        sent=data,
        expected="404 Not Found",
        got=reply.summary(),
        look=f"{LOOK_RESOLVE} (look up the handler by method too)",
    )


@pytest.mark.parametrize("target", ["/about?x=1", "/about?", "/about?next=/&y=%20"])
async def test_query_string_does_not_affect_matching(serve, target):
    reply = await request(serve(APP), get(target))
    expect(
        reply.status == 200 and reply.text == "about page\n",
        f"GET {target} must reach the /about handler: the query is not part of the path",
        sent=reply.sent,
        expected="200 OK, body 'about page\\n'",
        got=reply.summary(),
        look=f"{LOOK_HANDLE}: route on request.path, not on the raw target",
    )


async def test_handler_not_returning_a_response_gives_500_and_the_reason_in_the_log(serve):
    server = serve(APP)
    mark = server.output.total
    reply = await request(server, get("/broken"))
    expect(
        reply.status == 500,
        "a handler that returns a str instead of a Response is a bug in the app: answer 500",
        sent=reply.sent,
        expected="500 Internal Server Error",
        got=reply.summary(),
        look=f"{LOOK_HANDLE}: check isinstance(response, Response)",
    )
    expect(
        "Traceback" not in reply.text and "just a string" not in reply.text,
        "the 500 must not tell the client the details: those are for the server's log",
        sent=reply.sent,
        expected="a short body such as '500: Internal Server Error'",
        got=reply.summary(),
        look="sketch/protocol.py: HttpProtocol.respond",
    )
    names = ("returns_a_string", "just a string, not a Response")
    log = await server_output(server, mark, *names)
    expect(
        any(name in log for name in names),
        "the server's log must say why: name the handler, or show what it returned",
        sent=reply.sent,
        expected=f"a log line mentioning {names[0]!r} or {names[1]!r}, e.g. "
        "TypeError: ...returns_a_string returned 'just a string...', not a Response",
        got=f"the server printed: {log.strip()[-600:]!r}" if log.strip() else "nothing",
        look=f"{LOOK_HANDLE}: raise TypeError(...) naming the handler and what it returned",
    )


async def test_server_keeps_serving_after_a_broken_handler(serve):
    server = serve(APP)
    await request(server, get("/broken"))
    reply = await request(server, get("/about"))
    expect(
        reply.status == 200,
        "after a 500 the server must still answer the next request",
        sent=reply.sent,
        expected="200 OK",
        got=reply.summary(),
        look="sketch/protocol.py: HttpProtocol.respond",
    )


async def test_app_is_a_mapping_that_handlers_reach_through_request_app(serve):
    reply = await request(serve(APP), get("/state"))
    want = "hello from app state; request.app is the same app\n"
    expect(
        reply.text == want,
        "a handler must see the Application serving it as request.app, with what was "
        "stored in it (app['greeting'] = ...)",
        sent=reply.sent,
        expected=f"200 OK, body {want!r}",
        got=reply.summary(),
        look="sketch/runner.py: serve (make each HttpProtocol with the app)",
    )


async def test_every_response_says_connection_close_and_closes(serve):
    reply = await request(serve(APP), get("/"))
    expect(
        reply.headers.get("Connection", "").lower() == "close" and reply.closed,
        "until stage 09 the server answers one request per connection, says so, and closes",
        sent=reply.sent,
        expected="Connection: close, then the connection closed",
        got=f"Connection: {reply.headers.get('Connection', '(none)')}, "
        f"{'closed' if reply.closed else 'still open'}",
        look="sketch/protocol.py: HttpProtocol.respond",
    )

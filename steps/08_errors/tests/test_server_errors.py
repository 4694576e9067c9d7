"""Stage 08 over real TCP: raised HTTP exceptions, error pages, and a server that survives bugs.

apps.py has one route per way of failing. Until stage 09 the server closes the connection
after every response, so each request here is a connection of its own.
"""

from workshop.testing import expect, get, request, server_output

LOOK_HANDLE = "sketch/app.py: Application.handle"


async def test_raised_not_found_gives_404(serve):
    server = serve("apps:errors_app")
    data = get("/missing")
    reply = await request(server, data)
    expect(
        reply.status == 404 and b"404" in reply.body,
        "a handler that raises HTTPNotFound() gets a 404 page: the exception is the response",
        sent=data,
        expected="404 Not Found, a body that says 404",
        got=reply.summary(),
        look=LOOK_HANDLE,
    )


async def test_raised_found_gives_302_with_location(serve):
    server = serve("apps:errors_app")
    data = get("/moved")
    reply = await request(server, data)
    expect(
        reply.status == 302 and reply.headers.get("Location") == "/new-home",
        "a handler that raises HTTPFound('/new-home') redirects: 302 and its Location header",
        sent=data,
        expected="302 Found with `Location: /new-home`",
        got=f"{reply.summary()}; Location: {reply.headers.get('Location')}",
        look=LOOK_HANDLE,
    )


async def test_raised_bad_request_keeps_its_own_text(serve):
    server = serve("apps:errors_app")
    data = get("/bad")
    reply = await request(server, data)
    want = "the query must have a name: /bad?name=...\n"
    expect(
        reply.status == 400 and reply.text == want,
        "HTTPBadRequest(text=...) is sent as it is: its text is the body the client reads",
        sent=data,
        expected=f"400 Bad Request, body {want!r}",
        got=reply.summary(),
        look=LOOK_HANDLE,
    )


async def test_the_router_raises_405_with_allow(serve):
    server = serve("apps:errors_app")
    data = get("/ok", method="DELETE")
    reply = await request(server, data)
    expect(
        reply.status == 405 and reply.headers.get("Allow") == "GET, HEAD",
        "a path that exists with other methods gives 405 and the methods it allows",
        sent=data,
        expected="405 Method Not Allowed with `Allow: GET, HEAD`",
        got=f"{reply.summary()}; Allow: {reply.headers.get('Allow')}",
        look="sketch/router.py: UrlDispatcher.resolve, then " + LOOK_HANDLE,
    )


async def test_a_middleware_can_catch_the_routers_404(serve):
    server = serve("apps:errors_app")
    data = get("/caught/anything")
    reply = await request(server, data)
    expect(
        reply.status == 404 and reply.headers.get("X-Caught") == "yes",
        "the router raises HTTPNotFound, so a middleware's `except HTTPNotFound` sees it and "
        "may answer in its own way (apps.py: catch_not_found)",
        sent=data,
        expected="404 with `X-Caught: yes` and the middleware's text",
        got=f"{reply.summary()}; X-Caught: {reply.headers.get('X-Caught')}",
        look="sketch/exceptions.py: HTTPException.__init__, then " + LOOK_HANDLE,
    )


async def test_error_pages_are_html_for_browsers_and_text_otherwise(serve):
    server = serve("apps:errors_app")
    for accept, kind in [
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
        ("*/*", "text/plain"),
    ]:
        data = get("/nowhere", {"Accept": accept})
        reply = await request(server, data)
        content_type = reply.headers.get("Content-Type", "")
        expect(
            reply.status == 404 and content_type.startswith(kind),
            f"an error page follows Accept: {kind} when the client sends `Accept: {accept}`",
            sent=data,
            expected=f"404 with Content-Type {kind}",
            got=f"{reply.summary()}; Content-Type: {content_type}",
            look=LOOK_HANDLE + " (sketch/error_pages.py: error_page does the writing)",
        )


async def test_an_unexpected_error_gives_500_without_traceback_and_logs_it(serve):
    server = serve("apps:errors_app")
    mark = server.output.total
    data = get("/boom")
    reply = await request(server, data)
    leaked = [word for word in ("Traceback", "ZeroDivisionError") if word in reply.text]
    expect(
        reply.status == 500 and not leaked,
        "a bug in a handler gives a 500 page in general terms: never the traceback, which "
        "tells strangers what code runs where (only Application(debug=True) shows it)",
        sent=data,
        expected="500 Internal Server Error, a body without `Traceback` or the error's name",
        got=reply.summary() + (f" (it shows {', '.join(leaked)})" if leaked else ""),
        look=LOOK_HANDLE,
    )
    log = await server_output(server, mark, "ZeroDivisionError")
    expect(
        "Traceback" in log and "ZeroDivisionError" in log,
        "the traceback goes to the server's log, where the developer reads it: "
        "log.exception(...) in the except block",
        sent=data,
        expected="`Traceback ...` and `ZeroDivisionError` in the server's output",
        got=log.strip()[-500:] or "(nothing printed)",
        look=LOOK_HANDLE,
    )


async def test_the_server_keeps_serving_after_an_error(serve):
    server = serve("apps:errors_app")
    await request(server, get("/boom"))
    data = get("/ok")
    reply = await request(server, data)
    expect(
        reply.status == 200 and reply.text == "still serving\n",
        "after a handler failed, the next request (on a new connection) is answered normally",
        sent=data,
        expected="200 OK, body 'still serving\\n'",
        got=reply.summary(),
        look=LOOK_HANDLE,
    )


async def test_debug_app_shows_the_traceback_on_the_500_page(serve):
    server = serve("apps:debug_app")
    data = get("/boom")
    reply = await request(server, data)
    expect(
        reply.status == 500 and "Traceback" in reply.text and "ZeroDivisionError" in reply.text,
        "with Application(debug=True) the 500 page also shows the traceback, for the developer",
        sent=data,
        expected="500 with `Traceback ...` and `ZeroDivisionError` in the body",
        got=reply.summary(),
        look=LOOK_HANDLE + " (app.debug; traceback.format_exc())",
    )


async def test_demo_welcomes_known_users_and_404s_others(server):
    mark = server.output.total
    for path, status, text in [
        ("/alice", 200, "Welcome, Alice Liddell!\n"),
        ("/nobody", 404, "No user 'nobody' here.\n"),
    ]:
        data = get(path)
        reply = await request(server, data)
        expect(
            reply.status == status and reply.text == text,
            "the demo (sketch/demo.py) welcomes users its startup hook loaded, and raises "
            "HTTPNotFound for anyone else",
            sent=data,
            expected=f"{status}, body {text!r}",
            got=reply.summary(),
            look=LOOK_HANDLE,
        )
    log = await server_output(server, mark, "GET /nobody -> 404")
    expect(
        "GET /nobody -> 404" in log,
        "the demo's logging middleware logs raised HTTP errors too: the 404 passes through "
        "it as an exception, which it catches, logs and raises again",
        sent=get("/nobody"),
        expected="`GET /nobody -> 404` in the server's log",
        got=log.strip()[-500:] or "(nothing printed)",
        look="sketch/demo.py: log_requests",
    )

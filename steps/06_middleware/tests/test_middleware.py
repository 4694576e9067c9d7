"""Stage 06 over real TCP: requests pass through a chain of middlewares.

The server is `python -m sketch --port 0 apps:middleware_app` (apps.py beside this file
describes its five middlewares). `first`, `second` and `third` note their name in
request.trail on the way in and add an `X-Out` header on the way out, so one response
shows the order on both legs of the trip.
"""

import asyncio
import itertools
import json

from workshop.testing import Reply, expect, get, request, server_output

APP = "apps:middleware_app"
LOOK_HANDLE = "sketch/app.py: Application.handle"
IN_ORDER = ["first", "second", "third"]
OUT_ORDER = ["third", "second", "first"]
keys = itertools.count()


def body_json(reply: Reply) -> dict:
    try:
        data = json.loads(reply.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def test_middlewares_see_the_request_in_list_order_and_the_response_in_reverse(serve):
    server = serve(APP)
    for attempt in ("first", "second"):  # the same order every time, not just once
        reply = await request(server, get("/trail"))
        trail = body_json(reply).get("trail")
        out = reply.headers.getall("X-Out", [])
        expect(
            reply.status == 200 and trail == IN_ORDER and out == OUT_ORDER,
            f"({attempt} request) Application(middlewares=[first, second, third]): first is "
            "the outermost, so it sees the request first and the response last",
            sent=reply.sent,
            expected=f"200, trail {IN_ORDER} in, X-Out headers {OUT_ORDER} out",
            got=f"{reply.status}, trail {trail}, X-Out headers {out}"
            if reply.status == 200
            else reply.summary(),
            look=f"{LOOK_HANDLE} (wrap self.dispatch starting from the last middleware)",
        )


async def private_calls(server) -> int | None:
    reply = await request(server, get("/stats/private-calls"))
    return body_json(reply).get("private_calls")


async def test_a_middleware_can_answer_without_calling_the_handler(serve):
    server = serve(APP)
    before = await private_calls(server)
    reply = await request(server, get("/private/secret"))
    after = await private_calls(server)
    expect(
        reply.status == 403 and before is not None and after == before,
        "the guard middleware returns a 403 itself when there is no token: the handler of "
        "/private/secret must not run",
        sent=reply.sent,
        expected=f"403 Forbidden, and the handler's call count still {before}",
        got=f"{reply.summary()}; the handler's call count went from {before} to {after}",
        look=f"{LOOK_HANDLE} (call each middleware with the next handler; do not call "
        "dispatch yourself)",
    )
    out = reply.headers.getall("X-Out", [])
    expect(
        out == OUT_ORDER,
        "the middlewares outside the guard still see its 403 on the way out",
        sent=reply.sent,
        expected=f"X-Out headers {OUT_ORDER}",
        got=f"X-Out headers {out}",
        look=LOOK_HANDLE,
    )


async def test_a_middleware_can_change_the_request_the_handler_sees(serve):
    server = serve(APP)
    before = await private_calls(server)
    data = get("/private/secret", {"X-Token": "let-me-in"})
    reply = await request(server, data)
    after = await private_calls(server)
    want = "the secret, for token holder\n"
    expect(
        reply.status == 200 and reply.text == want and after == (before or 0) + 1,
        "with the token, the guard sets request.user and passes the same request on: the "
        "handler runs once and sees it",
        sent=data,
        expected=f"200 OK, body {want!r}, the handler's call count one more",
        got=f"{reply.summary()}; the handler's call count went from {before} to {after}",
        look=f"{LOOK_HANDLE} (pass each middleware's request on, do not make a new one)",
    )


async def test_middlewares_see_the_routers_404_too(serve):
    reply = await request(serve(APP), get("/no/such/page"))
    out = reply.headers.getall("X-Out", [])
    expect(
        reply.status == 404 and out == OUT_ORDER,
        "a path no route has still goes through every middleware: the router's 404 is a "
        "response like any other (wrap dispatch, which resolves, not the route's handler)",
        sent=reply.sent,
        expected=f"404 Not Found, X-Out headers {OUT_ORDER}",
        got=f"{reply.summary()}, X-Out headers {out}",
        look=f"{LOOK_HANDLE}, sketch/app.py: Application.dispatch",
    )


async def test_two_requests_in_flight_at_once_each_get_their_own_chain(serve):
    server = serve(APP)
    key = f"k{next(keys)}"
    paths = [f"/together/{key}/ann", f"/together/{key}/bob"]
    # The gate middleware holds each request until both are inside the chain.
    replies = await asyncio.gather(*(request(server, get(path)) for path in paths))
    for path, reply in zip(paths, replies, strict=True):
        data = body_json(reply)
        got = f"{reply.status}, path {data.get('path')}, trail {data.get('trail')}"
        expect(
            reply.status == 200 and data.get("path") == path and data.get("trail") == IN_ORDER,
            f"GET {path} ran at the same time as another request: each must go through "
            "the whole chain with its own request, untouched by the other",
            sent=reply.sent,
            expected=f"200, path {path}, trail {IN_ORDER}",
            got=got if reply.status == 200 else reply.summary(),
            look=f"{LOOK_HANDLE} (build the chain in local variables, per request: "
            "nothing on self may change while a request is handled)",
        )
        expect(
            data.get("met") is True,
            "the two requests must be handled concurrently: the gate middleware waited "
            "2 s for the second and it never came in",
            sent=reply.sent,
            expected="both requests inside the chain at once",
            got="the first request waited alone",
            look=f"{LOOK_HANDLE} (await the chain: never block the event loop)",
        )


async def test_demo_logs_every_request_with_its_status(server):
    mark = server.output.total
    reply = await request(server, get("/no-such-demo-page"))
    line = "GET /no-such-demo-page -> 404"
    log = await server_output(server, mark, line)
    expect(
        reply.status == 404 and line in log,
        "the demo's log_requests middleware logs each request with the status it got, "
        "the router's 404s included",
        sent=reply.sent,
        expected=f"404, and a log line ending {line!r}",
        got=f"{reply.summary()}; the server printed {log.strip()[-300:]!r}",
        look=f"{LOOK_HANDLE} (the demo app is in sketch/demo.py)",
    )

"""Stage 05 over real TCP: route parameters, 405 with Allow, and HEAD.

The server is `python -m sketch --port 0 apps:params_app` (see apps.py beside this file).
Each of its handlers answers JSON: which handler ran, and the request's match_info.
"""

import json

import pytest

from workshop.testing import Connection, Reply, expect, fail, get, request

APP = "apps:params_app"
LOOK_COMPILE = "sketch/router.py: compile_path"
LOOK_MATCH = "sketch/router.py: Resource.match"
LOOK_RESOLVE = "sketch/router.py: UrlDispatcher.resolve"


def routed(reply: Reply) -> tuple[str, dict] | None:
    """(handler, match_info) from one of params_app's answers, or None if it is not one."""
    try:
        data = json.loads(reply.body)
        return data["handler"], data["match_info"]
    except (ValueError, KeyError, TypeError):
        return None


def show_routed(reply: Reply) -> str:
    found = routed(reply)
    if reply.status == 200 and found is not None:
        return f"200, handler {found[0]!r}, match_info {found[1]!r}"
    return reply.summary()


async def expect_routed(server, target: str, handler: str, match_info: dict, look: str) -> None:
    reply = await request(server, get(target))
    expect(
        reply.status == 200 and routed(reply) == (handler, match_info),
        f"GET {target} must be answered by the {handler!r} route with these parameters",
        sent=reply.sent,
        expected=f"200, handler {handler!r}, match_info {match_info!r}",
        got=show_routed(reply),
        look=look,
    )


async def expect_404(server, target: str, why: str, look: str) -> None:
    reply = await request(server, get(target))
    expect(
        reply.status == 404,
        f"GET {target} must be 404: {why}",
        sent=reply.sent,
        expected="404 Not Found",
        got=show_routed(reply),
        look=look,
    )


async def test_name_segment_goes_into_match_info(serve):
    await expect_routed(serve(APP), "/users/bob", "user", {"name": "bob"}, LOOK_COMPILE)


async def test_several_parameters_each_take_one_segment(serve):
    want = {"owner": "aio-libs", "repo": "yarl"}
    await expect_routed(serve(APP), "/repos/aio-libs/yarl", "repo", want, LOOK_COMPILE)


@pytest.mark.parametrize(
    ("target", "value"),
    [("/users/J%C3%BCrgen", "Jürgen"), ("/users/Ada%20Lovelace", "Ada Lovelace")],
)
async def test_values_are_percent_decoded(serve, target, value):
    look = f"{LOOK_RESOLVE} (match request.path, which is decoded, not the raw target)"
    await expect_routed(serve(APP), target, "user", {"name": value}, look)


async def test_regex_parameter_takes_what_its_regex_matches(serve):
    await expect_routed(serve(APP), "/items/42", "item", {"id": "42"}, LOOK_COMPILE)


@pytest.mark.parametrize("target", ["/items/abc", "/items/4a", "/items/"])
async def test_regex_parameter_rejects_other_text_with_404(serve, target):
    why = r"the route is /items/{id:\d+}, and the regex must match the whole segment"
    await expect_404(serve(APP), target, why, f"{LOOK_COMPILE}, {LOOK_MATCH}")


async def test_regex_may_contain_braces_of_its_own(serve):
    server = serve(APP)
    look = f"{LOOK_COMPILE} (a {{name:regex}} may hold a quantifier like {{2}})"
    await expect_routed(server, "/lang/en", "lang", {"code": "en"}, look)
    await expect_404(server, "/lang/eng", "{code:[a-z]{2}} matches two letters", look)


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("/users/bob/extra", "/users/{name} has one segment after /users/, not two"),
        ("/users/", "{name} needs at least one character"),
        ("/repos/aio-libs", "/repos/{owner}/{repo} needs both segments"),
    ],
)
async def test_the_whole_path_must_match(serve, target, why):
    look = f"{LOOK_MATCH} (use pattern.fullmatch: a prefix is not a match)"
    await expect_404(serve(APP), target, why, look)


async def test_text_around_parameters_is_matched_literally(serve):
    server = serve(APP)
    look = f"{LOOK_COMPILE} (re.escape the text between parameters)"
    await expect_routed(server, "/files/notes.txt", "text file", {"name": "notes"}, look)
    await expect_404(server, "/files/notesXtxt", "the '.' in /files/{name}.txt is a dot", look)


@pytest.mark.parametrize(
    ("target", "handler", "match_info"),
    [
        ("/users/me", "me", {}),
        ("/shadow/never", "shadow param", {"anything": "never"}),
    ],
)
async def test_routes_are_tried_in_the_order_they_were_added(serve, target, handler, match_info):
    look = f"{LOOK_RESOLVE} (the first resource that matches wins)"
    await expect_routed(serve(APP), target, handler, match_info, look)


@pytest.mark.parametrize(
    ("method", "target", "allowed"),
    [
        ("DELETE", "/users/bob", {"GET", "HEAD", "PUT"}),
        ("POST", "/items/7", {"GET", "HEAD"}),
        ("GET", "/forms/signup", {"POST"}),
    ],
)
async def test_other_method_gives_405_with_allow_header(serve, method, target, allowed):
    data = get(target, {"Content-Length": "0"}, method=method)
    reply = await request(serve(APP), data)
    allow = reply.headers.get("Allow")
    listed = {m.strip() for m in allow.split(",")} if allow else set()
    expect(
        reply.status == 405 and listed == allowed,
        f"{method} {target}: the path matches a route, but not with {method}: that is "
        "405 Method Not Allowed, and Allow lists the methods the path does take",
        sent=data,
        expected=f"405 Method Not Allowed, Allow: {', '.join(sorted(allowed))}",
        got=f"{reply.status} {reply.reason}, Allow: {allow or '(none)'}",
        look=f"{LOOK_RESOLVE} (collect the methods of every resource whose path matched)",
    )


async def test_head_is_answered_like_get_without_a_body(serve):
    server = serve(APP)
    got = await request(server, get("/users/bob"))
    data = get("/users/bob", method="HEAD")
    async with await Connection.open(server) as conn:
        await conn.send(data)
        reply = await conn.read_response(head=True)
        after = await conn.read_until_close()
    expect(
        reply.status == 200,
        "add_get must answer HEAD too, with the GET handler",
        sent=data,
        expected="200 OK",
        got=reply.summary(),
        look="sketch/router.py: UrlDispatcher.add_get",
    )
    length = got.headers.get("Content-Length")
    expect(
        reply.headers.get("Content-Length") == length,
        "a HEAD answer carries the headers a GET would get, Content-Length included",
        sent=data,
        expected=f"Content-Length: {length}",
        got=f"Content-Length: {reply.headers.get('Content-Length', '(none)')}",
        look="sketch/protocol.py: HttpProtocol.encode",
    )
    if after:
        fail(
            "a HEAD answer has no body: nothing may follow the blank line after the headers",
            sent=data,
            expected="the connection closed right after the headers",
            got=after,
            look="sketch/protocol.py: HttpProtocol.encode (head=True)",
        )


async def test_demo_greets_by_name(server):
    reply = await request(server, get("/hello/Ada"))
    expect(
        reply.status == 200 and reply.text == "Hello, Ada!\n",
        "the demo's GET /hello/{name} must greet the name in the path",
        sent=reply.sent,
        expected="200 OK, body 'Hello, Ada!\\n'",
        got=reply.summary(),
        look=LOOK_RESOLVE,
    )

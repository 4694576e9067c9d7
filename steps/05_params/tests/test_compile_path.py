"""Stage 05 without a server: compile_path, Resource.match and UrlDispatcher.resolve.

A route's path is turned into a regex once, when it is added; each request then costs one
`fullmatch`. These tests call the pieces directly, so a failure points at one function.

They run in the process that imports your code: `router` is a handle to your sketch/router.py
there, and a compiled pattern stays there too (its matches come back as values).
"""

import pytest

from workshop.remote import type_name
from workshop.testing import expect

LOOK_COMPILE = "sketch/router.py: compile_path"
LOOK_MATCH = "sketch/router.py: Resource.match"
LOOK_RESOLVE = "sketch/router.py: UrlDispatcher.resolve"


@pytest.fixture
def router(sketch):
    return sketch.router


def is_pattern(value) -> bool:
    return type_name(value) == "re.Pattern"


def test_plain_path_needs_no_regex(router):
    pattern = router.compile_path("/about")
    expect(
        pattern is None,
        "compile_path('/about') must be None: a path without {parameters} compares as a string",
        expected="None",
        got=repr(pattern),
        look=LOOK_COMPILE,
    )


@pytest.mark.parametrize(
    ("route", "path", "params"),
    [
        ("/users/{name}", "/users/bob", {"name": "bob"}),
        ("/users/{name}", "/users/Jürgen", {"name": "Jürgen"}),
        ("/{a}/{b}", "/x/y", {"a": "x", "b": "y"}),
        (r"/items/{id:\d+}", "/items/2024", {"id": "2024"}),
        ("/lang/{code:[a-z]{2}}", "/lang/fr", {"code": "fr"}),
        ("/files/{name}.txt", "/files/notes.txt", {"name": "notes"}),
        ("/static/{path:.+}", "/static/css/site.css", {"path": "css/site.css"}),
    ],
)
def test_compiled_pattern_matches_and_names_the_parameters(router, route, path, params):
    pattern = router.compile_path(route)
    found = pattern.fullmatch(path) if is_pattern(pattern) else None
    expect(
        found is not None and found.groupdict() == params,
        f"compile_path({route!r}) must give a regex that fullmatches {path!r} "
        "with a named group per parameter",
        expected=f"groupdict() == {params!r}",
        got=f"pattern {getattr(pattern, 'pattern', pattern)!r}, "
        f"{'groups ' + repr(found.groupdict()) if found else 'no match'}",
        look=LOOK_COMPILE,
    )


@pytest.mark.parametrize(
    ("route", "path", "why"),
    [
        ("/users/{name}", "/users/bob/extra", "{name} stops at a '/'"),
        ("/users/{name}", "/users/", "{name} is at least one character"),
        (r"/items/{id:\d+}", "/items/abc", r"\d+ is digits"),
        ("/lang/{code:[a-z]{2}}", "/lang/eng", "{2} means exactly two"),
        ("/files/{name}.txt", "/files/notesXtxt", "the '.' is a literal dot (re.escape)"),
        ("/a+b/{x}", "/aab/y", "the '+' is a literal plus (re.escape)"),
    ],
)
def test_compiled_pattern_refuses_other_paths(router, route, path, why):
    pattern = router.compile_path(route)
    found = pattern.fullmatch(path) if is_pattern(pattern) else "no pattern"
    expect(
        found is None,
        f"compile_path({route!r}) must not match {path!r}: {why}",
        expected="no match",
        got=f"pattern {getattr(pattern, 'pattern', pattern)!r} matched: {found!r}",
        look=LOOK_COMPILE,
    )


@pytest.mark.parametrize(
    ("route", "path", "want"),
    [
        ("/about", "/about", {}),
        ("/about", "/about/", None),
        ("/users/{name}", "/users/bob", {"name": "bob"}),
        ("/users/{name}", "/users/bob/extra", None),
        ("/users/{name}", "/people/users/bob", None),
    ],
)
def test_resource_matches_the_whole_path_or_nothing(router, route, path, want):
    got = router.Resource(route).match(path)
    expect(
        got == want,
        f"Resource({route!r}).match({path!r}) must be {want!r}: the whole path must match",
        expected=repr(want),
        got=repr(got),
        look=f"{LOOK_MATCH} (fullmatch, not match or search)",
    )


def make_router(router, apps):
    """A UrlDispatcher with /users/me, then /users/{name} for GET and POST."""
    dispatcher = router.UrlDispatcher()
    dispatcher.add_get("/users/me", apps.me)
    dispatcher.add_get("/users/{name}", apps.users)
    dispatcher.add_post("/users/{name}", apps.create)
    return dispatcher


@pytest.mark.parametrize(
    ("method", "path", "name", "params"),
    [
        ("GET", "/users/me", "me", {}),
        ("GET", "/users/ann", "users", {"name": "ann"}),
        ("HEAD", "/users/ann", "users", {"name": "ann"}),
        ("POST", "/users/me", "create", {"name": "me"}),
    ],
)
def test_resolve_gives_the_first_route_that_takes_method_and_path(
    router, apps, method, path, name, params
):
    handler = getattr(apps, name)
    found, match_info = make_router(router, apps).resolve(method, path)
    expect(
        found is handler and match_info == params,
        f"resolve({method!r}, {path!r}): the first resource, in the order added, whose path "
        f"matches and which has a {method} handler",
        expected=f"({handler.__name__}, {params!r})",
        got=f"({getattr(found, '__name__', found)}, {match_info!r})",
        look=LOOK_RESOLVE,
    )


async def answer_of(handler, sketch, method: str, path: str) -> tuple[int, str]:
    """The status and Allow header of what HANDLER answers to METHOD PATH."""
    raw = sketch.parser.RawRequest(method, path.encode(), "1.1", [(b"Host", b"x")], b"")
    response = await handler(sketch.request.Request(raw))
    return response.status, response.headers.get("Allow", "")


def methods(allow: str) -> set[str]:
    return {m.strip() for m in allow.split(",") if m.strip()}


async def test_resolve_gives_a_405_handler_naming_the_allowed_methods(router, apps, sketch):
    handler, _ = make_router(router, apps).resolve("DELETE", "/users/ann")
    status, allow = await answer_of(handler, sketch, "DELETE", "/users/ann")
    expect(
        status == 405 and methods(allow) == {"GET", "HEAD", "POST"},
        "resolve('DELETE', '/users/ann'): the path matches routes with GET, HEAD and POST "
        "only, so the handler must answer 405 with Allow listing them",
        expected="405, Allow: GET, HEAD, POST",
        got=f"{status}, Allow: {allow or '(none)'}",
        look=f"{LOOK_RESOLVE} (sketch/router.py: method_not_allowed makes that handler)",
    )


async def test_allow_lists_the_methods_of_every_resource_whose_path_matches(router, apps, sketch):
    dispatcher = router.UrlDispatcher()
    dispatcher.add_post("/users/{name}", apps.create)
    dispatcher.add_get("/users/me", apps.me)  # also matches /users/me, with GET and HEAD
    handler, _ = dispatcher.resolve("DELETE", "/users/me")
    status, allow = await answer_of(handler, sketch, "DELETE", "/users/me")
    expect(
        status == 405 and methods(allow) == {"GET", "HEAD", "POST"},
        "DELETE /users/me: two resources match that path, /users/{name} (POST) and /users/me "
        "(GET, HEAD), and neither takes DELETE: Allow lists what the path takes, so the "
        "methods of every matching resource, not of one of them",
        sent="add_post('/users/{name}'), add_get('/users/me'); resolve('DELETE', '/users/me')",
        expected="405, Allow: GET, HEAD, POST",
        got=f"{status}, Allow: {allow or '(none)'}",
        look=f"{LOOK_RESOLVE} (collect the methods of every resource whose path matched)",
    )

"""Stage 08, without a network: HTTP exceptions are exceptions *and* responses.

`raise HTTPNotFound()` must work like any `raise`, and what is caught must be a Response the
server can send as it is: a status, a reason, headers and a body.

The exceptions are raised and caught in the process that imports your code, by
`caught(cls, *args, **kwargs)` in tests/drivers.py; `web` is a handle to your
sketch/exceptions.py there, and what was caught comes back as a handle too.
"""

import pytest

from workshop.remote import type_name
from workshop.testing import expect, fail

LOOK_INIT = "sketch/exceptions.py: HTTPException.__init__"
LOOK_REDIRECT = "sketch/exceptions.py: HTTPRedirection.__init__"


def expect_raised(error, cls, name: str, look: str = LOOK_INIT) -> None:
    """Fail unless ERROR, caught of `raise cls()`, is that exception and not another."""
    if not isinstance(error, cls):
        fail(
            f"`raise {name}()` must raise a {name}, but making one raised another exception",
            sent=f"class {name}(HTTPException): status_code = {cls.status_code}; raise {name}()",
            expected=f"a {name}",
            got=f"{type_name(error)}: {error}",
            look=look,
        )


@pytest.fixture
def web(sketch):
    return sketch.exceptions


@pytest.fixture
def caught(drivers):
    """`caught(cls, *args, **kwargs)`: what `except Exception` catches of `raise cls(...)`."""
    return drivers.caught


@pytest.mark.parametrize(
    "name, status, reason",
    [
        ("HTTPBadRequest", 400, "Bad Request"),
        ("HTTPNotFound", 404, "Not Found"),
        ("HTTPInternalServerError", 500, "Internal Server Error"),
    ],
)
def test_an_http_exception_is_a_response_with_its_class_status(
    web, sketch, caught, name, status, reason
):
    cls = getattr(web, name)
    error = caught(cls)
    expect(
        isinstance(error, cls) and isinstance(error, sketch.response.Response),
        f"`raise {name}()` must raise it, and what is caught is also a Response",
        sent=f"raise {name}()",
        expected=f"a {name}, which is both an Exception and a Response",
        got=repr(error),
        look=LOOK_INIT,
    )
    got = f"{error.status} {error.reason}, body {error.body!r}"
    expect(
        error.status == status and error.reason == reason and str(status).encode() in error.body,
        f"{name} takes its status from the class attribute status_code, "
        "and has a short default body naming it",
        sent=f"{name}()",
        expected=f"{status} {reason}, a body that mentions {status}",
        got=got,
        look=LOOK_INIT,
    )


def test_a_new_status_is_one_subclass_with_a_class_attribute(drivers, caught):
    cls = drivers.status_class("HTTPTeapot", 418)
    error = caught(cls)
    expect_raised(error, cls, "HTTPTeapot")
    expect(
        error.status == 418 and error.reason == "I'm a Teapot",
        "the status comes from the class, so a subclass needs nothing but `status_code = 418`",
        sent="class HTTPTeapot(HTTPException): status_code = 418; raise HTTPTeapot()",
        expected="418 I'm a Teapot",
        got=f"{getattr(error, 'status', None)} {getattr(error, 'reason', None)} ({error!r})",
        look=LOOK_INIT,
    )


def test_a_status_http_does_not_name_still_makes_an_exception(drivers, caught):
    # 599 is used by some proxies; http.HTTPStatus has no phrase for it.
    cls = drivers.status_class("HTTPSiteFrozen", 599)
    error = caught(cls)
    look = LOOK_INIT + " (use reason_phrase from sketch/response.py, not HTTPStatus)"
    expect_raised(error, cls, "HTTPSiteFrozen", look)
    expect(
        error.status == 599 and error.reason == "Unknown" and error.body.startswith(b"599"),
        "a status without a standard phrase gets the reason 'Unknown', never a ValueError",
        sent="class HTTPSiteFrozen(HTTPException): status_code = 599; raise HTTPSiteFrozen()",
        expected="599 Unknown, body '599: Unknown'",
        got=f"{getattr(error, 'status', None)} {getattr(error, 'reason', None)} ({error!r})",
        look=LOOK_INIT + " (use reason_phrase from sketch/response.py, not HTTPStatus)",
    )


def test_text_reason_and_headers_are_those_given(web, caught):
    error = caught(
        web.HTTPBadRequest,
        text="name is required\n",
        reason="Name Missing",
        headers={"X-Field": "name"},
    )
    got = f"{error.status} {error.reason}, headers {dict(error.headers)}, body {error.body!r}"
    expect(
        error.status == 400
        and error.reason == "Name Missing"
        and error.body == b"name is required\n"
        and error.headers.get("X-Field") == "name"
        and error.headers.get("Content-Type", "").startswith("text/plain"),
        "text=, reason= and headers= are passed to the Response part, as for any Response",
        sent="HTTPBadRequest(text='name is required\\n', reason='Name Missing', "
        "headers={'X-Field': 'name'})",
        expected="400 Name Missing, X-Field: name, text/plain, body b'name is required\\n'",
        got=got,
        look=LOOK_INIT,
    )


def test_http_found_sets_location(web, caught):
    error = caught(web.HTTPFound, "/new-home")
    got = f"{getattr(error, 'status', None)}, headers {dict(getattr(error, 'headers', {}))}"
    expect(
        isinstance(error, web.HTTPFound)
        and error.status == 302
        and error.headers.get("Location") == "/new-home",
        "HTTPFound(location) is a 302 whose Location header says where to go",
        sent="raise HTTPFound('/new-home')",
        expected="302 with `Location: /new-home`",
        got=got if isinstance(error, web.HTTPFound) else repr(error),
        look=LOOK_REDIRECT,
    )


def test_http_found_keeps_other_headers(web, caught):
    error = caught(web.HTTPFound, "/login", headers={"Set-Cookie": "next=/admin"})
    headers = dict(getattr(error, "headers", {}))
    expect(
        headers.get("Location") == "/login" and headers.get("Set-Cookie") == "next=/admin",
        "headers given to a redirect are kept beside its Location",
        sent="HTTPFound('/login', headers={'Set-Cookie': 'next=/admin'})",
        expected="both Location: /login and Set-Cookie: next=/admin",
        got=headers or repr(error),
        look=LOOK_REDIRECT,
    )


def test_method_not_allowed_carries_allow(web, caught):
    error = caught(web.HTTPMethodNotAllowed, "DELETE", ["GET", "POST", "HEAD"])
    headers = dict(getattr(error, "headers", {}))
    expect(
        getattr(error, "status", None) == 405 and headers.get("Allow") == "GET, HEAD, POST",
        "HTTPMethodNotAllowed(method, allowed) is a 405 whose Allow header lists the methods",
        sent="HTTPMethodNotAllowed('DELETE', ['GET', 'POST', 'HEAD'])",
        expected="405 with `Allow: GET, HEAD, POST`",
        got=f"{getattr(error, 'status', None)}, headers {headers}" if headers else repr(error),
        look=LOOK_INIT,
    )


def test_an_http_exception_encodes_like_any_response(web, caught):
    data = caught(web.HTTPNotFound).encode()
    head, _, body = data.partition(b"\r\n\r\n")
    expect(
        head.startswith(b"HTTP/1.1 404 Not Found\r\n")
        and f"Content-Length: {len(body)}".encode() in head,
        "the server sends an HTTP exception as it sends a Response: it *is* one",
        sent="HTTPNotFound().encode()",
        expected="HTTP/1.1 404 Not Found, with a Content-Length that fits the body",
        got=data,
        look=LOOK_INIT,
    )

"""Stage 03, without a network: Request, the handler's view of a parsed request.

Each test builds a RawRequest by hand (what stage 02's parser hands on) and reads it through
a Request. Docs: https://yarl.aio-libs.org/ and https://multidict.aio-libs.org/

The objects are made in the process that imports your code; `sketch` is a handle to your
package there, and what a test reads back (a URL, headers, bytes) comes back as a value.
"""

import pytest
from multidict import CIMultiDictProxy
from yarl import URL

from workshop.remote import type_name
from workshop.testing import expect, fail

LOOK = "sketch/request.py: Request"


@pytest.fixture
def make_request(sketch):
    """`make_request(target, headers, body, method)`: a Request over a hand-made RawRequest."""

    def make(
        target: bytes = b"/",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        method: str = "GET",
    ):
        raw = sketch.parser.RawRequest(
            method=method, target=target, version="1.1", headers=headers or [], body=body
        )
        return sketch.request.Request(raw)

    return make


def test_rel_url_is_a_yarl_url_of_the_path_and_query(make_request):
    request = make_request(b"/search?q=asyncio&page=2")
    rel_url = request.rel_url
    expect(
        isinstance(rel_url, URL) and str(rel_url) == "/search?q=asyncio&page=2",
        "request.rel_url must be a yarl.URL of the path and query, exactly as they were sent",
        sent=b"GET /search?q=asyncio&page=2 HTTP/1.1",
        expected="URL('/search?q=asyncio&page=2')",
        got=repr(rel_url),
        look=f"{LOOK}.rel_url",
    )
    expect(
        request.path == "/search",
        "request.path is the path of request.rel_url, without the query",
        expected="'/search'",
        got=repr(request.path),
        look=f"{LOOK}.rel_url",
    )


def test_url_is_absolute_with_the_host_the_client_asked_for(make_request):
    request = make_request(b"/search?q=asyncio", [(b"Host", b"example.com:8080")])
    got = (str(request.url), request.host)
    expect(
        got == ("http://example.com:8080/search?q=asyncio", "example.com:8080"),
        "request.url is the whole URL, as aiohttp's: the scheme, the Host header (port "
        "included), then rel_url; request.host is the Host header",
        sent=b"GET /search?q=asyncio HTTP/1.1\r\nHost: example.com:8080",
        expected="('http://example.com:8080/search?q=asyncio', 'example.com:8080')",
        got=repr(got),
        look=f"{LOOK}.rel_url and Request.headers (Request.url and host are given)",
    )


def test_a_whole_url_as_target_is_its_path_and_its_host_wins_over_host(make_request):
    target = b"http://example.com:8080/search?q=asyncio"
    request = make_request(target, [(b"Host", b"other.test")])
    got = (request.path, str(request.rel_url), request.host, str(request.url))
    want = ("/search", "/search?q=asyncio", "example.com:8080", target.decode())
    expect(
        got == want,
        "a client may send a whole URL as the target (the absolute form, RFC 9112 3.2.2): "
        "the route is found on its path, and its host wins over the Host header",
        sent=b"GET " + target + b" HTTP/1.1\r\nHost: other.test",
        expected=repr(want),
        got=repr(got),
        look=f"{LOOK}.rel_url (split self.target.path_and_query, not the raw target)",
    )


def test_a_path_starting_with_two_slashes_stays_a_path(make_request):
    request = make_request(b"//about?x=1")
    got = (request.path, request.query.get("x"))
    expect(
        got == ("//about", "1"),
        "a request-target is a path: `//about` must not be read as a host name",
        sent=b"GET //about?x=1 HTTP/1.1",
        expected="('//about', '1')",
        got=repr(got),
        look="sketch/request.py: Request.rel_url (URL.build from path and query, not URL(...))",
    )


def test_path_is_percent_decoded_and_raw_path_is_not(make_request):
    request = make_request(b"/users/J%C3%BCrgen/%7Ehome")
    got = (request.path, request.raw_path)
    expect(
        got == ("/users/Jürgen/~home", "/users/J%C3%BCrgen/%7Ehome"),
        "the target on the wire is percent-encoded: build the URL with encoded=True, then "
        "url.path decodes it and url.raw_path keeps it exactly as sent (yarl would re-quote "
        "a target it believes is not encoded yet, turning %7E into ~)",
        sent=b"GET /users/J%C3%BCrgen/%7Ehome HTTP/1.1",
        expected="('/users/Jürgen/~home', '/users/J%C3%BCrgen/%7Ehome')",
        got=repr(got),
        look=f"{LOOK}.rel_url",
    )


def test_query_is_decoded_and_keeps_repeated_keys(make_request):
    request = make_request(b"/items?tag=red&tag=blue&q=hello%20world")
    query = request.query
    got = (query.getall("tag", []), query.get("q"))
    expect(
        got == (["red", "blue"], "hello world"),
        "request.query must decode the query string and keep every value of a repeated key",
        sent=b"GET /items?tag=red&tag=blue&q=hello%20world HTTP/1.1",
        expected="getall('tag') == ['red', 'blue'], query['q'] == 'hello world'",
        got=f"getall('tag') == {got[0]!r}, query['q'] == {got[1]!r}",
        look=f"{LOOK}.rel_url",
    )


def test_headers_are_case_insensitive_and_keep_repeats(make_request):
    raw_headers = [
        (b"Content-Type", b"text/plain"),
        (b"X-Tag", b"one"),
        (b"x-tag", b"two"),
        (b"X-Name", b"caf\xe9"),  # a byte above 127: header bytes are latin-1
    ]
    headers = make_request(headers=raw_headers).headers
    try:
        got = (headers.get("content-type"), headers.getall("X-TAG", []), headers.get("x-name"))
    except (AttributeError, TypeError) as error:
        fail(
            "request.headers must be a multidict: a name found whatever its case, every value "
            "of a repeated name kept (getall); a dict does neither",
            sent=repr(raw_headers),
            expected="CIMultiDictProxy over a CIMultiDict",
            got=f"{type_name(headers)}: {error}",
            look=f"{LOOK}.headers",
        )
    expect(
        got == ("text/plain", ["one", "two"], "café"),
        "request.headers must find a header whatever the case of its name, keep every "
        "repeat in order, and decode the bytes as latin-1",
        sent=repr(raw_headers),
        expected="('text/plain', ['one', 'two'], 'café')",
        got=repr(got),
        look=f"{LOOK}.headers",
    )
    expect(
        isinstance(headers, CIMultiDictProxy),
        "request.headers must be read-only: a CIMultiDictProxy over a CIMultiDict",
        expected="CIMultiDictProxy",
        got=type(headers).__name__,
        look=f"{LOOK}.headers",
    )


async def test_text_is_the_body_decoded_as_utf8_by_default(make_request):
    body = "Grüße, 世界".encode()
    request = make_request(headers=[(b"Content-Type", b"text/plain")], body=body)
    raw, text = await request.read(), await request.text()
    expect(
        raw == body and text == "Grüße, 世界",
        "await request.read() gives the body's bytes; await request.text() decodes them "
        "with UTF-8 when the Content-Type names no charset",
        sent=body,
        expected="read() == the bytes sent, text() == 'Grüße, 世界'",
        got=f"read() == {raw!r}, text() == {text!r}",
        look=f"{LOOK}.text",
    )


async def test_text_uses_the_charset_of_the_content_type(make_request):
    body = "café crème".encode("latin-1")
    content_type = b"text/plain; charset=latin-1"
    request = make_request(headers=[(b"Content-Type", content_type)], body=body)
    try:
        text = await request.text()
    except UnicodeDecodeError as error:
        fail(
            "request.text() must decode with the charset the Content-Type names",
            sent=f"Content-Type: {content_type.decode()}, body {body!r}",
            expected="'café crème'",
            got=f"UnicodeDecodeError: {error}",
            look=f"{LOOK}.text (request.charset is already parsed for you)",
        )
    expect(
        text == "café crème",
        "request.text() must decode with the charset the Content-Type names",
        sent=f"Content-Type: {content_type.decode()}, body {body!r}",
        expected="'café crème'",
        got=repr(text),
        look=f"{LOOK}.text",
    )


async def test_json_parses_the_body(make_request):
    body = '{"name": "Jürgen", "tags": [1, 2]}'.encode()
    request = make_request(
        method="POST", headers=[(b"Content-Type", b"application/json")], body=body
    )
    data = await request.json()
    expect(
        data == {"name": "Jürgen", "tags": [1, 2]},
        "await request.json() must parse the body (decoded as request.text() does)",
        sent=body,
        expected="{'name': 'Jürgen', 'tags': [1, 2]}",
        got=repr(data),
        look=f"{LOOK}.text and Request.json",
    )

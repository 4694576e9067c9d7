"""The RFC rules of issue 17, one test each, against the final reference over TCP.

The reference serves tests/conformance_app.py, which echoes what its handler saw. A rule the
reference does not meet is xfail(strict=True), saying why (a limit of llhttp, the parser we
chose; lesson 09's limits table): should it ever pass, the mark must go.
tests/test_corpora.py runs the third-party corpora; these are the rules the issue names,
one sentence each.
"""

import pytest

from tests.conformance import echoed, serve_echo_app
from tests.reference import refused
from workshop.testing import expect, request

pytestmark = pytest.mark.timeout(15)

URL_LOOK = "sketch/request.py: Request.url, rel_url and host; sketch/target.py (stage 03)"
READER_LOOK = "sketch/rules.py, sketch/parser.py and sketch/limits.py (stage 09)"


def llhttp_limit(what: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"a limit of llhttp, kept on purpose: {what}")


@pytest.fixture(scope="module")
def server():
    yield from serve_echo_app()


async def reaches_the_app(server, data: bytes, rule: str, look: str, **seen: object) -> None:
    """Send DATA: the app must answer it, its handler having seen each of SEEN as given."""
    reply = await request(server, data)
    echo = echoed(reply)
    expect(
        echo is not None,
        f"{rule}: the request must reach the app",
        sent=data,
        expected="200, with the echo of the request",
        got=reply.summary(),
        look=look,
    )
    got = {key: echo[key] for key in seen}
    expect(
        got == seen,
        rule,
        sent=data,
        expected=", ".join(f"{key} {value!r}" for key, value in seen.items()),
        got=", ".join(f"{key} {value!r}" for key, value in got.items()),
        look=look,
    )


# --- the target and the URL (RFC 9112 3.2; aiohttp's request.url, rel_url, host) -----------


async def test_an_absolute_form_target_reaches_the_route_of_its_path(server):
    data = b"GET http://example.com/echo?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
    rule = "RFC 9112 3.2.2: a server MUST accept the absolute form, and route it on its path"
    await reaches_the_app(server, data, rule, URL_LOOK, path="/echo", query_string="x=1")


async def test_the_authority_of_an_absolute_form_target_overrides_host(server):
    data = b"GET http://example.com:8080/echo HTTP/1.1\r\nHost: other.test\r\n\r\n"
    rule = "RFC 9112 3.2.2: with an absolute-form target, its authority wins over Host"
    await reaches_the_app(
        server, data, rule, URL_LOOK, url="http://example.com:8080/echo", host="example.com:8080"
    )


async def test_request_url_is_absolute_and_request_rel_url_is_relative(server):
    data = b"GET /info?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"
    rule = "as aiohttp (and the contract): url has scheme and Host, rel_url path and query"
    await reaches_the_app(
        server,
        data,
        rule,
        URL_LOOK,
        url="http://example.com:8080/info?x=1",
        rel_url="/info?x=1",
        host="example.com:8080",
    )


@pytest.mark.parametrize(
    "data",
    [b"GET /info?x=1 HTTP/1.0\r\n\r\n", b"GET /info?x=1 HTTP/1.1\r\nHost:\r\n\r\n"],
    ids=["http-1.0-without-host", "empty-host"],
)
async def test_a_request_without_a_usable_host_gets_the_servers_own_address(server, data):
    rule = (
        "RFC 9112 3.2: HTTP/1.0 may omit Host, and an empty Host is valid: the URL falls back "
        "to the server's own address"
    )
    address = f"{server.host}:{server.port}"
    await reaches_the_app(
        server, data, rule, URL_LOOK, url=f"http://{address}/info?x=1", host=address
    )


# --- Host (RFC 9112 3.2, RFC 9110 7.2) ----------------------------------------------------


@pytest.mark.parametrize(
    "hosts",
    [(b"example.com", b"example.com"), (b"example.com", b"evil.test")],
    ids=["same", "different"],
)
async def test_two_host_fields_get_400(server, hosts):
    data = b"GET /echo HTTP/1.1\r\nHost: %s\r\nHost: %s\r\n\r\n" % hosts
    rule = "RFC 9112 3.2: a request with more than one Host field MUST get 400"
    await refused(server, data, 400, rule, READER_LOOK)


@pytest.mark.parametrize(
    "host",
    [b"a b", b"user@localhost", b"localhost/path", b"a, b", b"[::1"],
    ids=["space", "userinfo", "path", "list", "open-bracket"],
)
async def test_an_invalid_host_value_gets_400(server, host):
    data = b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % host
    rule = 'RFC 9112 3.2: Host = uri-host [ ":" port ] (RFC 3986); any other value MUST get 400'
    await refused(server, data, 400, rule, READER_LOOK)


@pytest.mark.parametrize(
    "host",
    [b"example.com", b"example.com:8080", b"127.0.0.1:8080", b"[::1]:8080", b"0.0.0.0=5000"],
    ids=["name", "name-and-port", "ipv4", "ipv6", "sub-delims"],
)
async def test_a_valid_host_value_reaches_the_app(server, host):
    data = b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % host
    rule = "RFC 3986 3.2.2: a reg-name, an IPv4 address or a bracketed IPv6 one, with a port"
    await reaches_the_app(server, data, rule, READER_LOOK, headers=[["Host", host.decode()]])


# --- the request-line (RFC 9112 3) ----------------------------------------------------------


async def test_get_with_the_asterisk_form_gets_400(server):
    data = b"GET * HTTP/1.1\r\nHost: example.com\r\n\r\n"
    rule = "RFC 9112 3.2.4: the asterisk form is only for OPTIONS"
    await refused(server, data, 400, rule, READER_LOOK)


async def test_options_with_the_asterisk_form_reaches_the_app(server):
    data = b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n"
    rule = "RFC 9112 3.2.4: `OPTIONS *` asks about the server itself"
    await reaches_the_app(server, data, rule, READER_LOOK, method="OPTIONS", path="*")


async def test_an_http_2_0_request_line_gets_505(server):
    data = b"GET /echo HTTP/2.0\r\nHost: example.com\r\n\r\n"
    rule = "RFC 9110 15.6.6: a major version the server does not speak on this connection: 505"
    await refused(server, data, 505, rule, READER_LOOK)


async def test_an_http_0_9_request_line_gets_400(server):
    data = b"GET /echo\r\n\r\n"
    rule = "RFC 9112 3: request-line = method SP request-target SP HTTP-version; no version: 400"
    await refused(server, data, 400, rule, READER_LOOK)


@llhttp_limit(
    "it reads a run of spaces between the parts of the request line as one, and hands us "
    "the parts, never the line; a check of our own would have to find where each request "
    "begins in the byte stream, which only llhttp knows (lesson 09, limits table)"
)
@pytest.mark.parametrize(
    "line", [b"GET  /echo HTTP/1.1", b"GET /echo  HTTP/1.1"], ids=["before-target", "after-target"]
)
async def test_a_request_line_with_two_spaces_gets_400(server, line):
    data = line + b"\r\nHost: example.com\r\n\r\n"
    rule = (
        "RFC 9112 3: one SP between the parts; a server may be lenient, but lenient parsing "
        "invites request smuggling"
    )
    await refused(server, data, 400, rule, READER_LOOK)


async def test_a_fragment_in_the_target_gets_400(server):
    data = b"GET /echo?x=1#part HTTP/1.1\r\nHost: example.com\r\n\r\n"
    rule = "RFC 9112 3.2: the request-target has no fragment (a client never sends one)"
    await refused(server, data, 400, rule, READER_LOOK)


# --- the body (RFC 9110 8.6, RFC 9112 7.1.1) ------------------------------------------------


@pytest.mark.parametrize(
    "length", [b"005", b"5 ", b" 5\t"], ids=["leading-zeros", "trailing-space", "both-sides"]
)
async def test_a_content_length_with_leading_zeros_or_whitespace_is_still_read(server, length):
    data = b"POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: %s\r\n\r\nhello" % length
    rule = (
        "RFC 9110 8.6: Content-Length = 1*DIGIT, so 005 is 5; the whitespace around a field "
        "value is not part of it (RFC 9110 5.5)"
    )
    await reaches_the_app(server, data, rule, READER_LOOK, body="hello")


async def test_a_64_kib_chunk_extension_gets_400(server):
    data = (
        b"POST /echo HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;" + b"x" * 65536 + b"\r\nhello\r\n0\r\n\r\n"
    )
    rule = (
        "RFC 9112 7.1.1: a server ought to limit the length of chunk extensions, as it does "
        "other parts of a message, and answer a 4xx beyond it"
    )
    await refused(server, data, 400, rule, READER_LOOK)

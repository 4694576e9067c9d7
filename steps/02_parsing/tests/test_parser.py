"""Stage 02, without a network: RequestParser fed bytes the way TCP delivers them.

TCP hands the server a stream, cut wherever the network pleases: a URL, a header or a body
can be split across two `data_received` calls, and httptools then calls `on_url` or `on_body`
once per piece. These tests cut one request at many places and expect the same result.

The parser runs in the process that imports your code: `drivers.parse(*pieces)` (in
tests/drivers.py) feeds it there and hands back the RawRequests it made.
"""

import pytest

from workshop.testing import expect, fail

LOOK = "sketch/parser.py: RequestParser"

REQUEST = (
    b"POST /search?q=asyncio&lang=en HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"X-Tag: one\r\n"
    b"X-Tag: two\r\n"
    b"Content-Length: 11\r\n"
    b"\r\n"
    b"hello world"
)
HEADERS = [
    (b"Host", b"example.com"),
    (b"X-Tag", b"one"),
    (b"X-Tag", b"two"),
    (b"Content-Length", b"11"),
]


@pytest.fixture
def parse(drivers):
    """`parse(*pieces)`: every RawRequest a new RequestParser hands on, fed those pieces."""
    return drivers.parse


def expect_one(requests: list, sent: bytes | str):
    expect(
        len(requests) == 1,
        f"one request must give exactly one call of on_request, there were {len(requests)}",
        sent=sent,
        expected="1 RawRequest, handed on when on_message_complete is called",
        got=repr(requests),
        look=f"{LOOK}.on_message_complete",
    )
    return requests[0]


def expect_fields(raw, sent: bytes | str, **expected: object) -> None:
    """Compare the named fields of RAW, naming the callback that fills each one."""
    fills = {
        "method": "on_message_complete",
        "target": "on_url",
        "version": "on_message_complete",
        "headers": "on_header",
        "body": "on_body",
    }
    for name, want in expected.items():
        got = getattr(raw, name)
        if got != want:
            if isinstance(want, str) and isinstance(got, (bytes, bytearray)):
                why = "it must be a str, but httptools hands you bytes: decode them"
            elif name in ("target", "body"):
                why = f"{fills[name]} may be called several times, once per piece: add every piece"
            elif name == "headers":
                why = "append every (name, value) pair as it comes: repeats kept, order kept"
            else:
                why = f"{fills[name]} builds it from what self.parser reports"
            fail(
                f"RawRequest.{name} is wrong: {why}",
                sent=sent,
                expected=repr(want),
                got=repr(got),
                look=f"{LOOK}.{fills[name]}",
            )


def test_a_simple_get_is_parsed(parse):
    data = b"GET /index.html HTTP/1.0\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    raw = expect_one(parse(data), data)
    expect_fields(
        raw,
        data,
        method="GET",
        target=b"/index.html",
        version="1.0",
        headers=[(b"Host", b"example.com"), (b"Accept", b"*/*")],
        body=b"",
    )


def split_points() -> dict[str, int]:
    """Places to cut REQUEST in two, by name."""
    return {
        "inside the method": 2,
        "inside the path": REQUEST.index(b"arch"),
        "inside the query": REQUEST.index(b"=asyncio") + 3,
        "inside a header name": REQUEST.index(b"Host") + 2,
        "inside a header value": REQUEST.index(b"example") + 4,
        "between CR and LF": REQUEST.index(b"\r\n") + 1,
        "before the blank line": REQUEST.index(b"\r\n\r\n") + 2,
        "just before the body": REQUEST.index(b"hello"),
        "inside the body": REQUEST.index(b"world"),
        "before the last byte": len(REQUEST) - 1,
    }


# What REQUEST parses to, however it is cut.
WHOLE_REQUEST = dict(
    method="POST",
    target=b"/search?q=asyncio&lang=en",
    version="1.1",
    headers=HEADERS,
    body=b"hello world",
)


@pytest.mark.parametrize("cut", split_points().values(), ids=split_points().keys())
def test_request_split_in_two_is_parsed_once_and_whole(parse, cut):
    first, second = REQUEST[:cut], REQUEST[cut:]
    sent = f"{first!r}, then {second!r}"
    raw = expect_one(parse(first, second), sent)
    expect_fields(raw, sent, **WHOLE_REQUEST)


def test_request_fed_one_byte_at_a_time_is_parsed_once(parse):
    pieces = [REQUEST[i : i + 1] for i in range(len(REQUEST))]
    sent = f"{REQUEST!r}, one byte per feed()"
    raw = expect_one(parse(*pieces), sent)
    expect_fields(raw, sent, **WHOLE_REQUEST)


def test_repeated_headers_are_kept_in_order(parse):
    data = (
        b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nAccept: */*\r\n"
        b"Cookie: b=2\r\nCookie: c=3\r\n\r\n"
    )
    raw = expect_one(parse(data), data)
    expect_fields(
        raw,
        data,
        headers=[
            (b"Host", b"x"),
            (b"Cookie", b"a=1"),
            (b"Accept", b"*/*"),
            (b"Cookie", b"b=2"),
            (b"Cookie", b"c=3"),
        ],
    )


def test_chunked_body_is_joined_whole(parse):
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = [b"5\r\nhello\r\n", b"1\r\n \r\n", b"6\r\nwor", b"ld!\r\n", b"0\r\n\r\n"]
    sent = f"{head!r}, then the chunks {chunks!r}"
    raw = expect_one(parse(head, *chunks), sent)
    expect_fields(raw, sent, target=b"/upload", body=b"hello world!")


def test_two_requests_in_one_piece_are_parsed_separately(parse):
    first = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
    second = b"GET /b HTTP/1.1\r\nHost: y\r\n\r\n"
    requests = parse(first + second)
    expect(
        [(r.method, r.target, r.headers, r.body) for r in requests]
        == [
            ("POST", b"/a", [(b"Host", b"x"), (b"Content-Length", b"3")], b"one"),
            ("GET", b"/b", [(b"Host", b"y")], b""),
        ],
        "two requests back to back must give two RawRequests, the second with nothing "
        "left over from the first (on_message_begin starts each one afresh)",
        sent=first + second,
        expected="POST /a with body b'one', then GET /b with an empty body",
        got=repr(requests),
        look=f"{LOOK}.on_message_complete",
    )

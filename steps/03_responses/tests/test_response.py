"""Stage 03, without a network: Response, and the bytes it becomes on the wire.

Every test reads what `Response.encode()` returns, line by line, the way a client would.
An HTTP/1.1 response is a status line, header lines, an empty line (each ending in CRLF),
then exactly Content-Length bytes of body. https://www.rfc-editor.org/rfc/rfc9112#section-2

`Response` and `json_response` are your classes, made and encoded in the process that
imports your code; the bytes of `encode()` come back here as a value.
"""

import json
from dataclasses import dataclass
from http import HTTPStatus

import pytest
from multidict import CIMultiDict

from workshop.testing import expect, fail


@pytest.fixture
def Response(sketch):  # named as the class it stands for
    return sketch.response.Response


@pytest.fixture
def json_response(sketch):
    return sketch.response.json_response


LOOK = "sketch/response.py: Response.encode"


@dataclass
class Wire:
    """A response as a client reads it."""

    status_line: str
    headers: CIMultiDict[str]
    body: bytes
    raw: bytes


def read_wire(response, *, head: bool = False) -> Wire:
    """Encode RESPONSE and split the bytes; fail at once on broken framing."""
    raw = response.encode(head=head)
    expect(
        isinstance(raw, bytes),
        "Response.encode() must return bytes, ready for transport.write()",
        got=f"{type(raw).__name__}: {raw!r}"[:200],
        look=LOOK,
    )
    head_bytes, blank, body = raw.partition(b"\r\n\r\n")
    expect(
        blank,
        "the response head must end with an empty line: CRLF CRLF after the last header",
        expected="the status line and the header lines, then b'\\r\\n\\r\\n', then the body",
        got=raw,
        look=LOOK,
    )
    lines = head_bytes.split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line:
            fail(
                "every line of the response head must end with CRLF (\\r\\n), never \\n alone",
                expected="lines joined with '\\r\\n'",
                got=raw,
                look=LOOK,
            )
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, colon, value = line.decode("latin-1").partition(": ")
        expect(colon, f"the header line {line!r} is not `Name: value`", got=raw, look=LOOK)
        headers.add(name, value)
    return Wire(lines[0].decode("latin-1"), headers, body, raw)


@pytest.mark.parametrize("status", [200, 201, 301, 404, 500, 503])
def test_status_line_carries_the_standard_reason_phrase(Response, status):
    wire = read_wire(Response(status=status))
    want = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    expect(
        wire.status_line == want,
        "the status line is the version, the status code and its reason phrase "
        "(http.HTTPStatus knows them all)",
        expected=want,
        got=wire.status_line,
        look=LOOK,
    )


def test_a_given_reason_replaces_the_standard_phrase(Response):
    wire = read_wire(Response(status=200, reason="Fine, Thanks"))
    expect(
        wire.status_line == "HTTP/1.1 200 Fine, Thanks",
        "Response(reason=...) must be the phrase in the status line",
        expected="HTTP/1.1 200 Fine, Thanks",
        got=wire.status_line,
        look=LOOK,
    )


TEXTS = {"ascii": "Hello, world!\n", "accents": "Grüße, Jürgen\n", "emoji": "ok ✓ 🎉\n"}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_content_length_counts_bytes_not_characters(Response, text):
    response = Response(text=text)
    wire = read_wire(response)
    size = len(text.encode("utf-8"))
    got = (wire.headers.get("Content-Length"), wire.body)
    expect(
        got == (str(size), text.encode("utf-8")),
        f"Content-Length counts the bytes of the body ({size}), not the characters of the "
        f"text ({len(text)}); the body is the text in UTF-8, rendered once",
        sent=f"Response(text={text!r})",
        expected=f"Content-Length: {size}, body {text.encode()!r}",
        got=f"Content-Length: {got[0]}, body {got[1]!r}",
        look=LOOK,
    )


@pytest.mark.parametrize("content_type", [None, "text/html", "text/csv"])
def test_text_types_say_their_charset(Response, content_type):
    response = Response(text="<p>hi</p>", content_type=content_type)
    wire = read_wire(response)
    want = f"{content_type or 'text/plain'}; charset=utf-8"
    expect(
        wire.headers.get("Content-Type") == want,
        "a text/* body is sent with its charset, so the client decodes it as we encoded it",
        sent=f"Response(text='<p>hi</p>', content_type={content_type!r})",
        expected=f"Content-Type: {want}",
        got=f"Content-Type: {wire.headers.get('Content-Type')}",
        look=LOOK,
    )


def test_an_empty_response_says_content_length_0(Response):
    wire = read_wire(Response(status=200))
    expect(
        wire.headers.get("Content-Length") == "0" and wire.body == b"",
        "a 200 with no body must still say `Content-Length: 0`, or the client cannot tell "
        "where the response ends",
        expected=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        got=wire.raw,
        look=LOOK,
    )


@pytest.mark.parametrize("status", [100, 101, 204, 304])
def test_no_body_and_no_content_length_for_1xx_204_and_304(Response, status):
    wire = read_wire(Response(b"ignored", status=status))
    expect(
        "Content-Length" not in wire.headers and wire.body == b"",
        f"a {status} response never has a body, so it sends neither a body nor a "
        "Content-Length (RFC 9110, 6.4.1)",
        sent=f"Response(b'ignored', status={status})",
        expected=f"HTTP/1.1 {status} {HTTPStatus(status).phrase}, headers, CRLF, nothing more",
        got=wire.raw,
        look=LOOK,
    )


@pytest.mark.parametrize(
    ("status", "body", "want"), [(200, b"hi", ["2"]), (204, b"", [])], ids=["200", "204"]
)
def test_a_content_length_set_by_the_handler_is_never_sent(Response, status, body, want):
    response = Response(body, status=status, headers={"Content-Length": "99"})
    wire = read_wire(response)
    lengths = wire.headers.getall("Content-Length", [])
    expect(
        lengths == want,
        "Content-Length is worked out from the body's bytes: one the handler set is dropped, "
        "never sent beside ours (a response with two is read differently by different "
        "clients and proxies, RFC 9112, 6.3), and a 204 has none at all",
        sent=f"Response({body!r}, status={status}, headers={{'Content-Length': '99'}})",
        expected=f"Content-Length headers: {want}",
        got=f"Content-Length headers: {lengths}",
        look=LOOK,
    )


def test_head_encoding_keeps_the_headers_and_drops_the_body(Response):
    wire = read_wire(Response(text="Hello, Jürgen!\n"), head=True)
    expect(
        wire.headers.get("Content-Length") == "16" and wire.body == b"",
        "encode(head=True), the answer to a HEAD request, has the headers a GET would get, "
        "Content-Length included, and no body",
        sent="Response(text='Hello, Jürgen!\\n').encode(head=True)",
        expected="Content-Length: 16 and nothing after the empty line",
        got=wire.raw,
        look=LOOK,
    )


def test_every_header_is_sent_repeats_included(Response):
    response = Response(text="hi", headers={"X-Powered-By": "sketch"})
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    wire = read_wire(response)
    got = (wire.headers.get("X-Powered-By"), wire.headers.getall("Set-Cookie", []))
    expect(
        got == ("sketch", ["a=1", "b=2"]),
        "every header of response.headers is a line of its own, a repeated name too",
        sent="headers X-Powered-By: sketch, Set-Cookie: a=1, Set-Cookie: b=2",
        expected="('sketch', ['a=1', 'b=2'])",
        got=repr(got),
        look=LOOK,
    )


def test_json_response_sends_json_in_utf8(json_response):
    data = {"name": "Jürgen", "tags": [1, 2], "ok": True}
    wire = read_wire(json_response(data, status=201))
    try:
        decoded = json.loads(wire.body)
    except ValueError:
        decoded = f"not JSON: {wire.body!r}"
    expect(
        wire.status_line == "HTTP/1.1 201 Created"
        and wire.headers.get("Content-Type", "").startswith("application/json")
        and wire.headers.get("Content-Length") == str(len(wire.body))
        and decoded == data,
        "json_response(data, status=201) is a 201 whose body is data as JSON, "
        "Content-Type application/json, Content-Length in bytes",
        sent=f"json_response({data!r}, status=201)",
        expected="HTTP/1.1 201 Created, Content-Type: application/json..., the same data back",
        got=wire.raw,
        look=f"{LOOK} (json_response only builds a Response)",
    )


INJECTIONS = {
    "CRLF": "x\r\nSet-Cookie: stolen=1",
    "LF alone": "x\nSet-Cookie: stolen=1",
    "CR alone": "x\rSet-Cookie: stolen=1",
}


@pytest.mark.parametrize("value", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_a_header_value_with_cr_or_lf_is_refused(Response, value):
    response = Response(text="hi", headers={"Location": value})
    try:
        raw = response.encode()
    except ValueError:
        return  # refused, as it must be
    fail(
        "a header value holding CR or LF would end the header early and let whoever chose "
        "the value write headers of their own (response splitting): encode() must raise "
        "ValueError instead",
        sent=f"Response(headers={{'Location': {value!r}}}).encode()",
        expected="ValueError",
        got=raw,
        look=LOOK,
    )

"""Stage 02 over real TCP: the demo parses each request and answers with what it read.

The demo's answer is a plain-text summary: the request line, the headers in order, and
`body: N bytes`. If the summary is right, the parser saw the request right.
"""

import pytest

from workshop.testing import Connection, expect, get, request, server_output

LOOK_PARSER = "sketch/parser.py: RequestParser"
LOOK_PROTOCOL = "sketch/protocol.py: HttpProtocol.data_received"


def summary(request_line: str, headers: list[str], body_size: int) -> str:
    """The demo's answer to a request, as text."""
    return "\n".join([request_line, *headers, "", f"body: {body_size} bytes"]) + "\n"


async def test_get_is_answered_with_a_summary_of_the_request(server):
    data = get("/hello?who=you", {"User-Agent": "test"})
    reply = await request(server, data, look=LOOK_PARSER)
    want = summary("GET /hello?who=you HTTP/1.1", ["Host: 127.0.0.1", "User-Agent: test"], 0)
    expect(
        reply.status == 200 and reply.text == want,
        "a GET must be answered 200 with the demo's summary of what was parsed",
        sent=data,
        expected=f"200 OK, body {want!r}",
        got=reply.summary(),
        look=LOOK_PARSER,
    )


async def test_request_sent_one_byte_at_a_time_is_answered_once(server):
    data = get("/slowly", {"X-Pace": "one byte"})
    async with await Connection.open(server) as conn:
        # A pause between bytes makes each one a separate read on the server side.
        await conn.send([data[i : i + 1] for i in range(len(data))], pause=0.001)
        reply = await conn.read_response()
        after = await conn.read_until_close()
    want = summary("GET /slowly HTTP/1.1", ["Host: 127.0.0.1", "X-Pace: one byte"], 0)
    expect(
        reply.status == 200 and reply.text == want,
        "a request that arrives one byte per read must be parsed as if it came at once",
        sent=data,
        expected=f"200 OK, body {want!r}",
        got=reply.summary(),
        look=LOOK_PARSER,
    )
    expect(
        after == b"",
        "one request, one response: nothing may follow it before the connection closes",
        sent=data,
        expected="the connection closed after one response",
        got=after,
        look=f"{LOOK_PARSER}.on_message_complete",
    )


async def test_repeated_headers_are_kept_in_order(server):
    data = (
        b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nAccept: */*\r\n"
        b"Cookie: b=2\r\ncookie: c=3\r\n\r\n"
    )
    reply = await request(server, data)
    want = summary(
        "GET / HTTP/1.1",
        ["Host: x", "Cookie: a=1", "Accept: */*", "Cookie: b=2", "cookie: c=3"],
        0,
    )
    expect(
        reply.text == want,
        "every header line must be kept, repeats too, in the order it was sent",
        sent=data,
        expected=want,
        got=reply.summary(),
        look=f"{LOOK_PARSER}.on_header",
    )


async def test_body_with_content_length_is_read_whole(server):
    body = bytes(range(256)) * 400  # 102,400 bytes: TCP delivers it in several reads
    head = f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    pieces = [head] + [body[i : i + 8192] for i in range(0, len(body), 8192)]
    async with await Connection.open(server) as conn:
        await conn.send(pieces, pause=0.001)  # a pause keeps the pieces apart
        reply = await conn.read_response()
    expect(
        reply.status == 200 and reply.text.endswith(f"\nbody: {len(body)} bytes\n"),
        "a body announced by Content-Length must be read whole, however it was cut",
        sent=head + b"<102400 bytes, sent in pieces of 8 KiB>",
        expected=f"200 OK, a summary ending in 'body: {len(body)} bytes'",
        got=reply.summary(),
        look=f"{LOOK_PARSER}.on_body",
    )


async def test_chunked_body_is_read_whole(server):
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = [b"a\r\n0123456789\r\n", b"5\r\nabcde\r\n", b"1", b"0\r\n", b"x" * 16, b"\r\n"]
    chunks += [b"0\r\n\r\n"]  # 10 + 5 + 16 bytes of body, then the last chunk
    async with await Connection.open(server) as conn:
        await conn.send([head, *chunks], pause=0.001)
        reply = await conn.read_response()
    expect(
        reply.status == 200 and reply.text.endswith("\nbody: 31 bytes\n"),
        "a chunked body must be read whole: httptools removes the chunk framing and calls "
        "on_body once per piece of data",
        sent=head + b"".join(chunks),
        expected="200 OK, a summary ending in 'body: 31 bytes'",
        got=reply.summary(),
        look=f"{LOOK_PARSER}.on_body",
    )


MALFORMED = {
    "not HTTP at all": b"HELLO THERE\r\n\r\n",
    "binary garbage": bytes(range(1, 32)) + b"\r\n\r\n",
    "a header line without a colon": b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "a space inside the path": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "an HTTP version that does not exist": b"GET / HTTP/7.1\r\nHost: x\r\n\r\n",
    "a Content-Length that is not a number": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"
    ),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_request_gets_400_and_the_connection_closes(server, data):
    reply = await request(server, data, look=LOOK_PROTOCOL)
    expect(
        reply.status == 400,
        "bytes that are not a valid HTTP/1.1 request must be answered 400 Bad Request "
        "(httptools raises httptools.HttpParserError from feed)",
        sent=data,
        expected="HTTP/1.1 400 Bad Request",
        got=reply.summary(),
        look=LOOK_PROTOCOL,
    )
    expect(
        reply.closed,
        "after a 400 the server must close the connection: it cannot tell where the next "
        "request would begin",
        sent=data,
        expected="the connection closed after the 400",
        got="the connection stayed open",
        look=LOOK_PROTOCOL,
    )


async def test_server_keeps_serving_after_a_malformed_request(server):
    await request(server, MALFORMED["binary garbage"])
    data = get("/after")
    reply = await request(server, data, look=LOOK_PROTOCOL)
    expect(
        server.alive() and reply.status == 200,
        "after answering malformed bytes with 400, the server must serve the next client",
        sent=data,
        expected="200 OK",
        got=reply.summary(),
        look=LOOK_PROTOCOL,
    )


@pytest.mark.side_by_side  # it waits for a traceback that must not come, on its own server
async def test_an_upgrade_request_is_answered_and_logs_no_error(serve):
    server = serve(fresh=True)
    # httptools stops at an upgrade and raises HttpParserUpgrade, which is *not* an
    # HttpParserError: uncaught, it escapes data_received and asyncio logs a traceback.
    data = get("/chat", {"Connection": "Upgrade", "Upgrade": "websocket"})
    mark = server.output.total
    reply = await request(server, data, look=LOOK_PROTOCOL + " (catch httptools.HttpParserUpgrade)")
    expect(
        reply.status == 200 and "GET /chat HTTP/1.1" in reply.text,
        "a request asking to upgrade is still a request: answer it (we speak no other protocol)",
        sent=data,
        expected="200 with the summary of GET /chat",
        got=reply.summary(),
        look=LOOK_PROTOCOL + " (catch httptools.HttpParserUpgrade)",
    )
    log = await server_output(server, mark, "Traceback", timeout=0.2)
    expect(
        "Traceback" not in log,
        "the upgrade must not end in an exception escaping data_received",
        sent=data,
        expected="nothing in the server's log",
        got="\n".join(log.strip().splitlines()[-6:]),
        look=LOOK_PROTOCOL + " (catch httptools.HttpParserUpgrade)",
    )

"""Stage 03 over real TCP: the demo answers with Response objects.

The demo handler (sketch/protocol.py: demo_handler) says hello to `?name=...` in plain text
and answers `/json` with JSON. The protocol turns the Response into bytes, writes them and
closes the connection.
"""

import json

from workshop.testing import Connection, Reply, expect, get, request

LOOK_RESPOND = "sketch/protocol.py: HttpProtocol.respond"
LOOK_ENCODE = "sketch/response.py: Response.encode"


async def exchange(server, data: bytes, look: str) -> tuple[Reply, bytes]:
    """Send one request; return the response and every byte that came before the close."""
    async with await Connection.open(server, look=look) as conn:
        await conn.send(data)
        reply = await conn.read_response(head=data.startswith(b"HEAD "))
        conn.look = f"{LOOK_RESPOND} (close the connection once the response is written)"
        await conn.read_until_close()
        return reply, conn.received


def body_after_head(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


async def test_hello_greets_the_name_in_the_query(server):
    data = get("/?name=Ada")
    reply = await request(server, data, look=LOOK_RESPOND)
    expect(
        reply.status == 200
        and reply.headers.get("Content-Type") == "text/plain; charset=utf-8"
        and reply.body == b"Hello, Ada!\n",
        "GET /?name=Ada must answer 200, text/plain; charset=utf-8, 'Hello, Ada!'",
        sent=data,
        expected="HTTP/1.1 200 OK, body b'Hello, Ada!\\n'",
        got=reply.summary(),
        look=f"{LOOK_RESPOND}, then sketch/request.py: Request.rel_url",
    )


async def test_non_ascii_text_gets_its_content_length_in_bytes(server):
    data = get("/?name=J%C3%BCrgen%20%E2%9C%93")  # "Jürgen ✓", percent-encoded
    reply, raw = await exchange(server, data, LOOK_ENCODE)
    want = "Hello, Jürgen ✓!\n".encode()
    body = body_after_head(raw)
    expect(
        body == want and reply.headers.get("Content-Length") == str(len(want)),
        f"Content-Length must count bytes: 'Hello, Jürgen ✓!\\n' is 17 characters but "
        f"{len(want)} bytes in UTF-8, and a client reads exactly Content-Length bytes",
        sent=data,
        expected=f"Content-Length: {len(want)}, then {want!r}",
        got=f"Content-Length: {reply.headers.get('Content-Length')}, then {body!r}",
        look=LOOK_ENCODE,
    )


async def json_of(server, data: bytes, what: str, want: dict, look: str) -> None:
    """Send DATA to the demo's /json; its JSON must be WANT."""
    reply = await request(server, data, look=look)
    try:
        decoded = json.loads(reply.body)
    except ValueError:
        decoded = None
    expect(
        reply.status == 200
        and reply.headers.get("Content-Type", "").startswith("application/json")
        and decoded == want,
        what,
        sent=data,
        expected=f"200 OK, Content-Type: application/json..., body {json.dumps(want)}",
        got=f"{reply.summary()}, Content-Type: {reply.headers.get('Content-Type')}",
        look=look,
    )


async def test_json_path_answers_json(server):
    want = {
        "method": "GET",
        "url": "http://127.0.0.1/json?lang=en&page=2",  # the Host header get() sends
        "remote": "127.0.0.1",
        "query": {"lang": "en", "page": "2"},
    }
    await json_of(
        server,
        get("/json?lang=en&page=2"),
        "GET /json must answer with the method, the whole URL (its host from the Host "
        "header), the client's address and the query as JSON",
        want,
        f"{LOOK_RESPOND} and sketch/request.py: Request.rel_url",
    )


async def test_a_whole_url_as_target_reaches_the_path_it_names(server):
    data = b"GET http://example.com/json?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
    want = {"method": "GET", "url": "http://example.com/json?x=1", "remote": "127.0.0.1"}
    await json_of(
        server,
        data,
        "a whole URL as the target (the absolute form) must be accepted, and served on its "
        "path (RFC 9112 3.2.2): here /json",
        {**want, "query": {"x": "1"}},
        "sketch/request.py: Request.rel_url (split self.target.path_and_query)",
    )


async def test_without_a_host_header_the_url_names_the_servers_own_address(server):
    address = f"{server.host}:{server.port}"
    want = {"method": "GET", "url": f"http://{address}/json", "remote": "127.0.0.1"}
    await json_of(
        server,
        b"GET /json HTTP/1.0\r\n\r\n",
        "HTTP/1.0 may leave Host out: request.url then names the address the request came "
        "in on, so it is always a whole URL",
        {**want, "query": {}},
        "sketch/request.py: Request.rel_url (Request.url and host are given)",
    )


async def test_head_request_gets_the_headers_and_no_body(server):
    data = get("/?name=Ada", method="HEAD")
    reply, raw = await exchange(server, data, f"{LOOK_RESPOND}: encode(head=...)")
    body = body_after_head(raw)
    expect(
        reply.status == 200 and reply.headers.get("Content-Length") == "12" and body == b"",
        "HEAD gets the headers GET would get, Content-Length included, and no body at all",
        sent=data,
        expected="200 OK, Content-Length: 12, nothing after the empty line",
        got=raw,
        look=f"{LOOK_RESPOND}: encode(head=...)",
    )


async def test_the_connection_closes_after_the_response(server):
    data = get("/?name=Ada")
    reply = await request(server, data, look=LOOK_RESPOND)
    expect(
        reply.headers.get("Connection") == "close" and reply.closed,
        "until stage 09 the server answers one request per connection: it says "
        "`Connection: close` and then closes",
        sent=data,
        expected="Connection: close, then the connection closed",
        got=f"Connection: {reply.headers.get('Connection')}, "
        f"{'closed' if reply.closed else 'still open'}",
        look=LOOK_RESPOND,
    )


async def test_malformed_request_still_gets_400(server):
    data = b"NOT HTTP AT ALL\r\n\r\n"
    reply = await request(server, data, look=LOOK_ENCODE)
    expect(
        reply.status == 400
        and reply.reason == "Bad Request"
        and reply.headers.get("Content-Length") == str(len(reply.body))
        and reply.closed,
        "malformed bytes still get 400 Bad Request (now built as a Response) and a close",
        sent=data,
        expected="HTTP/1.1 400 Bad Request with a correct Content-Length, then a close",
        got=reply.summary(),
        look=LOOK_ENCODE,
    )

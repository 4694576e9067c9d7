"""The final reference (solutions/10_shutdown) against hostile and broken input.

One test per row of the limits table in the design of stages 09-10 (issue 5): what a client
may send that no handler should ever see, and what the server answers. Every test ends by
checking the server still answers a good request, and the module ends by checking the
server's log holds no task left unretrieved and no protocol callback that blew up.
"""

import asyncio
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.reference import failures_logged, refused, running_reference, still_serving
from workshop.testing import Connection, expect, get, request, server_output

HEADER_TIMEOUT = 0.3

pytestmark = pytest.mark.timeout(15)


@pytest.fixture(scope="module")
def server():
    yield from running_reference(
        "hostile_app:make_app",
        ("--header-timeout", str(HEADER_TIMEOUT)),
        extra_path=[Path(__file__).resolve().parent],
    )


@pytest.mark.parametrize(
    "data",
    [
        b"GET /ok HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET /ok HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello to a plain HTTP port
        b"GET /ok HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
    ],
    ids=["line-extra-word", "line-bad-version", "tls-hello", "header-no-colon", "header-space"],
)
async def test_a_malformed_request_line_or_header_gets_400_and_the_server_keeps_serving(
    server, data
):
    await refused(server, data, 400, "malformed input: 400 Bad Request, then close")


async def test_a_request_target_over_8190_bytes_gets_414(server):
    data = b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    await refused(server, data, 414, "a request-target longer than 8190 bytes: 414, close")


async def test_a_header_over_8190_bytes_gets_431(server):
    data = b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8200 + b"\r\n\r\n"
    await refused(server, data, 431, "a header longer than 8190 bytes: 431, close")


async def test_more_than_100_headers_get_431(server):
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    data = b"GET /ok HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    await refused(server, data, 431, "more than 100 headers: 431, close")


async def test_a_body_over_client_max_size_gets_413_before_it_is_sent(server):
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
    # Only the head is sent: the answer must come without waiting for (or reading) 2 MB.
    reply = await refused(server, head, 413, "a Content-Length over 1 MiB: 413 at once, close")
    expect(reply.status == 413, "413 for a body over client_max_size", got=reply.summary())


async def test_expect_100_continue_gets_100_before_the_body_is_sent(server):
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    async with await Connection.open(server) as conn:
        await conn.send(head)
        interim = await conn.read_response()
        expect(
            interim.status == 100,
            "a client that sends `Expect: 100-continue` waits for `100 Continue` before it "
            "sends the body",
            sent=head,
            expected="HTTP/1.1 100 Continue",
            got=interim.summary(),
            look="sketch/protocol.py: HttpProtocol.send_continue",
        )
        await conn.send(b"hello")
        final = await conn.read_response()
        expect(
            final.status == 200 and final.text == "5 bytes\n",
            "after the 100, the body is read and the request answered as usual",
            sent=conn.sent,
            expected="200 OK, body '5 bytes\\n'",
            got=final.summary(),
        )


async def test_expect_100_continue_from_http_1_0_is_ignored(server):
    # RFC 9110, 10.1.1: an HTTP/1.0 client knows no 100 Continue, and sends its body at once.
    data = b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
    reply = await request(server, data)
    expect(
        reply.status == 200 and reply.text == "5 bytes\n",
        "an HTTP/1.0 request's `Expect: 100-continue` is ignored: the first response is the "
        "final one",
        sent=data,
        expected="200 OK, body '5 bytes\\n', with no `100 Continue` before it",
        got=reply.summary(),
        look="sketch/parser.py: RequestParser.on_headers_complete",
    )


async def test_trailer_fields_after_a_chunked_body_never_become_request_headers(server):
    data = (
        b"POST /host HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nHost: evil\r\n\r\n"
    )
    reply = await request(server, data)
    expect(
        reply.status == 200 and reply.text == "Host: x\n",
        "a trailer comes after the body, unchecked: merged into the headers it could add or "
        "override one the head was checked with (RFC 9110, 6.5.1)",
        sent=data,
        expected="200 OK, body 'Host: x\\n'",
        got=reply.summary(),
        look="sketch/parser.py: RequestParser.on_header",
    )


async def test_any_other_expectation_gets_417(server):
    data = b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: a-pony\r\nContent-Length: 0\r\n\r\n"
    await refused(server, data, 417, "an Expect other than 100-continue: 417")


async def test_an_http_1_1_request_without_host_gets_400(server):
    await refused(server, b"GET /ok HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host: 400")


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: 5, 6\r\n",
    ],
    ids=["cl-then-te", "te-then-cl", "two-cls", "cl-list"],
)
async def test_ambiguous_body_framing_gets_400_and_close(server, framing):
    # Two ways to find where the body ends: a proxy may pick one and we the other, and a
    # request hidden in the body would be "smuggled" past the proxy.
    data = b"POST /echo HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n0\r\n\r\n" + get("/evil")
    await refused(server, data, 400, "ambiguous body framing (request smuggling): 400, close")


async def test_a_response_header_with_cr_or_lf_is_never_written_and_gives_500(server):
    mark = server.output.total
    reply = await request(server, get("/inject"))
    log = await server_output(server, mark, "Traceback")
    expect(
        reply.status == 500 and b"stolen" not in reply.raw,
        "a header value holding CR LF would let a handler's input write headers of its "
        "own (response splitting): refuse it, answer 500",
        sent=reply.sent,
        expected="500, and no `Set-Cookie: session=stolen` on the wire",
        got=reply.raw,
        look="sketch/response.py: Response.encode",
    )
    expect(
        "CR or LF" in log,
        "the refusal is logged, so the developer learns of the bug",
        expected="a logged error naming the header",
        got=log,
    )


async def test_a_client_sending_its_head_one_byte_at_a_time_is_closed_after_the_timeout(server):
    data = get("/ok")
    async with await Connection.open(server) as conn:
        loop = asyncio.get_running_loop()
        started = loop.time()
        closed = False
        for i in range(len(data) - 1):
            try:
                conn.writer.write(data[i : i + 1])
                await conn.writer.drain()
            except (ConnectionError, OSError):
                closed = True
                break
            if await conn.is_closed(timeout=0.05) or loop.time() - started > 3:
                closed = conn.reader.at_eof()
                break
        took = loop.time() - started
    expect(
        closed and took < HEADER_TIMEOUT + 1.0,
        "a slowloris client: its head must be complete within the header timeout",
        sent="GET /ok, one byte every 50 ms",
        expected=f"closed about {HEADER_TIMEOUT} s after the first byte",
        got=f"closed after {took:.2f} s" if closed else f"open after {took:.2f} s",
        look="sketch/protocol.py: HttpProtocol.data_received and on_timeout",
    )
    await still_serving(server)


async def test_a_client_that_disconnects_while_its_handler_runs_cancels_it_quietly(server):
    mark = server.output.total
    async with await Connection.open(server) as conn:
        await conn.send(get("/slow"))
        await server_output(server, mark, "slow: started")
    # The connection is closed now, the handler still sleeping.
    log = await server_output(server, mark, "slow: cancelled")
    expect(
        "slow: cancelled" in log,
        "when the client hangs up, its handler is cancelled: no one will read its answer",
        sent=get("/slow") + b", then the client closed the connection",
        expected="`slow: cancelled` in the log",
        got=log,
        look="sketch/protocol.py: HttpProtocol.connection_lost",
    )
    await still_serving(server)
    log = server.output.since(mark)
    bad = failures_logged(log)
    expect(
        not bad and "Traceback" not in log,
        "a cancelled handler is no error: nothing to log, no write to a closed transport",
        expected="no traceback, no `Task exception was never retrieved`",
        got=log,
    )


async def test_an_unread_body_never_becomes_the_next_request(server):
    hidden = get("/evil")
    post = b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(hidden)
    data = post + hidden + get("/ok")
    mark = server.output.total
    async with await Connection.open(server) as conn:
        await conn.send(data)
        first = await conn.read_response()
        second = await conn.read_response()
        before = len(conn.received)
        await conn.is_closed(timeout=0.1)  # reads whatever else comes: there must be nothing
        extra = conn.received[before:]
    expect(
        (first.text, second.text) == ("body ignored\n", "ok\n") and not extra,
        "the handler of POST /ignore never reads its body; the body (which looks like a "
        "request) must still be consumed, and the next request parsed after it",
        sent=data,
        expected="'body ignored', then 'ok', nothing else",
        got=f"{first.summary()} / {second.summary()} / then {extra!r}",
        look="sketch/parser.py: the body is read whole before the handler runs",
    )
    expect("EVIL" not in server.output.since(mark), "GET /evil must never be served")


async def test_a_handler_exception_gives_500_without_a_traceback(server):
    reply = await request(server, get("/boom"))
    expect(
        reply.status == 500
        and b"hunter2" not in reply.raw
        and b"Traceback" not in reply.raw
        and not reply.closed,
        "a handler that raises gives 500; the client learns nothing of the error (the log "
        "does), and the connection stays usable",
        sent=reply.sent,
        expected="500 Internal Server Error, no traceback, no exception text",
        got=reply.raw,
        look="sketch/app.py: Application.handle",
    )
    await still_serving(server)


IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT"
)


@pytest.mark.parametrize(
    "data, status",
    [
        (get("/ok"), 200),
        (get("/no-such-page"), 404),
        (get("/boom"), 500),
        (b"GET /ok HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    ],
    ids=["handler", "not-found", "handler-raised", "rejected-by-the-parser"],
)
async def test_every_response_carries_one_date_in_imf_fixdate(server, data, status):
    reply = await request(server, data)
    dates = reply.headers.getall("Date", [])
    # Parsed only once the format is right, so a malformed value fails with the message below.
    well_formed = len(dates) == 1 and IMF_FIXDATE.fullmatch(dates[0])
    when = parsedate_to_datetime(dates[0]) if well_formed else None
    expect(
        reply.status == status
        and when is not None
        and abs((datetime.now(timezone.utc) - when).total_seconds()) < 5,
        "RFC 9110 6.6.1: a server with a clock dates every response, as an IMF-fixdate in GMT",
        sent=reply.sent,
        expected=f"{status}, and one header like `Date: Sun, 06 Nov 1994 08:49:37 GMT`, now",
        got=reply.raw,
        look="sketch/writer.py: response_bytes, and sketch/httpdate.py: http_date",
    )

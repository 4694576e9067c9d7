"""Stage 09 over TCP: what a client may send, how much, how slowly, and how many at once.

llhttp checks the syntax of a request; the rules about its meaning are the server's
(sketch/rules.py, given): one Host and a valid one, a version we speak, a target of a kind
the method allows, a body framed only by Content-Length or chunked. The server also caps a
body's size (`Application(client_max_size=...)`), the time it may take to arrive
(`--body-timeout`), and the connections open at once (`--max-connections`): sketch/limits.py,
sketch/parser.py and the close policy of sketch/protocol.py, given too. What breaks a rule or
a limit is a RequestRejected, which your answer_queue answers like a request, then closes:
after a request it will not serve, the server cannot trust the bytes that follow. The
lesson's limits table says why each answer is the one it is.

`apps:small_app` is `Application(client_max_size=1024)`, served with `--body-timeout 0.2`;
another server of the same app runs with `--max-connections 2`.
"""

import asyncio
import contextlib
import time

import pytest

from workshop.testing import Connection, TeachingFailure, expect, get

BODY_TIMEOUT = 0.2  # seconds, the --body-timeout the server runs with
SMALL = 1024  # bytes, small_app's client_max_size
LOOK_REJECTED = "sketch/protocol.py: HttpProtocol.answer_queue (a RequestRejected is answered)"

# Each test has connections of its own: they all run side by side (workshop/sidebyside.py),
# so those that wait (a body timeout, a server of their own) hold up none of the others.
pytestmark = pytest.mark.side_by_side


def limits_server(serve):
    return serve("apps:small_app", "--body-timeout", str(BODY_TIMEOUT))


async def answer(conn: Connection) -> tuple[int | None, bool, str]:
    """The status of the server's answer (None: no answer), whether it then closed the
    connection, and what came back, in words."""
    try:
        reply = await conn.read_response()
    except TeachingFailure as failure:  # no answer: say what came instead
        return None, await conn.is_closed(timeout=0.05), str(failure).splitlines()[0]
    closed = await conn.is_closed(timeout=1.0)
    return reply.status, closed, f"{reply.summary()}; " + ("closed" if closed else "left open")


async def test_a_body_announced_over_the_apps_client_max_size_gets_413_before_it_is_sent(serve):
    server = limits_server(serve)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (SMALL + 1)
    async with await Connection.open(server) as conn:
        await conn.send(head)  # the head only: the answer must not wait for the body
        status, closed, seen = await answer(conn)
    expect(
        status == 413 and closed,
        f"Application(client_max_size={SMALL}) caps a request's body: a Content-Length over "
        "it is refused as soon as the head is in, before a byte of the body is read",
        sent=head,
        expected="413 at once, then the connection closed",
        got=seen,
        look=f"sketch/rules.py (given), then {LOOK_REJECTED}",
    )


async def test_a_client_still_sending_a_refused_body_gets_its_413_and_no_reset(serve):
    server = limits_server(serve)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (8 * SMALL)
    reset: Exception | None = None
    async with await Connection.open(server) as conn:
        await conn.send(head)
        try:  # the body keeps coming, as from a client that reads only once it has sent it
            for _ in range(4):
                await asyncio.sleep(0.05)
                conn.writer.write(b"x" * SMALL)
                await conn.writer.drain()
        except (ConnectionError, OSError) as error:
            reset = error
        status, closed, seen = await answer(conn)
    expect(
        status == 413 and closed and reset is None,
        "after its last response the server closes in stages (RFC 9112 9.6): its side first, "
        "then it reads and drops what the client still sends, and closes the socket when the "
        "client closes too. A socket closed with bytes unread in it sends a reset instead, "
        "and the reset can destroy the response on its way",
        sent=head + b"... then 1 KiB of the body every 50 ms, and only then a read",
        expected="413, then the end of the connection, and no reset while the body went on",
        got=f"{seen}" + (f"; sending the body: {reset!r}" if reset else ""),
        look="sketch/protocol.py: HttpProtocol.answer_queue (after the last response: "
        "self.hang_up())",
    )


async def test_a_chunked_body_growing_over_client_max_size_gets_413(serve):
    server = limits_server(serve)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"100\r\n" + b"a" * 0x100 + b"\r\n"  # 256 bytes; five of them are over 1 KiB
    async with await Connection.open(server) as conn:
        await conn.send(head + chunk * 5)  # and no last chunk: the body never ends
        status, closed, seen = await answer(conn)
    expect(
        status == 413 and closed,
        f"a chunked body announces no size: it is refused once it grows over {SMALL} bytes, "
        "while it streams, not after the server has buffered all of it",
        sent=head + b"(five chunks of 256 bytes, no last chunk)",
        expected="413, then the connection closed",
        got=seen,
        look=f"sketch/parser.py: RequestParser.on_body (given), then {LOOK_REJECTED}",
    )


async def trickle(conn: Connection) -> None:
    """Send one byte every 50 ms, for ever (until cancelled, or the server closes)."""
    with contextlib.suppress(ConnectionError, OSError):
        while True:
            await asyncio.sleep(0.05)
            conn.writer.write(b" ")


async def test_a_body_sent_too_slowly_gets_408_after_the_body_timeout(serve):
    server = limits_server(serve)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    async with await Connection.open(server) as conn:
        await conn.send(head + b"{")
        started = time.monotonic()
        trickling = asyncio.create_task(trickle(conn))
        try:
            status, closed, seen = await answer(conn)
        finally:
            trickling.cancel()
        took = time.monotonic() - started
    expect(
        status == 408 and closed and took >= BODY_TIMEOUT * 0.8,
        f"the server runs with --body-timeout {BODY_TIMEOUT}: a body still incomplete that "
        "long after its head must get 408 Request Timeout and a close, however often a byte "
        "arrives (a client could hold the connection for ever, one byte at a time)",
        sent=head + b"{ ... then a space every 50 ms",
        expected=f"408 about {BODY_TIMEOUT} s after the head, then the connection closed",
        got=f"after {took:.2f} s: {seen}",
        look="sketch/protocol.py: HttpProtocol.on_timeout (its first lines, given), then "
        + LOOK_REJECTED,
    )


async def test_a_connection_beyond_max_connections_gets_503_until_one_closes(serve):
    server = serve("apps:small_app", "--max-connections", "2")
    async with await Connection.open(server) as first, await Connection.open(server) as second:
        for conn in (first, second):  # two connections, kept alive: the server's cap
            await conn.send(get("/hello"))
            reply = await conn.read_response()
            expect(
                reply.status == 200,
                "with --max-connections 2, two connections are served",
                sent=conn.sent,
                expected="200 OK",
                got=reply.summary(),
                look="sketch/protocol.py: HttpProtocol.on_request",
            )
        async with await Connection.open(server) as third:
            await third.send(get("/hello"))
            status, closed, seen = await answer(third)
        expect(
            status == 503 and closed,
            "a third connection, while two are open, gets 503 Service Unavailable for its "
            "request, then a close (as uvicorn's --limit-concurrency)",
            sent=get("/hello") + b" on a third connection",
            expected="503, then the connection closed",
            got=seen,
            look=f"sketch/protocol.py: HttpProtocol.refuse_busy (given), then {LOOK_REJECTED}",
        )
        await first.send(get("/hello", {"Connection": "close"}))
        await first.read_response()
        await first.is_closed(timeout=1.0)  # the server has let go of it
        async with await Connection.open(server) as fourth:
            await fourth.send(get("/hello"))
            reply = await fourth.read_response()
    expect(
        reply.status == 200,
        "once one of the two has closed, a new connection is served again",
        sent=get("/hello") + b" on a new connection, after the first closed",
        expected="200 OK",
        got=reply.summary(),
        look="sketch/protocol.py: HttpProtocol.connection_lost (given: it leaves the register)",
    )


# --- the rules of a head ---------------------------------------------------------------

LOOK = f"sketch/rules.py (given) refuses it, then {LOOK_REJECTED}"
H = b"Host: example.com\r\n"
POST_CHUNKED = b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: %s\r\n\r\nhello"

REFUSED = {
    "two-hosts": (
        b"GET /hello HTTP/1.1\r\n" + H + b"Host: evil.test\r\n\r\n",
        400,
        "two Host fields: which one is the request for? (RFC 9112 3.2: MUST 400)",
    ),
    "host-not-a-host": (
        b"GET /hello HTTP/1.1\r\nHost: user@example.com/path\r\n\r\n",
        400,
        "a Host that is no host name and port (RFC 9112 3.2: MUST 400)",
    ),
    "userinfo-in-target": (
        b"GET http://user:pass@example.com/hello HTTP/1.1\r\n" + H + b"\r\n",
        400,
        "a whole URL with user:password@, made to look like another host's (RFC 9110 4.2.4)",
    ),
    "asterisk-with-get": (
        b"GET * HTTP/1.1\r\n" + H + b"\r\n",
        400,
        "the target * asks about the whole server: only OPTIONS may (RFC 9112 3.2.4)",
    ),
    "fragment": (
        b"GET /hello#top HTTP/1.1\r\n" + H + b"\r\n",
        400,
        "a #fragment never leaves the client (RFC 9112 3.2)",
    ),
    "http-0.9": (
        b"GET /hello\r\n\r\n",
        400,
        "a request line with no HTTP version (HTTP/0.9, RFC 9112 3)",
    ),
    "http-2.0": (
        b"GET /hello HTTP/2.0\r\n" + H + b"\r\n",
        505,
        "a version this server does not speak (RFC 9110 15.6.6)",
    ),
    "connect": (
        b"CONNECT example.com:443 HTTP/1.1\r\n" + H + b"\r\n",
        501,
        "CONNECT asks for a tunnel, which this server does not open (RFC 9110 9.3.6)",
    ),
    "gzip-then-chunked": (
        POST_CHUNKED % b"gzip, chunked",
        501,
        "a transfer coding we cannot undo: the handler would get a body still gzipped "
        "(RFC 9112 6.1)",
    ),
    "http-1.0-chunked": (
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
        "HTTP/1.0 knows no chunks: what frames this body? (RFC 9112 6.1)",
    ),
    "two-content-types": (
        b"POST /echo HTTP/1.1\r\n" + H + b"Content-Type: text/plain\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        400,
        "two Content-Types: which one does the body have? (RFC 9110 8.3)",
    ),
    "long-chunk-extension": (
        b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        b"5;" + b"x" * 65536 + b"\r\nhello\r\n0\r\n\r\n",
        400,
        "64 KiB of chunk extension: bytes we would parse for nothing (RFC 9112 7.1.1)",
    ),
}


@pytest.mark.parametrize("data, status, why", REFUSED.values(), ids=REFUSED.keys())
async def test_a_head_that_breaks_a_rule_is_refused_and_the_connection_closed(
    serve, data, status, why
):
    async with await Connection.open(limits_server(serve)) as conn:
        await conn.send(data)
        got, closed, seen = await answer(conn)
    expect(
        got == status and closed,
        f"{why}: {status}, then close",
        sent=data if len(data) < 300 else data[:150] + b"..." + data[-40:],
        expected=f"{status}, then the connection closed",
        got=seen,
        look=LOOK,
    )

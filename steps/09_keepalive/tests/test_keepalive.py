"""Stage 09 over TCP: one connection, many requests, answered in order, closed when idle.

The server runs `apps:keepalive_app` with short timers (0.3 s idle, 0.3 s for a head), so
the tests about timeouts take a fraction of a second.
"""

import asyncio
import hashlib
import time

import pytest

from workshop.testing import Connection, Reply, expect, get

KEEPALIVE = 0.3  # seconds, the --keepalive-timeout the server runs with
HEADER = 0.3  # seconds, its --header-timeout
ARGS = ("--keepalive-timeout", str(KEEPALIVE), "--header-timeout", str(HEADER))
LOOK_QUEUE = "sketch/protocol.py: HttpProtocol.on_request and HttpProtocol.answer_queue"
LOOK_TIMER = "sketch/protocol.py: HttpProtocol.on_timeout (answer_queue ends in all_answered)"


# Each test opens connections of its own to one shared server and mostly waits (for timers,
# slow handlers, closes), so they all run side by side: see workshop/sidebyside.py.
pytestmark = pytest.mark.side_by_side


def keepalive_server(serve):
    return serve("apps:keepalive_app", *ARGS)


async def still_open(conn: Connection) -> bool:
    return not await conn.is_closed(timeout=0.05)


def expect_ok(reply: Reply, body: str, what: str, look: str = LOOK_QUEUE) -> None:
    expect(
        reply.status == 200 and reply.text == body,
        what,
        sent=reply.sent,
        expected=f"200 OK, body {body!r}",
        got=reply.summary(),
        look=look,
    )


async def test_two_requests_on_one_connection_are_both_answered(serve):
    server = keepalive_server(serve)
    async with await Connection.open(server) as conn:
        for i in (1, 2):
            await conn.send(get("/hello"))
            reply = await conn.read_response()
            expect_ok(reply, "hello\n", f"request {i} of 2 on one HTTP/1.1 connection")
            expect(
                "close" not in reply.headers.get("Connection", "").lower(),
                "an HTTP/1.1 request that does not ask to close keeps the connection open: "
                "the response must not say `Connection: close`",
                sent=conn.sent,
                expected="no `Connection: close` header",
                got=reply.raw,
                look="sketch/protocol.py: HttpProtocol.answer_queue (close after the last)",
            )
            expect(
                await still_open(conn),
                f"after response {i} the connection must stay open for the next request",
                sent=conn.sent,
                expected="the connection still open",
                got="the server closed it",
                look="sketch/protocol.py: HttpProtocol.answer_queue",
            )


async def test_pipelined_requests_are_answered_in_the_order_they_were_sent(serve):
    server = keepalive_server(serve)
    # The first handler is the slowest: answering in order means waiting for it.
    data = b"".join(
        get(f"/sleep?ms={ms}&n={n}&c=pipelined") for n, ms in ((1, 120), (2, 60), (3, 0))
    )
    async with await Connection.open(server) as conn:
        await conn.send(data)  # three requests in one write
        for n in (1, 2, 3):
            reply = await conn.read_response()
            expect_ok(
                reply,
                f"request {n}; handlers running when it started: 1\n",
                f"response {n} of 3 pipelined requests: responses come in the order of the "
                "requests, and each handler runs only after the response before it was "
                "written (one worker per connection, taking requests from a queue)",
            )


async def test_a_request_split_across_writes_behind_a_pipelined_one_is_still_parsed(serve):
    server = keepalive_server(serve)
    first, second = get("/sleep?ms=80&n=1&c=split"), get("/sleep?ms=0&n=2&c=split")
    pieces = [first + second[:9], second[9:25], second[25:]]
    async with await Connection.open(server) as conn:
        # The rest of the second request arrives while the first handler runs.
        await conn.send(pieces, pause=0.03)
        for n in (1, 2):
            reply = await conn.read_response()
            expect_ok(
                reply,
                f"request {n}; handlers running when it started: 1\n",
                f"response {n} of 2: bytes that arrive while a handler runs must still be "
                "fed to the parser, and the request they complete queued, not dropped",
            )


async def test_connection_close_in_the_request_is_said_back_and_honoured(serve):
    server = keepalive_server(serve)
    async with await Connection.open(server) as conn:
        await conn.send(get("/hello", {"Connection": "close"}))
        reply = await conn.read_response()
        expect_ok(reply, "hello\n", "GET /hello with Connection: close")
        expect(
            reply.headers.get("Connection", "").lower() == "close",
            "the client asked to close: the response says `Connection: close` too",
            sent=conn.sent,
            expected="a `Connection: close` header",
            got=reply.raw,
            look="sketch/protocol.py: HttpProtocol.answer_queue (close after the last)",
        )
        expect(
            await conn.is_closed(timeout=1.0),
            "after a response that says `Connection: close`, the server closes the connection",
            sent=conn.sent,
            expected="the connection closed right after the response",
            got="still open after 1 s",
            look="sketch/protocol.py: HttpProtocol.answer_queue",
        )


async def test_http_1_0_closes_after_the_response_unless_it_asked_for_keep_alive(serve):
    server = keepalive_server(serve)
    request_10 = b"GET /hello HTTP/1.0\r\n\r\n"
    async with await Connection.open(server) as conn:
        await conn.send(request_10)
        reply = await conn.read_response()
        expect_ok(reply, "hello\n", "GET /hello HTTP/1.0")
        expect(
            await conn.is_closed(timeout=1.0),
            "HTTP/1.0 closes after each response unless the client sends "
            "`Connection: keep-alive` (httptools' should_keep_alive() knows the rules)",
            sent=conn.sent,
            expected="the connection closed after the response",
            got="still open after 1 s",
            look="sketch/protocol.py: HttpProtocol.answer_queue (close after the last)",
        )
    keep_alive_10 = b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    async with await Connection.open(server) as conn:
        await conn.send(keep_alive_10)
        reply = await conn.read_response()
        expect_ok(reply, "hello\n", "GET /hello HTTP/1.0 with Connection: keep-alive")
        expect(
            reply.headers.get("Connection", "").lower() == "keep-alive" and await still_open(conn),
            "an HTTP/1.0 client that asks for keep-alive gets it, and the response says "
            "`Connection: keep-alive` (1.0 would close otherwise)",
            sent=conn.sent,
            expected="`Connection: keep-alive`, and the connection still open",
            got=reply.raw if await still_open(conn) else "the server closed the connection",
            look="sketch/protocol.py: HttpProtocol.answer_queue",
        )


async def test_an_idle_connection_is_closed_after_the_keepalive_timeout(serve):
    server = keepalive_server(serve)
    async with await Connection.open(server) as conn:
        await conn.send(get("/hello"))
        expect_ok(await conn.read_response(), "hello\n", "GET /hello")
        answered = time.monotonic()
        expect(
            await still_open(conn),
            "right after a response the connection stays open, waiting for the next request",
            sent=conn.sent,
            expected="still open",
            got="closed at once",
            look=LOOK_TIMER,
        )
        closed = await conn.is_closed(timeout=KEEPALIVE + 1.5)
        idle = time.monotonic() - answered
        expect(
            closed and idle >= KEEPALIVE * 0.8,
            f"the server runs with --keepalive-timeout {KEEPALIVE}: a connection idle that "
            "long must be closed (a client that never comes back must not keep it forever)",
            sent=conn.sent,
            expected=f"closed about {KEEPALIVE} s after the response",
            got=f"closed after {idle:.2f} s" if closed else f"still open after {idle:.2f} s",
            look=LOOK_TIMER,
        )


async def test_a_slow_handler_is_not_an_idle_connection(serve):
    # A server of its own with a shorter header timeout, so that the waits below are short.
    header = 0.1
    server = serve("apps:keepalive_app", "--header-timeout", str(header))
    first, second = get("/sleep?ms=300&n=1&c=busy"), get("/sleep?ms=0&n=2&c=busy")
    look = "sketch/protocol.py: HttpProtocol.on_timeout (never close while a worker is busy)"
    async with await Connection.open(server, look=look) as conn:
        # The next request's head begins, in a read of its own, while the first handler runs,
        # and ends only after the header timeout: that timer fires (at about 0.12 s) while the
        # worker is busy (until 0.3 s), and the head ends (at 0.22 s) before the handler does.
        await conn.send(first)
        await asyncio.sleep(0.02)
        await conn.send([second[:5], second[5:]], pause=header + 0.1)
        for n in (1, 2):
            reply = await conn.read_response()
            expect_ok(
                reply,
                f"request {n}; handlers running when it started: 1\n",
                f"response {n} of 2: a timer that fires while a handler runs must not close "
                "the connection (a slow handler is not an idle client)",
                look,
            )


async def test_a_connection_that_never_sends_anything_is_closed_after_the_timeout(serve):
    server = keepalive_server(serve)
    async with await Connection.open(server) as conn:
        expect(
            await conn.is_closed(timeout=KEEPALIVE + 1.5),
            "a client that connects and sends nothing is idle from the start: close it after "
            "the keep-alive timeout",
            sent="nothing",
            expected=f"the connection closed after about {KEEPALIVE} s",
            got="still open",
            look=LOOK_TIMER,
        )


async def test_a_head_sent_one_byte_at_a_time_is_closed_after_the_header_timeout(serve):
    server = keepalive_server(serve)
    data = get("/hello")
    async with await Connection.open(server) as conn:
        started = time.monotonic()
        closed = False
        for i in range(len(data) - 1):  # never the last byte: the head is never complete
            try:
                conn.writer.write(data[i : i + 1])
                await conn.writer.drain()
            except (ConnectionError, OSError):
                closed = True
                break
            if await conn.is_closed(timeout=0.05):  # a byte every 50 ms, faster than the timer
                closed = True
                break
            if time.monotonic() - started > HEADER + 1.5:
                break
        took = time.monotonic() - started
        expect(
            closed and conn.received == b"",
            f"the server runs with --header-timeout {HEADER}: a head still incomplete that "
            "long after its first byte must be closed, without an answer, however often "
            "a byte arrives (a 'slowloris' client holds connections open this way)",
            sent=data[: len(data) - 1] + b" ... one byte every 50 ms",
            expected=f"the connection closed about {HEADER} s after the first byte",
            got=f"closed after {took:.2f} s, having received {conn.received!r}"
            if closed
            else f"still open after {took:.2f} s",
            look=LOOK_TIMER,
        )


async def test_requests_after_a_malformed_one_are_not_answered_but_those_before_are(serve):
    server = keepalive_server(serve)
    data = get("/sleep?ms=50&n=1&c=malformed") + b"NOT HTTP AT ALL\r\n\r\n" + get("/hello")
    async with await Connection.open(server) as conn:
        await conn.send(data)
        first = await conn.read_response()
        expect_ok(
            first,
            "request 1; handlers running when it started: 1\n",
            "a good request before a malformed one is answered first, in order",
        )
        second = await conn.read_response()
        expect(
            second.status == 400,
            "then the malformed request gets 400 Bad Request",
            sent=conn.sent,
            expected="400 Bad Request",
            got=second.summary(),
            look="sketch/protocol.py: HttpProtocol.reject and answer_queue",
        )
        rest = await conn.read_until_close(timeout=1.0)
        expect(
            rest == b"",
            "after a 400 the byte stream cannot be trusted: close, and answer nothing that "
            "follows the bad request",
            sent=conn.sent,
            expected="the connection closed, nothing more",
            got=rest,
            look="sketch/protocol.py: HttpProtocol.answer_queue (a RequestRejected in the queue)",
        )


async def test_many_connections_are_served_at_once(serve):
    server = keepalive_server(serve)

    # Keep-alive must not turn into "one client at a time": each connection has its own worker.
    async def one(n: int) -> Reply:
        async with await Connection.open(server) as conn:
            await conn.send(get(f"/sleep?ms=150&n={n}&c=many"))
            return await conn.read_response()

    started = time.monotonic()
    replies = await asyncio.gather(*(one(n) for n in range(5)))
    took = time.monotonic() - started
    expect(
        all(r.status == 200 for r in replies) and took < 0.6,
        "five clients each asking for a 150 ms request are served side by side",
        sent="GET /sleep?ms=150 on five connections at once",
        expected="five 200s in about 0.15 s",
        got=f"{[r.status for r in replies]} in {took:.2f} s",
        look="sketch/protocol.py: HttpProtocol.on_request (a worker task per connection)",
    )


async def test_a_body_of_exactly_client_max_size_sent_with_its_head_is_accepted(serve, drivers):
    server = keepalive_server(serve)
    # The head limit (64 KiB) bounds the head alone: body bytes that arrive in the same read
    # as the head are not head bytes. TCP decides how the bytes are split into reads, so the
    # parser is first fed the whole request at once, the worst case, then the server is asked.
    body = b"a" * 1024**2  # client_max_size, exactly
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    sent = head + b"<1 MiB of 'a', in the same write>"
    parsed = drivers.parse_at_once(head + body)  # in the process that imports your code
    bodies = parsed["bodies"]
    got = f"rejected: {parsed['rejected']}" if parsed["rejected"] else f"{len(bodies)} parsed"
    want = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    expect(
        bodies == [want],
        "a head and its 1 MiB body fed in one piece make one request",
        sent=sent,
        expected="1 request parsed, its body 1 MiB",
        got=got,
        look="sketch/parser.py: RequestParser.feed (only head bytes count toward max_head_size)",
    )
    async with await Connection.open(server) as conn:
        await conn.send(head + body)
        reply = await conn.read_response()
    expect(
        reply.status == 200 and reply.body == body,
        "a 1 MiB body, the most client_max_size allows, is read and answered",
        sent=sent,
        expected="200 OK, the 1 MiB body echoed",
        got=reply.summary(),
        look="sketch/parser.py: RequestParser.feed",
    )


async def test_a_request_pipelined_behind_an_upgrade_we_do_not_speak_is_answered(serve):
    server = keepalive_server(serve)
    # curl --http2 on http:// asks `Upgrade: h2c`. We answer in HTTP/1.1, which declines the
    # upgrade (RFC 9110, 7.8): the connection goes on, and so must the requests behind it.
    upgrade = get("/hello", {"Connection": "Upgrade", "Upgrade": "h2c"})
    async with await Connection.open(server) as conn:
        await conn.send(upgrade + get("/sleep?n=2&c=upgrade"))
        first = await conn.read_response()
        second = await conn.read_response()
    expect_ok(first, "hello\n", "the request asking for an upgrade is answered in HTTP/1.1")
    expect_ok(
        second,
        "request 2; handlers running when it started: 1\n",
        "the request sent right behind it, in the same write, is answered too",
        look="sketch/protocol.py: HttpProtocol.data_received (httptools.HttpParserUpgrade)",
    )

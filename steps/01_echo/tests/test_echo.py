"""Stage 01 over real TCP: `python -m sketch --port 0` echoes whatever a client sends.

TCP is a stream of bytes, not of messages: what the client sent in one piece may arrive in
several, and the echo may come back in other pieces still. So these tests count bytes, never
"one read per write".
"""

import asyncio
import random
import socket
import struct

import pytest

from workshop.testing import READ_TIMEOUT, Connection, expect, fail

LOOK_PROTOCOL = "sketch/protocol.py: EchoProtocol.data_received"
# Where each connection's transport is kept, and where it is written to.
LOOK_TRANSPORT = "sketch/protocol.py: EchoProtocol.connection_made and data_received"
LOOK_SERVER = "sketch/server.py: start_server"


class Echo(bytes):
    """The bytes that came back; `closed` says whether the server closed the connection."""

    closed = False


async def read_echo(conn: Connection, size: int, timeout: float = READ_TIMEOUT) -> Echo:
    """Up to SIZE bytes: fewer only if the server closed the connection or went quiet."""
    got, closed = b"", False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < size:
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            piece = await asyncio.wait_for(conn.reader.read(size - len(got)), left)
        except asyncio.TimeoutError:
            break
        except (ConnectionError, OSError):
            piece = b""
        if not piece:
            closed = True
            break
        got += piece
    echo = Echo(got)
    echo.closed = closed
    return echo


def expect_echo(sent: bytes, got: Echo, what: str, look: str = LOOK_PROTOCOL) -> None:
    if got == sent:
        return
    if len(got) < len(sent) and got.closed:
        why = f"the server closed the connection after {len(got)} of {len(sent)} bytes"
    elif len(got) < len(sent):
        why = f"only {len(got)} of {len(sent)} bytes came back within {READ_TIMEOUT:g} s"
    else:
        same = next(
            (i for i, (a, b) in enumerate(zip(sent, got, strict=False)) if a != b), len(sent)
        )
        why = f"the bytes that came back differ from those sent, from byte {same} on"
    fail(f"{what}: {why}", sent=sent, expected=sent, got=got, look=look)


ECHOES = {
    "a line of text": b"hello, world\r\n",
    "empty lines": b"\r\n\r\n\n\n",
    "all 256 byte values": bytes(range(256)),
    "bytes that are not UTF-8": b"\xff\xfe\x00\x80 caf\xe9",
}


@pytest.mark.parametrize("data", ECHOES.values(), ids=ECHOES.keys())
async def test_bytes_come_back_unchanged(server, data):
    async with await Connection.open(server, look=LOOK_PROTOCOL) as conn:
        await conn.send(data)
        got = await read_echo(conn, len(data))
    expect_echo(
        data, got, "the server must send back exactly the bytes it received, whatever they are"
    )


async def test_one_mebibyte_sent_in_pieces_comes_back_whole_and_in_order(server):
    data = random.Random(1).randbytes(1024 * 1024)
    pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    async with await Connection.open(server, look=LOOK_PROTOCOL) as conn:
        # Read while we write: the echo starts before the last piece is sent.
        _, got = await asyncio.gather(conn.send(pieces), read_echo(conn, len(data)))
    expect_echo(
        data,
        got,
        "1 MiB sent in 16 pieces of 64 KiB must come back whole, in order "
        "(data_received is called once per chunk that arrives, chunks of any size)",
    )


async def test_ten_clients_are_served_at_the_same_time(server):
    conns = [await Connection.open(server, look=LOOK_TRANSPORT) for _ in range(10)]
    try:
        for turn in range(3):
            # Everyone speaks before anyone listens, the last to connect first: a server
            # that serves one client at a time, or mixes clients up, cannot pass this.
            messages = [f"client {i}, message {turn}\n".encode() for i in range(10)]
            for i in reversed(range(10)):
                await conns[i].send(messages[i])
            for i, conn in enumerate(conns):
                got = await read_echo(conn, len(messages[i]))
                expect_echo(
                    messages[i],
                    got,
                    f"with 10 connections open, client {i} must get back its own bytes "
                    "(each connection has its own protocol object and transport; "
                    "nothing may wait for another client to leave)",
                    look=LOOK_TRANSPORT,
                )
    finally:
        for conn in conns:
            await conn.close()


def hang_up_abruptly(conn: Connection) -> None:
    """Close with a TCP reset, as a crashed client would: the server's writes then fail."""
    sock = conn.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.writer.transport.abort()


async def test_a_client_that_leaves_early_does_not_stop_the_server(server):
    leaver = await Connection.open(server)
    await leaver.send(b"x" * 65536)
    await read_echo(leaver, 1)  # the echo has begun: the server is mid-write
    hang_up_abruptly(leaver)

    async with await Connection.open(server) as conn:
        await conn.send(b"still there?\n")
        got = await read_echo(conn, 13)
    expect(
        server.alive(),
        "the server process died after a client hung up in the middle of an echo",
        expected="the server keeps running; one connection's end is not the server's end",
        look=LOOK_SERVER,
    )
    expect_echo(
        b"still there?\n",
        got,
        "after a client hung up in the middle of an echo, the next client must be served",
    )

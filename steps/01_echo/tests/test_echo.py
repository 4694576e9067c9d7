"""Stage 01: the server sends back every byte it receives."""

from workshop.testing import Connection, expect


async def test_bytes_come_back_unchanged(server):
    async with await Connection.open(server) as conn:
        await conn.send(b"hello\r\n")
        got = await conn.read_exactly(7)
        expect(
            got == b"hello\r\n",
            "the echo server must send back exactly what it received",
            sent=b"hello\r\n",
            expected=b"hello\r\n",
            got=got,
            look="sketch/protocol.py: EchoProtocol.data_received",
        )

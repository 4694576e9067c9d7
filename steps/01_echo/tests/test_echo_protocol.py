"""Stage 01, without a network: EchoProtocol on its own, driven the way asyncio drives it.

asyncio calls `connection_made(transport)` once, then `data_received(data)` for each chunk.
Here a stand-in transport records what the protocol writes, so a mistake shows up at once,
before any socket is involved.
"""

import asyncio

from workshop.testing import expect, fail

LOOK = "sketch/protocol.py: EchoProtocol.connection_made and data_received"


def echo_protocol() -> asyncio.Protocol:
    """A new EchoProtocol from the sketch under test (imported here, so a broken
    sketch/protocol.py fails these tests with its error rather than stopping them all)."""
    try:
        from sketch.protocol import EchoProtocol
    except ImportError as error:
        fail(
            f"could not import EchoProtocol from sketch/protocol.py: {error}",
            expected="a class EchoProtocol(asyncio.Protocol) in sketch/protocol.py",
            look="sketch/protocol.py",
        )
    return EchoProtocol()


class RecordingTransport(asyncio.Transport):
    """A transport that keeps what is written to it instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_received_bytes_are_written_back_to_the_transport():
    protocol, transport = echo_protocol(), RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(b"ping\r\n")
    expect(
        transport.written == b"ping\r\n",
        "data_received must write the bytes it got back to the transport, unchanged",
        sent=b"ping\r\n",
        expected=b"ping\r\n",
        got=transport.written,
        look=LOOK,
    )


def test_every_chunk_is_echoed_in_order():
    protocol, transport = echo_protocol(), RecordingTransport()
    protocol.connection_made(transport)
    chunks = [b"first ", b"", b"second\n", bytes([0, 255])]
    for chunk in chunks:
        protocol.data_received(chunk)
    expect(
        transport.written == b"".join(chunks),
        "each call of data_received must echo its chunk, in the order the chunks came",
        sent=repr(chunks),
        expected=b"".join(chunks),
        got=transport.written,
        look=LOOK,
    )


def test_each_connection_echoes_to_its_own_transport():
    alice, bob = echo_protocol(), echo_protocol()
    to_alice, to_bob = RecordingTransport(), RecordingTransport()
    alice.connection_made(to_alice)
    bob.connection_made(to_bob)
    alice.data_received(b"from alice")
    bob.data_received(b"from bob")
    expect(
        (to_alice.written, to_bob.written) == (b"from alice", b"from bob"),
        "two connections, two protocol objects: each must write to its own transport. "
        "Keep the transport on self (an attribute of the instance), not on the class "
        "or in a global",
        sent="b'from alice' to the first protocol, b'from bob' to the second",
        expected="(b'from alice', b'from bob')",
        got=repr((to_alice.written, to_bob.written)),
        look=LOOK,
    )

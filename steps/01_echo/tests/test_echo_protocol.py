"""Stage 01, without a network: EchoProtocol on its own, driven the way asyncio drives it.

asyncio calls `connection_made(transport)` once, then `data_received(data)` for each chunk.
Here a stand-in transport (drivers.RecordingTransport) records what the protocol writes, so a
mistake shows up at once, before any socket is involved. Both objects live in the process
that imports your code; `sketch` and `drivers` are handles to it (workshop/remote.py).
"""

import pytest

from workshop.testing import expect, fail

LOOK = "sketch/protocol.py: EchoProtocol.connection_made and data_received"


@pytest.fixture
def echo_protocol(sketch):
    """Makes a new EchoProtocol from the sketch under test (imported on first use, so a
    broken sketch/protocol.py fails these tests with its error rather than stopping them)."""

    def make():
        try:
            return sketch.protocol.EchoProtocol()
        except (ImportError, AttributeError) as error:
            fail(
                f"could not import EchoProtocol from sketch/protocol.py: {error}",
                expected="a class EchoProtocol(asyncio.Protocol) in sketch/protocol.py",
                look="sketch/protocol.py",
            )

    return make


def expect_written(transport, want: bytes, what: str, **details) -> None:
    """Compare what the transport recorded with WANT."""
    written = transport.written
    if written != want:
        fail(what, expected=want, got=written, look=LOOK, **details)


def test_received_bytes_are_written_back_to_the_transport(echo_protocol, drivers):
    protocol, transport = echo_protocol(), drivers.RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(b"ping\r\n")
    expect_written(
        transport,
        b"ping\r\n",
        "data_received must write the bytes it got back to the transport, unchanged",
        sent=b"ping\r\n",
    )


def test_every_chunk_is_echoed_in_order(echo_protocol, drivers):
    protocol, transport = echo_protocol(), drivers.RecordingTransport()
    protocol.connection_made(transport)
    chunks = [b"first ", b"", b"second\n", bytes([0, 255])]
    for chunk in chunks:
        protocol.data_received(chunk)
    expect_written(
        transport,
        b"".join(chunks),
        "each call of data_received must echo its chunk, in the order the chunks came",
        sent=repr(chunks),
    )


def test_each_connection_echoes_to_its_own_transport(echo_protocol, drivers):
    alice, bob = echo_protocol(), echo_protocol()
    to_alice, to_bob = drivers.RecordingTransport(), drivers.RecordingTransport()
    alice.connection_made(to_alice)
    bob.connection_made(to_bob)
    alice.data_received(b"from alice")
    bob.data_received(b"from bob")
    written = (to_alice.written, to_bob.written)
    expect(
        written == (b"from alice", b"from bob"),
        "two connections, two protocol objects: each must write to its own transport. "
        "Keep the transport on self (an attribute of the instance), not on the class "
        "or in a global",
        sent="b'from alice' to the first protocol, b'from bob' to the second",
        expected="(b'from alice', b'from bob')",
        got=repr(written),
        look=LOOK,
    )

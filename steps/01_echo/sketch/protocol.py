"""One connection: bytes in, bytes out.

asyncio creates one protocol object per connection and calls its methods as things happen:
`connection_made` once, `data_received` for every chunk that arrives, `connection_lost` at
the end. The methods must return quickly: they run on the event loop, between everyone
else's work.
"""

import asyncio


class EchoProtocol(asyncio.Protocol):
    """Sends every byte it receives straight back."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # TODO(01_echo): Keep the transport on self so data_received can write to it.
        raise NotImplementedError(
            "01_echo: sketch/protocol.py: EchoProtocol.connection_made: Keep the transport on self so data_received can write to it."
        )

    def data_received(self, data: bytes) -> None:
        # TODO(01_echo): Write the bytes back, unchanged.
        raise NotImplementedError(
            "01_echo: sketch/protocol.py: EchoProtocol.data_received: Write the bytes back, unchanged."
        )

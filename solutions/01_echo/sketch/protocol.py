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
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

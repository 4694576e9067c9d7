"""Serving the board: the framework's `run_app`, and two things it does not offer yet.

The board must know each client's address (its limits are per client), and must print its
banner, which holds the port, only once the port is really bound: a board that cannot bind
must not print the join code and the instructor token. aiohttp offers both, as
`request.remote` and `run_app(print=...)`; the workshop's framework offers neither yet. So:

- `remote(request)` is the client's address: `request.remote` once the framework's Request
  has it; until then, a subclass of the framework's connection protocol, used in its place
  in this process only, puts it in a context variable of the task that answers the request.
- The banner is written just before the framework's own `Serving on http://HOST:PORT` line,
  which its contract prints once the server accepts connections: stdout is wrapped to watch
  for that one line, and the port is read from it (the real one, even for --port 0).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import re
import sys
from collections.abc import Callable
from typing import Any, TextIO

SERVING = re.compile(r"Serving on http://\S*:(?P<port>\d+)")


def run(app: Any, *, host: str, port: int, banner: Callable[[int], str], **options: Any) -> None:
    """`run_app(app, ...)`, with `request.remote` set and BANNER(port) printed once bound."""
    from sketch import run_app

    with_remote_address()
    stdout = sys.stdout
    sys.stdout = BannerFirst(stdout, banner)
    try:
        run_app(app, host=host, port=port, **options)
    finally:
        sys.stdout = stdout


# The client's address of the connection whose request is being answered: set by the
# connection's protocol in the task that answers it, read by remote() in the handler.
CLIENT_ADDRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_address", default=None
)


def remote(request: Any) -> str | None:
    """The client's IP address: the framework's `request.remote`, or this stopgap's."""
    return getattr(request, "remote", None) or CLIENT_ADDRESS.get()


def with_remote_address() -> None:
    """Make the client's address of every request known to remote() (None if unknown)."""
    from sketch import Request, runner

    if hasattr(Request, "remote") or getattr(runner.HttpProtocol, "sets_remote", False):
        return
    framework_protocol = runner.HttpProtocol

    class RemoteAddressProtocol(framework_protocol):  # type: ignore[misc, valid-type]
        sets_remote = True

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            peer = transport.get_extra_info("peername")
            self.client_address = peer[0] if isinstance(peer, tuple) else None
            super().connection_made(transport)

        async def answer(self, *args: Any) -> Any:
            CLIENT_ADDRESS.set(self.client_address)  # this task answers this connection only
            return await super().answer(*args)

    runner.HttpProtocol = RemoteAddressProtocol


class BannerFirst(io.TextIOBase):
    """Stands for stdout: writes BANNER(port) before the framework's `Serving on` line."""

    def __init__(self, out: TextIO, banner: Callable[[int], str]) -> None:
        self.out = out
        self.banner: Callable[[int], str] | None = banner

    def write(self, text: str) -> int:
        found = SERVING.search(text) if self.banner else None
        if found and self.banner:
            self.out.write(self.banner(int(found["port"])) + "\n")
            self.banner = None  # once
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

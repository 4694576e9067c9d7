"""What stage tests use to talk to a learner's server and to fail in a way that teaches.

    reply = await request(server, b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    expect(reply.status == 200, "GET / must answer 200",
           sent=reply.sent, expected="status 200", got=reply.summary(),
           look="sketch/router.py: UrlDispatcher.resolve")

Every read is bounded: a server that never answers fails the test after `timeout` seconds
with what it had sent so far, never a hung terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

from multidict import CIMultiDict

READ_TIMEOUT = 2.0  # seconds any single wait for the server may take
SHOW = 300  # characters of bytes shown in a message


class TeachingFailure(AssertionError):
    """A test failure whose message is the lesson: sent, expected, got, where to look."""


def show(data: bytes | str | None, limit: int = SHOW) -> str:
    """Bytes as a short, readable literal for messages."""
    if data is None:
        return "(nothing)"
    text = repr(data)
    if len(text) > limit:
        size = f"{len(data)} bytes" if isinstance(data, bytes) else f"{len(data)} characters"
        text = f"{text[: limit - 20]}...' ({size} in all)"
    return text


def fail(
    what: str,
    *,
    sent: object = None,
    expected: object = None,
    got: object = None,
    look: str | None = None,
) -> NoReturn:
    """Fail the test with a message a learner can act on."""
    lines = [what]
    for label, value in (("sent", sent), ("expected", expected), ("got", got)):
        if value is not None:
            text = show(value) if isinstance(value, bytes) else str(value)
            lines.append(f"  {label + ':':<10}{text}")
    if look:
        lines.append(f"  {'look at:':<10}{look}")
    raise TeachingFailure("\n".join(lines))


def expect(condition: object, what: str, **details: object) -> None:
    """`fail(what, **details)` unless `condition` holds."""
    if not condition:
        fail(what, **details)  # type: ignore[arg-type]


# --- a raw HTTP/1.1 client over a real socket ------------------------------------------


@dataclass
class Reply:
    """One HTTP response as it came off the wire."""

    status: int
    reason: str
    version: str
    headers: CIMultiDict[str]
    body: bytes
    raw: bytes
    sent: bytes = b""
    closed: bool = False  # the server closed the connection after this response
    lines: list[bytes] = field(default_factory=list)  # the raw header lines

    def summary(self) -> str:
        head = f"{self.version} {self.status} {self.reason}"
        return f"{head}, body {show(self.body, 120)}"

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class ConnectionClosed(Exception):
    pass


class Connection:
    """A raw TCP connection to the server, with bounded reads.

    LOOK is where a learner should look when the server closes, or goes quiet, before
    answering: the test's own `look at:` line, since only the test knows what it was testing.
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, look: str | None = None
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.look = look
        self.sent = b""
        self.received = b""

    @classmethod
    async def open(
        cls, server: object, timeout: float = READ_TIMEOUT, *, look: str | None = None
    ) -> Connection:
        host, port = server.host, server.port  # type: ignore[attr-defined]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=2**24), timeout
            )
        except (OSError, asyncio.TimeoutError) as error:
            fail(
                f"could not connect to the server at {host}:{port}: {error!r}",
                look="sketch/server.py: serve",
            )
        return cls(reader, writer, look)

    async def send(self, data: bytes | Iterable[bytes], pause: float = 0.0) -> None:
        """Send bytes; a list is sent piece by piece, with `pause` seconds between pieces."""
        pieces = [data] if isinstance(data, bytes) else list(data)
        for i, piece in enumerate(pieces):
            self.sent += piece
            try:
                self.writer.write(piece)
                await self.writer.drain()
            except (ConnectionError, OSError) as error:
                fail(
                    f"the server closed the connection while we were sending: {error!r}",
                    sent=self.sent,
                    got=self.received or None,
                    look=self.look,
                )
            if pause and i < len(pieces) - 1:
                await asyncio.sleep(pause)

    async def _read(self, coro: object, timeout: float, what: str) -> bytes:
        try:
            data = await asyncio.wait_for(coro, timeout)  # type: ignore[arg-type]
        except asyncio.TimeoutError:
            fail(
                f"no {what} from the server within {timeout:g} s",
                sent=self.sent,
                got=f"{show(self.received)} so far" if self.received else "nothing at all",
                look=self.look,
            )
        except asyncio.IncompleteReadError as error:
            self.received += error.partial
            raise ConnectionClosed() from None
        except (ConnectionError, OSError):
            raise ConnectionClosed() from None
        self.received += data
        return data

    async def read_exactly(self, size: int, timeout: float = READ_TIMEOUT) -> bytes:
        try:
            return await self._read(self.reader.readexactly(size), timeout, f"{size} bytes")
        except ConnectionClosed:
            fail(
                f"the connection closed before {size} bytes came back",
                sent=self.sent,
                got=self.received or b"",
                look=self.look,
            )

    async def read_some(self, timeout: float = READ_TIMEOUT) -> bytes:
        """Whatever arrives next (b"" when the server closed the connection)."""
        try:
            return await self._read(self.reader.read(65536), timeout, "data")
        except ConnectionClosed:
            return b""

    async def read_until_close(self, timeout: float = READ_TIMEOUT) -> bytes:
        try:
            return await self._read(self.reader.read(), timeout, "end of the connection")
        except ConnectionClosed:
            return b""

    async def is_closed(self, timeout: float = READ_TIMEOUT) -> bool:
        """True if the server closes the connection within `timeout` s (no data expected)."""
        try:
            data = await asyncio.wait_for(self.reader.read(1), timeout)
        except asyncio.TimeoutError:
            return False
        except (ConnectionError, OSError):
            return True
        self.received += data
        return data == b""

    async def read_response(self, *, head: bool = False, timeout: float = READ_TIMEOUT) -> Reply:
        """Read one whole response: status line, headers, and a body framed as HTTP says."""
        start = len(self.received)
        try:
            head_bytes = await self._read(
                self.reader.readuntil(b"\r\n\r\n"), timeout, "complete response head"
            )
        except ConnectionClosed:
            got = self.received[start:]
            fail(
                "the server closed the connection "
                + ("without answering" if not got else "before the response head ended"),
                sent=self.sent,
                expected="a response: status line, headers, an empty line (all ending in CRLF)",
                got=got or "the connection closed with no bytes",
                look=self.look,
            )
        except asyncio.LimitOverrunError:
            fail("the response head is larger than 16 MiB", sent=self.sent, look=self.look)
        status_line, *header_lines = head_bytes[:-4].split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            fail(
                "the response does not start with a status line like `HTTP/1.1 200 OK`",
                sent=self.sent,
                got=head_bytes,
                look=self.look,
            )
        version, status = parts[0].decode(), int(parts[1])
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers: CIMultiDict[str] = CIMultiDict()
        for line in header_lines:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                fail(
                    f"the header line {show(line)} is not `Name: value`",
                    sent=self.sent,
                    got=head_bytes,
                    look=self.look,
                )
            headers.add(name.decode("latin-1"), value.strip().decode("latin-1"))
        body = await self._read_body(headers, status, head, timeout)
        raw = self.received[start:]
        return Reply(status, reason, version, headers, body, raw, self.sent, lines=header_lines)

    async def _read_body(
        self, headers: CIMultiDict[str], status: int, head: bool, timeout: float
    ) -> bytes:
        if head or status < 200 or status in (204, 304):
            return b""
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size_line = await self._read(self.reader.readuntil(b"\r\n"), timeout, "chunk")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await self._read(self.reader.readuntil(b"\r\n"), timeout, "last chunk")
                    return body
                body += await self.read_exactly(size + 2, timeout)
                body = body[:-2]
        if "Content-Length" in headers:
            length = headers["Content-Length"]
            if not length.isdigit():
                fail(
                    f"Content-Length must be a number of bytes, got {length!r}",
                    sent=self.sent,
                    look=self.look,
                )
            return await self.read_exactly(int(length), timeout) if int(length) else b""
        return await self.read_until_close(timeout)

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def request(
    server: object,
    data: bytes | Iterable[bytes],
    *,
    pause: float = 0.0,
    head: bool | None = None,
    timeout: float = READ_TIMEOUT,
    look: str | None = None,
) -> Reply:
    """Open a connection, send `data`, read one response, and note whether it then closed.

    LOOK is the `look at:` line of a failure to get a response at all (see Connection).
    """
    async with await Connection.open(server, look=look) as conn:
        await conn.send(data, pause)
        if head is None:
            head = conn.sent.startswith(b"HEAD ")
        reply = await conn.read_response(head=head, timeout=timeout)
        reply.closed = await conn.is_closed(timeout=0.05)
        return reply


def get(path: str = "/", headers: dict[str, str] | None = None, method: str = "GET") -> bytes:
    """The bytes of a simple request: `get("/users/bob")`."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


# --- what the server printed ------------------------------------------------------------


async def server_output(
    server: object, mark: int, *wanted: str, timeout: float = READ_TIMEOUT
) -> str:
    """What the server printed since MARK (a value of `server.output.total`), once it holds
    one of the WANTED strings, or whatever it holds after TIMEOUT seconds.

    The server's output is read by a thread, so a line logged just before a response may
    reach us a moment after the response does: this waits for it, bounded.

        mark = server.output.total
        reply = await request(server, get("/broken"))
        log = await server_output(server, mark, "Traceback")
    """
    import time

    output = server.output  # type: ignore[attr-defined]

    def wait() -> str:
        deadline = time.monotonic() + timeout
        while True:
            total = output.total
            text = output.since(mark)
            left = deadline - time.monotonic()
            if any(word in text for word in wanted) or left <= 0:
                return text
            with output.changed:  # woken by every chunk the reader thread feeds
                if output.total == total:  # nothing new arrived while we looked
                    output.changed.wait(left)

    return await asyncio.to_thread(wait)

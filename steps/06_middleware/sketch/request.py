"""The request a handler sees: a friendly view over the raw bytes that were parsed."""

import json
from asyncio import BaseTransport
from functools import cached_property
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

from sketch.parser import RawRequest
from sketch.target import Target, split_target

if TYPE_CHECKING:
    from sketch.app import Application


class Request:
    """One HTTP request. Headers are case-insensitive; the body is already read."""

    def __init__(
        self,
        raw: RawRequest,
        app: "Application | None" = None,
        transport: BaseTransport | None = None,
    ) -> None:
        self.raw = raw
        self.app = app  # the Application serving this request
        self.transport = transport  # the connection it came on
        self.match_info: dict[str, str] = {}  # filled by the router: {"name": "bob"}
        # The target in its parts, Target('', '', '/search?q=asyncio'). Split now: every
        # request is routed on its path. The rest (a URL, the headers) is built on first use.
        self.target: Target = split_target(raw.target.decode("latin-1"))

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def version(self) -> str:
        """The HTTP version, "1.1" or "1.0"."""
        return self.raw.version

    @cached_property
    def rel_url(self) -> URL:
        """The path and query as a yarl.URL, e.g. URL('/search?q=asyncio')."""
        # Built from its parts, not parsed: URL("//about") would read "about" as a host name.
        # encoded=True: the bytes are as they came off the wire, still percent-encoded.
        path, _, query = self.target.path_and_query.partition("?")
        return URL.build(path=path, query_string=query, encoded=True)

    @cached_property
    def host(self) -> str:
        """The host the client asked for, with its port if it gave one: 'example.com:8080'.

        A whole-URL target names it, and then wins over the Host header (RFC 9112, 3.2.2);
        without either (HTTP/1.0 may leave Host out, and it may be empty), our own address.
        """
        return self.target.authority or self.headers.get("Host") or self.server_address()

    @cached_property
    def url(self) -> URL:
        """The whole URL, as aiohttp gives it: URL('http://example.com:8080/search?q=asyncio').

        Made on first use only: the router needs just the path, and most handlers too.
        """
        return URL.build(
            scheme=self.target.scheme or "http",
            authority=self.host,
            path=self.rel_url.raw_path,
            query_string=self.rel_url.raw_query_string,
            encoded=True,
        )

    @property
    def path(self) -> str:
        """The percent-decoded path: '/users/Jürgen' for b'/users/J%C3%BCrgen'."""
        # The router asks every request for it, and most paths have no %-escape: such a path
        # is its own decoding, and needs no URL object.
        path = self.target.path_and_query.partition("?")[0]
        return self.rel_url.path if "%" in path else path

    @property
    def raw_path(self) -> str:
        """The path as sent, still percent-encoded."""
        return self.rel_url.raw_path

    @property
    def query(self) -> MultiDictProxy[str]:
        """The decoded query string; repeated keys kept: ?tag=a&tag=b."""
        return self.rel_url.query

    @property
    def remote(self) -> str | None:
        """The client's IP address, from the connection: '127.0.0.1' (None if unknown)."""
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return peer[0] if isinstance(peer, tuple) else None

    def server_address(self) -> str:
        """HOST:PORT of the socket the request came in on ('localhost' without a connection)."""
        sockname = self.transport.get_extra_info("sockname") if self.transport else None
        if not isinstance(sockname, tuple):
            return "localhost"
        host, port = sockname[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @cached_property
    def headers(self) -> CIMultiDictProxy[str]:
        """Headers by name, case-insensitive, repeats kept (headers.getall("Cookie"))."""
        headers = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw.headers
        )
        return CIMultiDictProxy(headers)

    @property
    def content_type(self) -> str:
        """The media type alone, without parameters: 'application/json'."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.headers.get("Content-Type", "").split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset":
                return value.strip('"') or None
        return None

    async def read(self) -> bytes:
        """The body as bytes. (The server read it whole before calling the handler.)"""
        return self.raw.body

    async def text(self) -> str:
        """The body decoded with the request's charset (UTF-8 when it names none)."""
        return (await self.read()).decode(self.charset or "utf-8")

    async def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return json.loads(await self.text())

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.raw.target.decode('latin-1')}>"

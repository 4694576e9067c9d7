"""The Application: routes, middlewares, hooks and shared state, in one object."""

import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any

from sketch.request import Request
from sketch.response import Response
from sketch.router import Handler, UrlDispatcher

log = logging.getLogger("sketch")


class Application(MutableMapping[str, Any]):
    """A web application. It is also a dict, for state shared by handlers: app["db"]."""

    def __init__(self, *, debug: bool = False, client_max_size: int = 1024**2) -> None:
        self.router = UrlDispatcher()
        self.debug = debug
        self.client_max_size = client_max_size  # bytes of request body, at most (aiohttp's)
        self._state: dict[str, Any] = {}

    async def handle(self, request: Request) -> Response:
        """Find the handler for this request and call it."""
        handler, request.match_info = self.router.resolve(request.method, request.path)
        response = await handler(request)
        if not isinstance(response, Response):
            raise TypeError(f"{handler.__qualname__} returned {response!r}, not a Response")
        return response

    # --- the mapping: app["key"] ------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def __repr__(self) -> str:
        return f"<Application with {len(self.router.resources)} paths>"

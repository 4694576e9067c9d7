"""The Application: routes, middlewares, hooks and shared state, in one object."""

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from functools import partial
from typing import Any

from sketch.error_pages import error_page
from sketch.exceptions import HTTPException
from sketch.request import Request
from sketch.response import Response
from sketch.router import Handler, UrlDispatcher

log = logging.getLogger("sketch")

Middleware = Callable[[Request, Handler], Awaitable[Response]]
Hook = Callable[["Application"], Awaitable[None]]


class Application(MutableMapping[str, Any]):
    """A web application. It is also a dict, for state shared by handlers: app["db"]."""

    def __init__(
        self,
        *,
        middlewares: Sequence[Middleware] = (),
        debug: bool = False,
        client_max_size: int = 1024**2,
    ) -> None:
        self.router = UrlDispatcher()
        self.debug = debug
        self.client_max_size = client_max_size  # bytes of request body, at most (aiohttp's)
        self._state: dict[str, Any] = {}
        self.middlewares = list(middlewares)  # the first is the outermost
        # dispatch wrapped in every middleware, and the list it was built from (middleware_chain)
        self.chain: Handler = self.dispatch
        self.chain_of: list[Middleware] | None = None
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []
        self.on_cleanup: list[Hook] = []

    async def handle(self, request: Request) -> Response:
        """Answer every request with a Response: an HTTP error is a response too."""
        try:
            return await self.middleware_chain(request)
        except HTTPException as error:
            if error.has_default_body:  # no text of its own: give it a page the client reads
                return error_page(request, error.status, headers=error.headers)
            return error
        except Exception:
            log.exception("Error handling %s %s", request.method, request.path)
            detail = traceback.format_exc() if self.debug else None
            return error_page(request, 500, detail=detail)

    async def middleware_chain(self, request: Request) -> Response:
        """Pass the request through the middlewares, outermost first, to the router.

        The chain is built at the first request, and again only if app.middlewares has
        changed since: not once per request. Nothing awaits between the check and the
        build, so no other request can see a chain half made.
        """
        if self.chain_of != self.middlewares:
            handler: Handler = self.dispatch
            for middleware in reversed(self.middlewares):
                handler = partial(middleware, handler=handler)
            self.chain, self.chain_of = handler, list(self.middlewares)
        return await self.chain(request)

    async def dispatch(self, request: Request) -> Response:
        """The innermost handler: route the request and call the route's handler."""
        handler, request.match_info = self.router.resolve(request.method, request.path)
        response = await handler(request)
        if not isinstance(response, Response):
            raise TypeError(f"{handler.__qualname__} returned {response!r}, not a Response")
        return response

    async def startup(self) -> None:
        """Run the on_startup hooks, in order, before the first connection is accepted."""
        for hook in self.on_startup:
            await hook(self)

    async def shutdown(self) -> None:
        """Run the on_shutdown hooks: the server has stopped accepting connections."""
        for hook in self.on_shutdown:
            await hook(self)

    async def cleanup(self) -> None:
        """Run the on_cleanup hooks, last: release what startup acquired."""
        for hook in self.on_cleanup:
            await hook(self)

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

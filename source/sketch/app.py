#: file from routing
"""The Application: routes, middlewares, hooks and shared state, in one object."""

import logging

#: from errors
import traceback

#: end errors
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence

#: from middleware
from functools import partial

#: end middleware
from typing import Any

#: from errors
from sketch.error_pages import error_page
from sketch.exceptions import HTTPException

#: end errors
from sketch.request import Request
from sketch.response import Response
from sketch.router import Handler, UrlDispatcher

log = logging.getLogger("sketch")
#: from middleware

Middleware = Callable[[Request, Handler], Awaitable[Response]]
#: end middleware
#: from lifecycle
Hook = Callable[["Application"], Awaitable[None]]
#: end lifecycle


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
        #: from middleware
        self.middlewares = list(middlewares)  # the first is the outermost
        #: end middleware
        #: from errors
        # dispatch wrapped in every middleware, and the list it was built from (middleware_chain)
        self.chain: Handler = self.dispatch
        self.chain_of: list[Middleware] | None = None
        #: end errors
        #: from lifecycle
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []
        self.on_cleanup: list[Hook] = []
        #: end lifecycle

    #: variant __init__ until middleware
    def init_without_middlewares(
        self, *, debug: bool = False, client_max_size: int = 1024**2
    ) -> None:
        self.router = UrlDispatcher()
        self.debug = debug
        self.client_max_size = client_max_size  # bytes of request body, at most (aiohttp's)
        self._state: dict[str, Any] = {}

    async def handle(self, request: Request) -> Response:
        """Answer every request with a Response: an HTTP error is a response too."""
        #: todo errors Return an HTTPException as the response; turn any other exception into a 500.
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
        #: end errors

    #: mistake http-errors-become-500: handle in errors
    #:     catches every exception alike: a raised HTTPNotFound becomes a 500
    async def handle_catching_all(self, request: Request) -> Response:
        try:
            return await self.middleware_chain(request)
        except Exception:
            log.exception("Error handling %s %s", request.method, request.path)
            detail = traceback.format_exc() if self.debug else None
            return error_page(request, 500, detail=detail)

    #: mistake traceback-always-shown: handle in errors
    #:     puts the traceback on every 500 page, not only with debug=True
    async def handle_showing_tracebacks(self, request: Request) -> Response:
        try:
            return await self.middleware_chain(request)
        except HTTPException as error:
            if error.has_default_body:
                return error_page(request, error.status, headers=error.headers)
            return error
        except Exception:
            log.exception("Error handling %s %s", request.method, request.path)
            return error_page(request, 500, detail=traceback.format_exc())

    #: mistake error-not-logged: handle in errors
    #:     answers 500 but logs nothing: the developer never learns what broke
    async def handle_silently(self, request: Request) -> Response:
        try:
            return await self.middleware_chain(request)
        except HTTPException as error:
            if error.has_default_body:
                return error_page(request, error.status, headers=error.headers)
            return error
        except Exception:
            detail = traceback.format_exc() if self.debug else None
            return error_page(request, 500, detail=detail)

    #: mistake error-page-ignored: handle in errors
    #:     sends an HTTP exception as it is: a browser gets plain text, never the HTML page
    async def handle_without_pages(self, request: Request) -> Response:
        try:
            return await self.middleware_chain(request)
        except HTTPException as error:
            return error
        except Exception:
            log.exception("Error handling %s %s", request.method, request.path)
            detail = traceback.format_exc() if self.debug else None
            return error_page(request, 500, detail=detail)

    #: variant handle until middleware
    async def handle_by_router(self, request: Request) -> Response:
        """Find the handler for this request and call it."""
        #: todo routing Resolve the handler with self.router, call it, and check it gave a Response.
        handler, request.match_info = self.router.resolve(request.method, request.path)
        response = await handler(request)
        if not isinstance(response, Response):
            raise TypeError(f"{handler.__qualname__} returned {response!r}, not a Response")
        return response
        #: end routing

    #: mistake route-on-raw-target: handle in routing
    #:     routes on the target as sent, query string included: /about?page=2 is not found
    async def handle_by_target(self, request: Request) -> Response:
        target = request.raw.target.decode("latin-1")
        handler, request.match_info = self.router.resolve(request.method, target)
        response = await handler(request)
        if not isinstance(response, Response):
            raise TypeError(f"{handler.__qualname__} returned {response!r}, not a Response")
        return response

    #: mistake handler-not-awaited: handle in routing
    #:     calls the handler without await: what comes back is a coroutine, not a Response
    async def handle_without_await(self, request: Request) -> Response:
        handler, request.match_info = self.router.resolve(request.method, request.path)
        response = handler(request)
        if not isinstance(response, Response):
            raise TypeError(f"{handler.__qualname__} returned {response!r}, not a Response")
        return response

    #: mistake result-not-checked: handle in routing
    #:     passes on whatever the handler returned: a str or None fails later, far away
    async def handle_trusting_handlers(self, request: Request) -> Response:
        handler, request.match_info = self.router.resolve(request.method, request.path)
        return await handler(request)

    #: variant handle from middleware until errors
    async def handle_by_middlewares(self, request: Request) -> Response:
        """Pass the request through the middlewares, outermost first, to the router."""
        #: todo middleware Wrap self.dispatch in every middleware (the first in the list outermost).
        handler: Handler = self.dispatch
        for middleware in reversed(self.middlewares):
            handler = partial(middleware, handler=handler)
        return await handler(request)
        #: end middleware

    #: mistake middlewares-not-reversed: handle in middleware
    #:     wraps the middlewares in list order, so the last one ends up outermost
    async def handle_inside_out(self, request: Request) -> Response:
        handler: Handler = self.dispatch
        for middleware in self.middlewares:
            handler = partial(middleware, handler=handler)
        return await handler(request)

    #: mistake reversed-in-place: handle in middleware
    #:     calls self.middlewares.reverse(), which flips the app's own list on every request
    async def handle_reversing_the_list(self, request: Request) -> Response:
        handler: Handler = self.dispatch
        self.middlewares.reverse()
        for middleware in self.middlewares:
            handler = partial(middleware, handler=handler)
        return await handler(request)

    #: mistake lambda-late-binding: handle in middleware
    #:     wraps with a lambda in the loop: it reads `handler` when called, so every layer
    #:     calls the outermost one, for ever
    async def handle_with_lambdas(self, request: Request) -> Response:
        handler: Handler = self.dispatch
        for middleware in reversed(self.middlewares):
            handler = lambda request: middleware(request, handler)  # noqa: B023, E731
        return await handler(request)

    #: mistake handler-bound-as-request: handle in middleware
    #:     binds the next handler with partial(middleware, handler): it lands in `request`
    async def handle_with_positional_partial(self, request: Request) -> Response:
        handler: Handler = self.dispatch
        for middleware in reversed(self.middlewares):
            handler = partial(middleware, handler)  # type: ignore[arg-type]
        return await handler(request)

    #: mistake chain-position-on-self: handle in middleware
    #:     keeps its place in the chain on self: two requests in flight at once mix it up
    async def handle_with_a_shared_position(self, request: Request) -> Response:
        self.position = 0

        async def next_handler(request: Request) -> Response:
            if self.position == len(self.middlewares):
                return await self.dispatch(request)
            middleware = self.middlewares[self.position]
            self.position += 1
            return await middleware(request, next_handler)

        return await next_handler(request)

    #: mistake chain-not-awaited: handle in middleware
    #:     returns the chain's coroutine instead of awaiting it
    async def handle_returning_a_coroutine(self, request: Request) -> Response:
        handler: Handler = self.dispatch
        for middleware in reversed(self.middlewares):
            handler = partial(middleware, handler=handler)
        return handler(request)  # type: ignore[return-value]

    #: since errors
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

    #: since middleware
    async def dispatch(self, request: Request) -> Response:
        """The innermost handler: route the request and call the route's handler."""
        handler, request.match_info = self.router.resolve(request.method, request.path)
        response = await handler(request)
        if not isinstance(response, Response):
            raise TypeError(f"{handler.__qualname__} returned {response!r}, not a Response")
        return response

    #: since lifecycle
    async def startup(self) -> None:
        """Run the on_startup hooks, in order, before the first connection is accepted."""
        #: todo lifecycle Await every hook in self.on_startup, in order, passing the app.
        for hook in self.on_startup:
            await hook(self)
        #: end lifecycle

    #: mistake hooks-not-awaited: startup in lifecycle
    #:     calls each hook without await: it makes a coroutine, and nothing runs
    async def startup_without_await(self) -> None:
        for hook in self.on_startup:
            hook(self)

    #: mistake startup-error-swallowed: startup in lifecycle
    #:     logs a failing hook and goes on: the server starts with an app that is not ready
    async def startup_forgiving(self) -> None:
        for hook in self.on_startup:
            try:
                await hook(self)
            except Exception:
                log.exception("A startup hook failed")

    #: since lifecycle
    async def shutdown(self) -> None:
        """Run the on_shutdown hooks: the server has stopped accepting connections."""
        #: todo lifecycle Await every hook in self.on_shutdown, in order.
        for hook in self.on_shutdown:
            await hook(self)
        #: end lifecycle

    #: mistake shutdown-hooks-reversed: shutdown in lifecycle
    #:     runs the shutdown hooks last added first, where the lesson says in order
    async def shutdown_in_reverse(self) -> None:
        for hook in reversed(self.on_shutdown):
            await hook(self)

    #: since lifecycle
    async def cleanup(self) -> None:
        """Run the on_cleanup hooks, last: release what startup acquired."""
        #: todo lifecycle Await every hook in self.on_cleanup, in order.
        for hook in self.on_cleanup:
            await hook(self)
        #: end lifecycle

    #: mistake cleanup-runs-shutdown-hooks: cleanup in lifecycle
    #:     copied from shutdown(): runs self.on_shutdown again instead of self.on_cleanup
    async def cleanup_copied(self) -> None:
        for hook in self.on_shutdown:
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

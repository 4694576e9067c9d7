"""Which handler answers a request: the UrlDispatcher and its resources.

A resource is one path (`/users/{name}`) with a handler per method. The dispatcher tries
the resources in the order they were added and takes the first whose path matches.
"""

from collections.abc import Awaitable, Callable

from sketch.request import Request
from sketch.response import Response

Handler = Callable[[Request], Awaitable[Response]]


class Resource:
    """One path and the handler for each method on it."""

    def __init__(self, path: str) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a route path must start with '/': {path!r}")
        self.path = path
        self.handlers: dict[str, Handler] = {}

    def match(self, path: str) -> dict[str, str] | None:
        """The path's parameters if it matches this resource ({} for a plain path), else None."""
        return {} if path == self.path else None


async def not_found(request: Request) -> Response:
    return Response(text=f"404: Not Found: {request.path}\n", status=404)


class UrlDispatcher:
    """The router: add routes, then resolve each request to its handler."""

    def __init__(self) -> None:
        self.resources: list[Resource] = []

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Answer METHOD on PATH with HANDLER (`async def handler(request) -> Response`)."""
        resource = next((r for r in self.resources if r.path == path), None)
        if resource is None:
            resource = Resource(path)
            self.resources.append(resource)
        method = method.upper()
        if method in resource.handlers:
            raise ValueError(f"{method} {path} already has a handler")
        resource.handlers[method] = handler

    def add_get(self, path: str, handler: Handler) -> None:
        self.add_route("GET", path, handler)

    def add_post(self, path: str, handler: Handler) -> None:
        self.add_route("POST", path, handler)

    def add_put(self, path: str, handler: Handler) -> None:
        self.add_route("PUT", path, handler)

    def add_patch(self, path: str, handler: Handler) -> None:
        self.add_route("PATCH", path, handler)

    def add_delete(self, path: str, handler: Handler) -> None:
        self.add_route("DELETE", path, handler)

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for METHOD and the percent-decoded PATH, and the path's parameters."""
        # TODO(04_routing): Find the resource whose path equals PATH and has a handler for METHOD; else not_found.
        raise NotImplementedError(
            "04_routing: sketch/router.py: UrlDispatcher.resolve: Find the resource whose path equals PATH and has a handler for METHOD; else not_found."
        )

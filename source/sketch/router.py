#: file from routing
"""Which handler answers a request: the UrlDispatcher and its resources.

A resource is one path (`/users/{name}`) with a handler per method. The dispatcher tries
the resources in the order they were added and takes the first whose path matches.
"""

#: from params
import re

#: end params
from collections.abc import Awaitable, Callable

#: from errors
from sketch.exceptions import HTTPMethodNotAllowed, HTTPNotFound

#: end errors
from sketch.request import Request
from sketch.response import Response

Handler = Callable[[Request], Awaitable[Response]]
#: from params

# `{name}` matches one path segment; `{name:regex}` matches what the regex matches.
PARAM = re.compile(
    r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<regex>[^{}]*(?:\{[^{}]*\}[^{}]*)*))?\}"
)


def compile_path(path: str) -> re.Pattern[str] | None:
    """The regex for a path with {parameters}, or None for a plain path.

    Done once, when the route is added: a request only pays for matching.
    "/users/{name}" -> r"/users/(?P<name>[^/]+)"
    "/items/{id:\\d+}" -> r"/items/(?P<id>\\d+)"
    """
    #: todo params Turn each {name} into (?P<name>[^/]+) and {name:regex} into (?P<name>regex).
    if "{" not in path:
        return None
    pattern, end = "", 0
    for param in PARAM.finditer(path):
        pattern += re.escape(path[end : param.start()])
        pattern += f"(?P<{param['name']}>{param['regex'] or '[^/]+'})"
        end = param.end()
    return re.compile(pattern + re.escape(path[end:]))
    #: end params


#: mistake no-re-escape: compile_path in params
#:     copies the text around the parameters into the regex as it is: a '.' matches any character
def compile_path_unescaped(path: str) -> re.Pattern[str] | None:
    if "{" not in path:
        return None
    pattern, end = "", 0
    for param in PARAM.finditer(path):
        pattern += path[end : param.start()]
        pattern += f"(?P<{param['name']}>{param['regex'] or '[^/]+'})"
        end = param.end()
    return re.compile(pattern + path[end:])


#: mistake parameter-crosses-slashes: compile_path in params
#:     lets a {name} match any text, '/' included, where it is one path segment
def compile_path_greedy(path: str) -> re.Pattern[str] | None:
    if "{" not in path:
        return None
    pattern, end = "", 0
    for param in PARAM.finditer(path):
        pattern += re.escape(path[end : param.start()])
        pattern += f"(?P<{param['name']}>{param['regex'] or '.+'})"
        end = param.end()
    return re.compile(pattern + re.escape(path[end:]))


#: mistake regex-ignored: compile_path in params
#:     gives every parameter the one-segment pattern, ignoring the regex of {name:regex}
def compile_path_without_regexes(path: str) -> re.Pattern[str] | None:
    if "{" not in path:
        return None
    pattern, end = "", 0
    for param in PARAM.finditer(path):
        pattern += re.escape(path[end : param.start()])
        pattern += f"(?P<{param['name']}>[^/]+)"
        end = param.end()
    return re.compile(pattern + re.escape(path[end:]))


#: end params


class Resource:
    """One path and the handler for each method on it."""

    def __init__(self, path: str) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a route path must start with '/': {path!r}")
        self.path = path
        self.handlers: dict[str, Handler] = {}
        #: from params
        self.pattern = compile_path(path)
        #: end params

    def match(self, path: str) -> dict[str, str] | None:
        """The path's parameters if it matches this resource ({} for a plain path), else None."""
        #: todo params A plain path compares as a string; a pattern must match the *whole* path.
        if self.pattern is None:
            return {} if path == self.path else None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None
        #: end params

    #: mistake match-not-fullmatch: match in params
    #:     uses pattern.match, which matches a prefix: /users/bob/extra matches /users/{name}
    def match_prefix(self, path: str) -> dict[str, str] | None:
        if self.pattern is None:
            return {} if path == self.path else None
        found = self.pattern.match(path)
        return found.groupdict() if found else None

    #: variant match until params
    def match_plain(self, path: str) -> dict[str, str] | None:
        """The path's parameters if it matches this resource ({} for a plain path), else None."""
        return {} if path == self.path else None


#: until errors
async def not_found(request: Request) -> Response:
    return Response(text=f"404: Not Found: {request.path}\n", status=404)


#: from params until errors
def method_not_allowed(allowed: set[str]) -> Handler:
    """A handler answering 405, with the methods the path does allow."""

    async def handler(request: Request) -> Response:
        text = f"405: Method Not Allowed: {request.method} {request.path}\n"
        return Response(text=text, status=405, headers={"Allow": ", ".join(sorted(allowed))})

    return handler


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

    def add_get(self, path: str, handler: Handler, *, allow_head: bool = True) -> None:
        """GET, and HEAD too: a HEAD is a GET whose body the server leaves out."""
        self.add_route("GET", path, handler)
        if allow_head:
            self.add_route("HEAD", path, handler)

    #: variant add_get until params
    def add_get_only(self, path: str, handler: Handler) -> None:
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
        allowed: set[str] = set()
        for resource in self.resources:
            match_info = resource.match(path)
            if match_info is None:
                continue
            handler = resource.handlers.get(method)
            if handler is not None:
                return handler, match_info
            allowed.update(resource.handlers)
        if allowed:
            raise HTTPMethodNotAllowed(method, allowed)
        raise HTTPNotFound()

    #: variant resolve until params
    def resolve_exact(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for METHOD and the percent-decoded PATH, and the path's parameters."""
        #: todo routing Find the resource whose path equals PATH and has a handler for METHOD; else
        #:     not_found.
        for resource in self.resources:
            if resource.match(path) is not None and method in resource.handlers:
                return resource.handlers[method], {}
        return not_found, {}
        #: end routing

    #: mistake resolve-ignores-method: resolve in routing
    #:     finds the route by its path alone: POST /about runs the GET handler
    def resolve_by_path(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for resource in self.resources:
            if resource.match(path) is not None:
                return next(iter(resource.handlers.values())), {}
        return not_found, {}

    #: mistake resolve-matches-prefix: resolve in routing
    #:     takes a route whose path starts the request's path: / answers every path
    def resolve_by_prefix(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for resource in self.resources:
            if path.startswith(resource.path) and method in resource.handlers:
                return resource.handlers[method], {}
        return not_found, {}

    #: mistake trailing-slash-forgiven: resolve in routing
    #:     strips a trailing '/' before matching: /about/ answers as /about
    def resolve_without_slash(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for resource in self.resources:
            if resource.match(path.rstrip("/") or "/") is not None and method in resource.handlers:
                return resource.handlers[method], {}
        return not_found, {}

    #: variant resolve from params until errors
    def resolve_with_handlers(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for METHOD and the percent-decoded PATH, and the path's parameters."""
        #: todo params First resource matching PATH with a handler for METHOD wins; else 405 or 404.
        allowed: set[str] = set()
        for resource in self.resources:
            match_info = resource.match(path)
            if match_info is None:
                continue
            handler = resource.handlers.get(method)
            if handler is not None:
                return handler, match_info
            allowed.update(resource.handlers)
        if allowed:
            return method_not_allowed(allowed), {}
        return not_found, {}
        #: end params

    #: mistake allow-from-one-resource: resolve in params
    #:     lists in Allow the methods of the last resource that matched, not of all of them
    def resolve_allowing_last(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed: set[str] = set()
        for resource in self.resources:
            match_info = resource.match(path)
            if match_info is None:
                continue
            handler = resource.handlers.get(method)
            if handler is not None:
                return handler, match_info
            allowed = set(resource.handlers)
        if allowed:
            return method_not_allowed(allowed), {}
        return not_found, {}

    #: mistake no-405: resolve in params
    #:     answers 404 for a path that exists with other methods, where HTTP says 405
    def resolve_without_405(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for resource in self.resources:
            match_info = resource.match(path)
            if match_info is not None and method in resource.handlers:
                return resource.handlers[method], match_info
        return not_found, {}

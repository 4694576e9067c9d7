"""The app the final reference serves for tests/test_corpora.py and test_conformance.py.

It echoes what it got: every route answers 200 with a JSON description of the request as
the handler saw it, so a test can check what the server's reader made of the bytes it was
sent. Only the public API is used (the contract's `request.*`).
"""

from sketch import Application, Request, Response, json_response

# Every method a route can name. An unknown method never reaches the app: the reader refuses it.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def echo(request: Request) -> Response:
    body = await request.read()
    return json_response(
        {
            "method": request.method,
            "version": request.version,
            "path": request.path,
            "raw_path": request.raw_path,
            "query_string": request.rel_url.raw_query_string,
            "url": str(request.url),
            "rel_url": str(request.rel_url),
            "host": request.host,
            "headers": [[name, value] for name, value in request.headers.items()],
            "body": body.decode("latin-1"),  # one character per byte, readable in JSON
        }
    )


async def server_wide_options(request: Request, handler) -> Response:
    """`OPTIONS *` asks about the server itself (RFC 9110, 9.3.7): no route can name `*`."""
    if request.method == "OPTIONS" and request.path == "*":
        return await echo(request)
    return await handler(request)


def make_app() -> Application:
    app = Application(middlewares=[server_wide_options])
    for method in METHODS:
        app.router.add_route(method, "/{tail:.*}", echo)
    return app

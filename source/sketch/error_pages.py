#: file from errors
"""The page a client sees when something went wrong: HTML for browsers, plain text otherwise.

What went wrong is said in general terms. The traceback goes to the server's log, and to
the page only when the application was made with `debug=True`: a traceback tells an
attacker which code runs where.
"""

import html
from collections.abc import Mapping

from sketch.request import Request
from sketch.response import Response, reason_phrase

GENERAL = {
    500: "The server met an error it did not expect and could not answer the request.",
}


def wants_html(request: Request) -> bool:
    """Browsers list text/html in Accept; curl and API clients send */* or nothing."""
    return "text/html" in request.headers.get("Accept", "")


def error_page(
    request: Request,
    status: int,
    *,
    headers: Mapping[str, str] | None = None,
    detail: str | None = None,
) -> Response:
    """A response for STATUS; DETAIL (a traceback, in debug) is added when given."""
    phrase = reason_phrase(status)  # "Unknown" for a status HTTPStatus lacks
    message = GENERAL.get(status, f"{phrase}: {request.method} {request.path}")
    if wants_html(request):
        page = f"<!doctype html>\n<title>{status} {phrase}</title>\n<h1>{status} {phrase}</h1>\n"
        page += f"<p>{html.escape(message)}</p>\n"
        if detail:
            page += f"<pre>{html.escape(detail)}</pre>\n"
        response = Response(text=page, status=status, content_type="text/html")
    else:
        text = f"{status}: {message}\n"
        if detail:
            text += f"\n{detail}"
        response = Response(text=text, status=status)
    for name, value in (headers or {}).items():
        if name.lower() not in ("content-type", "content-length"):
            response.headers.add(name, value)
    return response

"""The bytes a connection sends: each response dated, and saying whether the connection stays.

`Response.encode` (stage 03) makes the status line, the headers and the body. What belongs
to the connection rather than to the handler is added here: the `Date` (RFC 9110, 6.6.1)
and the `Connection` header, which tells the client whether another request may follow.
"""

from sketch.httpdate import http_date
from sketch.limits import RequestRejected
from sketch.request import Request
from sketch.response import Response

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # the go-ahead for a body (Expect: 100-continue)


def response_bytes(response: Response, request: Request, *, keep_alive: bool) -> bytes:
    """RESPONSE to REQUEST as bytes; KEEP_ALIVE says whether the connection stays open.

    Raises ValueError for a response no one may send (a header with a CR or an LF).
    """
    if "Date" not in response.headers:  # a handler may have set its own
        response.headers["Date"] = http_date()
    if not keep_alive:
        response.headers["Connection"] = "close"
    elif request.version == "1.0":
        response.headers["Connection"] = "keep-alive"  # 1.0 closes unless told otherwise
    return response.encode(head=request.method == "HEAD")


def rejection_bytes(rejection: RequestRejected) -> bytes:
    """The answer to a request we will not serve; the connection closes after it."""
    text = f"{rejection.status}: {rejection.detail}\n"
    headers = {"Connection": "close", "Date": http_date()}
    return Response(text=text, status=rejection.status, headers=headers).encode()

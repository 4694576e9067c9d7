"""The response a handler returns, and how it becomes bytes on the wire.

A Response renders its body to bytes once, when it is made, so its Content-Length is
always the length of those bytes, never the number of characters of a text.
"""

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from multidict import CIMultiDict

# Statuses that never carry a body, nor a Content-Length (RFC 9110, 6.4.1), besides every
# 1xx: a response has none when `status < 200 or status in NO_BODY`.
NO_BODY = frozenset({204, 304})


class Response:
    """An HTTP response: a status, headers and a body of bytes."""

    def __init__(
        self,
        body: bytes | None = None,
        *,
        text: str | None = None,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        charset: str | None = None,
    ) -> None:
        if body is not None and text is not None:
            raise ValueError("give body or text, not both")
        self.status = status
        self.reason = reason or reason_phrase(status)
        self.headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        if text is not None:
            charset = charset or "utf-8"
            body = text.encode(charset)
            content_type = content_type or "text/plain"
        if content_type is not None:
            textual = content_type.startswith("text/") or content_type == "application/json"
            if textual and "charset=" not in content_type:
                content_type += f"; charset={charset or 'utf-8'}"
            self.headers["Content-Type"] = content_type
        self.body = body or b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def encode(self, *, head: bool = False) -> bytes:
        """The whole response as bytes: status line, headers, blank line, body.

        With head=True (the answer to a HEAD request) the headers are those a GET would get,
        Content-Length included, but no body follows.
        """
        has_body = not (self.status < 200 or self.status in NO_BODY)
        lines = [f"HTTP/1.1 {self.status} {self.reason}"]
        # This runs for every response: read the headers as they are, no copy of them.
        for name, value in self.headers.items():
            if name.lower() != "content-length":  # ours is computed from the body's bytes
                lines.append(f"{name}: {value}")
        if has_body:
            lines.append(f"Content-Length: {len(self.body)}")
        head_text = "\r\n".join(lines)
        # A CR or LF inside a name or value would end its header early and let it add
        # headers of its own (response splitting). The only line breaks must be our joins:
        # counting them checks every header at once.
        if head_text.count("\n") != len(lines) - 1 or head_text.count("\r") != len(lines) - 1:
            raise ValueError(f"a header contains CR or LF: {self.headers!r}")
        head_bytes = (head_text + "\r\n\r\n").encode("latin-1")
        return head_bytes if head or not has_body else head_bytes + self.body

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status} {self.reason}>"


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A Response whose body is `data` as JSON (UTF-8)."""
    return Response(
        text=json.dumps(data, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json",
    )


# Looked up once, here: HTTPStatus(status) costs more than a dict lookup, per response.
REASONS = {status.value: status.phrase for status in HTTPStatus}


def reason_phrase(status: int) -> str:
    """The standard reason phrase: 404 -> 'Not Found'."""
    return REASONS.get(status, "Unknown")

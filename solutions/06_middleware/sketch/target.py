"""The request-target, the second word of the request line, split into its parts.

Nearly every target is a path and a query, `/search?q=asyncio` (the origin form). A client
talking to a proxy sends a whole URL instead, `http://example.com/search?q=asyncio` (the
absolute form), and a server MUST accept that too (RFC 9112, 3.2.2). `OPTIONS *` asks about
the server as a whole (the asterisk form).
"""

import re
from typing import NamedTuple


class Target(NamedTuple):
    """A request-target in its parts (RFC 9112, 3.2)."""

    scheme: str  # "" unless the target is a whole URL (the absolute form): "http"
    authority: str  # "" unless the target is a whole URL: "example.com:8080"
    path_and_query: str  # "/search?q=asyncio"; "*" for `OPTIONS *`


# The absolute form: a whole URL, scheme "://" authority, then the path and query.
ABSOLUTE_FORM = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.DOTALL)


def split_target(target: str) -> Target:
    """`/a?b=1` is a path and a query; `http://example.com/a?b=1` is the same path and query
    on the host `example.com`. Anything else (`*`, a CONNECT's `host:port`) is kept whole."""
    if not target.startswith("/"):
        found = ABSOLUTE_FORM.fullmatch(target)
        if found:
            scheme, authority, rest = found.groups()
            return Target(scheme.lower(), authority, rest if rest.startswith("/") else "/" + rest)
    return Target("", "", target)

"""Serving the board: the framework's `run_app`, with the banner printed once the port is bound.

The banner holds the port, the join code and the instructor token, so it must be printed
only once the port is really bound: a board that cannot bind must print neither secret.
aiohttp offers `run_app(print=...)` for this; the workshop's framework does not, so the
banner is written just before the framework's own `Serving on http://HOST:PORT` line, which
its contract prints once the server accepts connections: stdout is wrapped to watch for that
one line, and the port is read from it (the real one, even for --port 0).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from typing import Any, TextIO

SERVING = re.compile(r"Serving on http://\S*:(?P<port>\d+)")


def run(app: Any, *, host: str, port: int, banner: Callable[[int], str], **options: Any) -> None:
    """`run_app(app, ...)`, with BANNER(port) printed once the port is bound."""
    from sketch import run_app

    stdout = sys.stdout
    sys.stdout = BannerFirst(stdout, banner)
    try:
        run_app(app, host=host, port=port, **options)
    finally:
        sys.stdout = stdout


class BannerFirst(io.TextIOBase):
    """Stands for stdout: writes BANNER(port) before the framework's `Serving on` line."""

    def __init__(self, out: TextIO, banner: Callable[[int], str]) -> None:
        self.out = out
        self.banner: Callable[[int], str] | None = banner

    def write(self, text: str) -> int:
        found = SERVING.search(text) if self.banner else None
        if found and self.banner:
            self.out.write(self.banner(int(found["port"])) + "\n")
            self.banner = None  # once
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

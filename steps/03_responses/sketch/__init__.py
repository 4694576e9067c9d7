"""sketch: a small async web framework, built one stage at a time on asyncio and httptools."""

from sketch.request import Request
from sketch.response import Response, json_response

__all__ = [
    "Request",
    "Response",
    "json_response",
]

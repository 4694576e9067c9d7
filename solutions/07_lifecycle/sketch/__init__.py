"""sketch: a small async web framework, built one stage at a time on asyncio and httptools."""

from sketch.app import Application
from sketch.request import Request
from sketch.response import Response, json_response
from sketch.runner import run_app

__all__ = [
    "Application",
    "Request",
    "Response",
    "json_response",
    "run_app",
]

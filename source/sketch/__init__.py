"""sketch: a small async web framework, built one stage at a time on asyncio and httptools."""
#: from responses

from sketch.request import Request
from sketch.response import Response, json_response

#: end responses
#: from routing
from sketch.app import Application
from sketch.runner import run_app

#: end routing
#: from errors
from sketch.exceptions import (
    HTTPBadRequest,
    HTTPException,
    HTTPForbidden,
    HTTPFound,
    HTTPInternalServerError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
)
#: end errors
#: from responses

__all__ = [
    #: from routing
    "Application",
    #: end routing
    #: from errors
    "HTTPBadRequest",
    "HTTPException",
    "HTTPForbidden",
    "HTTPFound",
    "HTTPInternalServerError",
    "HTTPMethodNotAllowed",
    "HTTPNotFound",
    "HTTPRequestEntityTooLarge",
    #: end errors
    "Request",
    "Response",
    "json_response",
    #: from routing
    "run_app",
    #: end routing
]
#: end responses

"""sketch: a small async web framework, built one stage at a time on asyncio and httptools."""
#: from 03

from sketch.request import Request
from sketch.response import Response, json_response
#: end
#: from 04
from sketch.app import Application
from sketch.runner import run_app
#: end
#: from 08
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
#: end
#: from 03

__all__ = [
    #: from 04
    "Application",
    #: end
    #: from 08
    "HTTPBadRequest",
    "HTTPException",
    "HTTPForbidden",
    "HTTPFound",
    "HTTPInternalServerError",
    "HTTPMethodNotAllowed",
    "HTTPNotFound",
    "HTTPRequestEntityTooLarge",
    #: end
    "Request",
    "Response",
    "json_response",
    #: from 04
    "run_app",
    #: end
]
#: end

#: file from errors
"""HTTP errors and redirects that are both exceptions and responses, as in aiohttp.

`raise HTTPNotFound()` anywhere below a handler ends the request with a 404: the
Application catches it and sends it, because it *is* a Response. The status is a class
attribute, so each subclass is one line.
"""

from collections.abc import Iterable, Mapping

from sketch.response import Response, reason_phrase


class HTTPException(Response, Exception):
    """Base of every HTTP exception. Subclasses set `status_code`."""

    status_code = 500

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        #: todo errors Initialise the Response part (status from the class, a default text body),
        #:     then Exception.
        self.has_default_body = text is None  # the Application may dress it up per Accept
        if text is None:
            text = f"{self.status_code}: {reason or reason_phrase(self.status_code)}\n"
        Response.__init__(
            self,
            status=self.status_code,
            reason=reason,
            headers=headers,
            text=text,
            content_type=content_type,
        )
        Exception.__init__(self, f"{self.status} {self.reason}")
        #: end errors

    #: mistake status-of-the-base-class: __init__ in errors
    #:     takes the status from HTTPException itself, not from the class raised: always 500
    def init_with_base_status(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.has_default_body = text is None
        status = HTTPException.status_code
        if text is None:
            text = f"{status}: {reason or reason_phrase(status)}\n"
        Response.__init__(
            self,
            status=status,
            reason=reason,
            headers=headers,
            text=text,
            content_type=content_type,
        )
        Exception.__init__(self, f"{self.status} {self.reason}")

    #: mistake no-default-body: __init__ in errors
    #:     leaves the body empty when no text is given: the client gets a blank error
    def init_without_body(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.has_default_body = text is None
        Response.__init__(
            self,
            status=self.status_code,
            reason=reason,
            headers=headers,
            text=text,
            content_type=content_type,
        )
        Exception.__init__(self, f"{self.status} {self.reason}")

    #: mistake reason-from-httpstatus: __init__ in errors
    #:     asks http.HTTPStatus for the phrase: a status it does not know raises ValueError
    def init_with_httpstatus(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        from http import HTTPStatus

        self.has_default_body = text is None
        reason = reason or HTTPStatus(self.status_code).phrase
        if text is None:
            text = f"{self.status_code}: {reason}\n"
        Response.__init__(
            self,
            status=self.status_code,
            reason=reason,
            headers=headers,
            text=text,
            content_type=content_type,
        )
        Exception.__init__(self, f"{self.status} {self.reason}")

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


class HTTPRedirection(HTTPException):
    """3xx: the answer is elsewhere; `location` says where."""

    def __init__(self, location: str, **kwargs: object) -> None:
        #: todo errors Call HTTPException.__init__ with a Location header set to `location`.
        headers = {**dict(kwargs.pop("headers", None) or {}), "Location": str(location)}  # type: ignore[call-overload]
        super().__init__(headers=headers, **kwargs)  # type: ignore[arg-type]
        #: end errors
        self.location = location

    #: mistake redirect-drops-headers: __init__ in errors
    #:     replaces the headers given with the Location alone: Set-Cookie and the rest are lost
    def init_with_location_only(self, location: str, **kwargs: object) -> None:
        kwargs.pop("headers", None)
        super().__init__(headers={"Location": str(location)}, **kwargs)  # type: ignore[arg-type]
        self.location = location


class HTTPFound(HTTPRedirection):
    status_code = 302


class HTTPBadRequest(HTTPException):
    status_code = 400


class HTTPForbidden(HTTPException):
    status_code = 403


class HTTPNotFound(HTTPException):
    status_code = 404


class HTTPMethodNotAllowed(HTTPException):
    status_code = 405

    def __init__(self, method: str, allowed_methods: Iterable[str], **kwargs: object) -> None:
        allowed = sorted(set(allowed_methods))
        headers = {**dict(kwargs.pop("headers", None) or {}), "Allow": ", ".join(allowed)}  # type: ignore[call-overload]
        super().__init__(headers=headers, **kwargs)  # type: ignore[arg-type]
        self.method = method
        self.allowed_methods = set(allowed)


class HTTPRequestEntityTooLarge(HTTPException):
    status_code = 413


class HTTPInternalServerError(HTTPException):
    status_code = 500

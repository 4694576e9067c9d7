"""The board's errors: HTTP exceptions whose JSON body says what was wrong.

`{"error": "..."}` in words a learner can act on: `invoke join` shows it as it is.
"""

from __future__ import annotations

import json

from sketch import HTTPException


class HTTPConflict(HTTPException):
    status_code = 409


class HTTPTooManyRequests(HTTPException):
    status_code = 429


def error(
    kind: type[HTTPException], message: str, headers: dict[str, str] | None = None
) -> HTTPException:
    """An HTTP error whose body says, in JSON, what was wrong."""
    body = json.dumps({"error": message})
    return kind(text=body, content_type="application/json", headers=headers)

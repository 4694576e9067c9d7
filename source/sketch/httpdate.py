#: file from keepalive
"""The Date header: when a response was made, in the one format HTTP allows.

RFC 9110 (6.6.1) asks a server with a clock to date every response, as an IMF-fixdate in
GMT: `Sun, 06 Nov 1994 08:49:37 GMT`. Its value changes once a second, so it is formatted
once a second, not once a request.
"""

import time
from email.utils import formatdate

_second = -1
_formatted = ""


def http_date() -> str:
    """Now, as the value of a Date header."""
    global _second, _formatted
    now = int(time.time())
    if now != _second:
        _second, _formatted = now, formatdate(now, usegmt=True)
    return _formatted

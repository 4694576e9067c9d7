"""Who may do what: the client's address and pace, the join code, and the two tokens.

A learner's token (from `POST /api/join`) lets reports write that learner's row and no
other; the instructor token lets admin actions through; the join code lets a new learner
in. Every wrong code or token counts against the client that sent it, and joins count too
(board/throttle.py), so one script can neither guess its way in nor fill the board: it gets
429 with Retry-After, and only its own address waits.

Import this module only after `board.framework.use_reference()`, as board/app.py.
"""

from __future__ import annotations

import time
from typing import Any

from sketch import HTTPException, HTTPForbidden, Request

from board.errors import HTTPTooManyRequests, error
from board.throttle import Throttle, client_key

# Per client (board/throttle.py): (burst, seconds to earn one more, longest wait).
# A room behind one address (a NAT) still joins at once; a script does not get far.
JOIN_LIMIT = (60, 10.0, 15 * 60.0)
FAILURE_LIMIT = (10, 10.0, 15 * 60.0)  # wrong join codes, tokens and instructor tokens
# X-Forwarded-For is believed only from these peers: the board's own machine, where a
# reverse proxy or a port forwarder running beside the board connects from.
TRUSTED_PROXIES = {"127.0.0.1", "::1"}


def limits() -> dict[str, Throttle]:
    """The application's throttles, by the name handlers use: app["joins"], app["failures"]."""
    return {"joins": Throttle(*JOIN_LIMIT), "failures": Throttle(*FAILURE_LIMIT)}


def client_of(request: Request) -> str:
    """Who is asking, for the per-client limits: the peer's address, or the last hop of
    X-Forwarded-For when the peer is this machine (a port forwarder or a proxy)."""
    peer = request.remote or "unknown"
    if peer in TRUSTED_PROXIES:
        hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
        hops = [hop.strip() for hop in hops if hop.strip()]
        if hops:
            peer = hops[-1]
    return client_key(peer)


def wait_first(request: Request, *kinds: str) -> None:
    """429 with Retry-After if the client must still wait under any of the KINDS of limit."""
    client, now = client_of(request), time.monotonic()
    wait = max(request.app[kind].retry_after(client, now) for kind in kinds)
    if wait:
        raise error(
            HTTPTooManyRequests,
            f"too many attempts from your address: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def count(request: Request, kind: str) -> None:
    """One more attempt of KIND ("joins", "failures") by the client asking."""
    request.app[kind].count(client_of(request), time.monotonic())


def bearer(request: Request) -> str:
    """The token of `Authorization: Bearer TOKEN`, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_code(request: Request, data: dict[str, Any]) -> None:
    code = data.get("code")
    if not isinstance(code, str) or not request.app["store"].code_matches(code):
        count(request, "failures")
        raise error(HTTPForbidden, "wrong join code: ask the instructor for the board's code")


def check_instructor(request: Request) -> None:
    wait_first(request, "failures")
    if not request.app["store"].token_matches(bearer(request)):
        count(request, "failures")
        raise error(HTTPForbidden, "admin actions need the instructor token")


def check_learner(request: Request) -> str:
    """The token of a learner the board knows, or 403 (and it counts as a failure)."""
    token = bearer(request)
    if token and request.app["store"].learner_name(token) is not None:
        return token
    wait_first(request, "failures")
    count(request, "failures")
    raise unknown_learner()


def unknown_learner() -> HTTPException:
    return error(
        HTTPForbidden,
        "the board does not know this clone (the instructor may have removed or released "
        "your name): run `invoke join URL CODE` again",
    )

"""The board as a sketch Application: routes, middlewares, hooks, and careful input.

The board faces a room of strangers, so every input is bounded and checked before it is
kept: the body's size (413, by the framework, from `client_max_size`, before it is read),
the client's pace (429), its JSON (400), the join code or a token (403), then each field
(400). Joining gives a learner a token; a report must carry it
(`Authorization: Bearer TOKEN`), so nobody can write another learner's row. Errors are
JSON, `{"error": "what was wrong"}`, so `invoke join` can show them as they are.

Import this module only after `board.framework.use_reference()`: `sketch` must be the final
reference framework, never a learner's half-written one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sketch import (
    Application,
    HTTPBadRequest,
    HTTPException,
    HTTPNotFound,
    Request,
    Response,
    json_response,
)

from board import access, names
from board.errors import HTTPConflict, error
from board.store import STUCK_AFTER, NameTaken, Report, Store, TooManyLearners, UnknownLearner
from workshop import manifest

log = logging.getLogger("board")

MAX_BODY = 4 * 1024  # bytes: a report is about 200; anything near this is not a report
MAX_TEST = 200  # characters of a test's name
MAX_COUNT = 100_000  # tests in a stage: generous, but a number, not a bignum
REPORT_FIELDS = {"stage", "passed", "failed", "test", "time", "reference"}
Handler = Callable[[Request], Awaitable[Response]]

# Defence in depth: even if some text slipped into the page unescaped, the browser would run
# no script but our own file, and load nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {  # path: (file in board/static, content type)
    "/": ("index.html", "text/html"),
    "/board.js": ("board.js", "text/javascript"),
    "/board.css": ("board.css", "text/css"),
}


# --- middlewares -----------------------------------------------------------------------


async def security_headers(request: Request, handler: Handler) -> Response:
    """Add SECURITY_HEADERS to every answer, errors included (they are raised)."""
    try:
        response = await handler(request)
    except HTTPException as raised:
        raised.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


# --- reading input ---------------------------------------------------------------------


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong with it."""
    try:
        data = json.loads((await request.read()).decode("utf-8"))
    except UnicodeDecodeError:
        raise error(HTTPBadRequest, "the body is not UTF-8")
    except ValueError as problem:
        raise error(HTTPBadRequest, f"the body is not valid JSON: {problem}")
    if not isinstance(data, dict):
        raise error(HTTPBadRequest, "the body must be a JSON object, {...}")
    return data


def name_field(data: dict[str, Any]) -> str:
    """The display name, normalized (board/names.py), or a 400 saying what is wrong."""
    name = data.get("name")
    if not isinstance(name, str):
        raise error(HTTPBadRequest, "'name' must be a string")
    try:
        return names.normalize(name)
    except names.BadName as bad:
        raise error(HTTPBadRequest, str(bad))


def text_field(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str:
    """A string field: trimmed, at most LIMIT characters, no control characters."""
    value = data.get(key, None if required else "")
    if not isinstance(value, str):
        raise error(HTTPBadRequest, f"{key!r} must be a string")
    value = value.strip()
    if required and not value:
        raise error(HTTPBadRequest, f"{key!r} must not be empty")
    if len(value) > limit:
        raise error(HTTPBadRequest, f"{key!r} is longer than {limit} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise error(HTTPBadRequest, f"{key!r} must not contain control characters")
    return value


def minutes_field(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if type(value) not in (int, float) or not 0 <= value <= 100_000:
        raise error(HTTPBadRequest, f"{key!r} must be a number of minutes, 0 or more")
    return float(value)


def count_field(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if type(value) is not int or not 0 <= value <= MAX_COUNT:  # bool is not a count
        raise error(HTTPBadRequest, f"{key!r} must be a whole number from 0 to {MAX_COUNT}")
    return value


def parse_report(data: dict[str, Any], stage_ids: set[str]) -> Report:
    unknown = set(data) - REPORT_FIELDS
    if unknown:
        raise error(HTTPBadRequest, f"unknown fields: {', '.join(sorted(unknown))}")
    stage = text_field(data, "stage", 40)
    if stage not in stage_ids:
        raise error(HTTPBadRequest, f"no stage {stage!r} in this workshop")
    sent_at = text_field(data, "time", 40, required=False)
    if sent_at:
        try:
            datetime.fromisoformat(sent_at)
        except ValueError:
            raise error(HTTPBadRequest, "'time' must be an ISO 8601 date and time")
    reference = data.get("reference", False)
    if not isinstance(reference, bool):
        raise error(HTTPBadRequest, "'reference' must be true or false")
    return Report(
        stage=stage,
        passed=count_field(data, "passed"),
        failed=count_field(data, "failed"),
        failing_test=text_field(data, "test", MAX_TEST, required=False),
        time=sent_at,
        reference=reference,
    )


# --- handlers --------------------------------------------------------------------------


async def page(request: Request) -> Response:
    name, content_type = STATIC[request.path]
    return Response(body=request.app["static"][name], content_type=content_type)


async def progress(request: Request) -> Response:
    app = request.app
    board = app["store"].progress(app["stages"], now=time.time(), stuck_after=app["stuck_after"])
    return json_response(board)


async def join(request: Request) -> Response:
    """Check a join code and a name; answer the token this learner's reports will carry.

    With the token of a learner (`invoke join` again from the same clone), that learner
    is renamed, keeping their results.
    """
    access.wait_first(request, "joins", "failures")
    access.count(request, "joins")
    data = await json_object(request)
    access.check_code(request, data)
    unknown = set(data) - {"code", "name"}
    if unknown:
        raise error(HTTPBadRequest, f"unknown fields: {', '.join(sorted(unknown))}")
    name = name_field(data)
    try:
        joined = request.app["store"].join(name, token=access.bearer(request) or None)
    except NameTaken:
        raise error(
            HTTPConflict,
            f"the name {name!r} is taken on this board: choose another with --name, or, "
            "if it is yours (from another clone or machine), ask the instructor to release it",
        )
    except TooManyLearners as full:
        raise error(HTTPConflict, str(full))
    stages = len(request.app["stages"])
    return json_response({"name": joined.name, "token": joined.token, "stages": stages})


async def report(request: Request) -> Response:
    """Keep one learner's `invoke check` result, on their own row and no one else's."""
    token = access.check_learner(request)
    result = parse_report(await json_object(request), request.app["stage_ids"])
    try:
        name = request.app["store"].record(token, result)
    except UnknownLearner:  # removed or released since check_learner looked
        raise access.unknown_learner()
    return json_response({"ok": True, "name": name})


async def admin_name(request: Request) -> str:
    access.check_instructor(request)
    return text_field(await json_object(request), "name", names.MAX_NAME)


async def remove_learner(request: Request) -> Response:
    name = await admin_name(request)
    if not request.app["store"].remove(name):
        raise error(HTTPNotFound, f"no learner called {name!r}")
    return json_response({"removed": name})


async def release_name(request: Request) -> Response:
    """The learner's token stops working; the next `invoke join` with the name takes it."""
    name = await admin_name(request)
    if not request.app["store"].release(name):
        raise error(HTTPNotFound, f"no learner called {name!r}")
    return json_response({"released": name})


async def prune_learners(request: Request) -> Response:
    """Remove the learners not seen (no join, no report) for `idle_minutes`."""
    access.check_instructor(request)
    idle = minutes_field(await json_object(request), "idle_minutes")
    return json_response({"removed": request.app["store"].prune(idle * 60)})


async def reset_board(request: Request) -> Response:
    access.check_instructor(request)
    request.app["store"].reset()
    return json_response({"reset": True})


# --- the application -------------------------------------------------------------------


def make_app(db_path: Path | str, stuck_after: float = STUCK_AFTER) -> Application:
    """The board, keeping its data in DB_PATH (opened at startup, closed at cleanup)."""
    # The framework refuses a body over MAX_BODY from its Content-Length, or as it streams.
    app = Application(middlewares=[security_headers], client_max_size=MAX_BODY)
    app["db_path"] = Path(db_path)
    app["stuck_after"] = stuck_after  # seconds failing one stage before a learner is stuck
    app["stages"] = [{"id": s.id, "title": s.title} for s in manifest.stages()]
    app["stage_ids"] = {s["id"] for s in app["stages"]}
    files = resources.files("board") / "static"
    app["static"] = {name: (files / name).read_bytes() for name, _ in STATIC.values()}
    for name, throttle in access.limits().items():
        app[name] = throttle
    for path in STATIC:
        app.router.add_get(path, page)
    app.router.add_get("/api/progress", progress)
    app.router.add_post("/api/join", join)
    app.router.add_post("/api/report", report)
    app.router.add_post("/api/admin/remove", remove_learner)
    app.router.add_post("/api/admin/release", release_name)
    app.router.add_post("/api/admin/prune", prune_learners)
    app.router.add_post("/api/admin/reset", reset_board)
    app.on_startup.append(open_store)
    app.on_cleanup.append(close_store)
    return app


async def open_store(app: Application) -> None:
    app["store"] = Store(app["db_path"])


async def close_store(app: Application) -> None:
    """Runs after the last request in flight: the database is left whole and checkpointed."""
    app["store"].close()
    log.info("board: database closed cleanly")

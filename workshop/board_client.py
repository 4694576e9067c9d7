"""The learner's side of the room board: `invoke join`, and a report after each check.

    invoke join http://10.0.0.5:8765 K7QF-M2XP --name "Ada"   # remembers the board
    invoke check                                             # ... and reports to it
    invoke join --leave                                      # stops reporting

What leaves the machine, and nothing else: the stage, how many tests passed and failed, the
first failing test's name, the time, and whether the reference solution was in place; with
the token the board gave at `invoke join` (the board knows the name from it). No code, no
paths, no output.

A report must never slow or break a check, even when the board is down or hangs. So
`notify` starts a detached process (`python -m workshop.board_client`) that posts with a
2-second timeout, hands it the report on stdin, and returns at once. A thread would not do:
it would die with `invoke` the moment the check ends, or hold `invoke` open until it ended.
"""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from workshop import manifest, state

if TYPE_CHECKING:
    from workshop.manifest import Stage
    from workshop.runner import StageRun

POST_TIMEOUT = 2.0  # seconds the detached poster waits for the board
JOIN_TIMEOUT = 5.0  # seconds `invoke join` waits: a person is watching
MAX_NAME = 40  # characters: the board refuses longer display names
MAX_TEST = 200  # ... and longer test names, so we cut them first
KEY = "board"  # where the joined board is kept in .workshop/state.json's `extra`


class BoardError(Exception):
    """Joining failed; the message says why, in words a learner can act on."""


# --- joining ---------------------------------------------------------------------------


def joined() -> dict[str, str] | None:
    """The board this clone reports to ({"url", "name", "token"}), or None."""
    board = state.load().extra.get(KEY)
    return board if isinstance(board, dict) and board.get("token") else None


def default_name() -> str:
    """Your git user.name, else your login name: what the board shows unless --name says."""
    try:
        found = subprocess.run(
            ["git", "config", "user.name"],
            cwd=manifest.ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    if not found:
        try:
            found = getpass.getuser()
        except Exception:  # no login name in some containers
            found = "learner"
    return found[:MAX_NAME]


def join(url: str, code: str, name: str) -> str:
    """Check CODE with the board at URL, then remember it; the name the board knows us by.

    Joining the same board again (a new name, or after a restart) sends the token this clone
    already holds, so the board renames this learner rather than refusing a taken name.
    """
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BoardError(f"{url!r} is not a board address: it starts with http://")
    before = joined()
    token = before["token"] if before and before["url"] == url else None
    reply = post(url + "/api/join", {"code": code, "name": name.strip()}, JOIN_TIMEOUT, token)
    if not isinstance(reply.get("token"), str):
        raise BoardError(f"the board at {url} gave no learner token: is it an older board?")
    board = {"url": url, "name": reply["name"], "token": reply["token"]}
    saved = state.load()
    saved.extra[KEY] = board
    state.save(saved)
    return board["name"]


def leave() -> dict[str, str] | None:
    """Forget the board; the board we left, or None if there was none."""
    saved = state.load()
    board = saved.extra.pop(KEY, None)
    state.save(saved)
    return board if isinstance(board, dict) else None


def post(
    url: str, body: dict[str, Any], timeout: float, token: str | None = None
) -> dict[str, Any]:
    """POST BODY as JSON (as the learner holding TOKEN); the JSON answer, or a BoardError."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        try:
            why = json.loads(refused.read())["error"]
        except (ValueError, KeyError, TypeError):
            why = refused.reason
        raise BoardError(f"the board refused: {refused.code} {why}") from None
    except (urllib.error.URLError, OSError, ValueError) as problem:
        reason = getattr(problem, "reason", problem)
        raise BoardError(f"cannot reach the board at {url}: {reason}") from None


# --- reporting -------------------------------------------------------------------------


def report(stage: Stage, run: StageRun) -> dict[str, Any]:
    """The fields a check sends, and only those (the token goes in a header)."""
    failed = run.count("fail", "error", "timeout")
    test = run.first_failure.name if run.first_failure else ""
    if not run.passed and failed == 0:  # nothing failed, yet the stage did not pass
        failed = 1
        if run.collection_errors:
            test = "(the tests could not be loaded)"
        elif run.timed_out:
            test = "(the tests timed out)"
        else:
            test = "(no test ran)"
    return {
        "stage": stage.id,
        "passed": run.count("pass"),
        "failed": failed,
        "test": test[:MAX_TEST],
        "time": state.now(),
        "reference": is_reference(stage, run),
    }


def is_reference(stage: Stage, run: StageRun) -> bool:
    """Whether the code RUN checked is the reference solution, not the learner's own work.

    The board shows such a check as "reference", never as a pass. This is the one place
    that decides it for the board.
    """
    from workshop import fingerprint  # only when a report is sent: joined learners

    return fingerprint.verdict(stage, run.sketch_dir) == "reference"


_posters: list[subprocess.Popen[bytes]] = []  # started by this process, not yet reaped


def notify(stage: Stage, run: StageRun) -> None:
    """Send RUN's result to the joined board, if any, in the background. Never raises."""
    try:
        # A long-lived process (`invoke watch`) reaps the posters that are done, never waits.
        _posters[:] = [p for p in _posters if p.poll() is None]
        board = joined()
        if board is None or run.sketch_dir != stage.step_dir():
            return  # not joined, or a check of the reference: not the learner's progress
        job = {"url": board["url"], "token": board["token"], "body": report(stage, run)}
        poster = subprocess.Popen(
            [sys.executable, "-m", "workshop.board_client"],
            cwd=manifest.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal is not for it; it outlives us
        )
        # A few hundred bytes fit in the pipe's buffer: this write never waits for the child.
        assert poster.stdin is not None
        poster.stdin.write(json.dumps(job).encode("utf-8"))
        poster.stdin.close()
        _posters.append(poster)
    except Exception:
        pass  # the board is a convenience: a check's result matters more


def _post_from_stdin() -> None:
    """The detached poster: read {"url", "token", "body"} from stdin, post it once, quietly."""
    job = json.loads(sys.stdin.buffer.read())
    try:
        post(job["url"] + "/api/report", job["body"], POST_TIMEOUT, job["token"])
    except BoardError:
        pass  # nobody is watching this process: a lost report is the price of a fast check


if __name__ == "__main__":
    _post_from_stdin()

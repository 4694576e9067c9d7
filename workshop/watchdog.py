"""A watchdog in a learner's server process: it says when the event loop is blocked.

A callback that never returns (a `data_received` that waits on a socket, a `time.sleep`
in a handler) stops everything else the loop would do, and from outside that only looks
like silence: "no response within 2 s". This thread looks at the main thread's stack ten
times a second. Once the loop has been inside the same callback for BLOCKED seconds, it
prints one line to stderr naming the learner's function and the line it is stuck on; the
judge puts that line first in the test's failure (workshop/harness.py). It decides
nothing: it only explains. Started by workshop.server before the learner's package loads.

It also ends the server once the process that started it is gone: a judge killed outright
(SIGKILL, a closed pipe) cannot stop its servers, and an orphan would hold its port and
its CPU until the machine restarts.
"""

from __future__ import annotations

import asyncio.events
import linecache
import os
import re
import sys
import threading
import time
from types import FrameType

BLOCKED = 1.0  # seconds inside one callback before the loop counts as blocked
EVERY = 0.1  # seconds between two looks at the stack
PREFIX = "workshop watchdog: "
# The line it prints, as the judge reads it back.
NOTE = re.compile(
    re.escape(PREFIX) + r"the event loop is blocked: (?P<file>sketch/[\w/]+\.py): "
    r"(?P<function>[\w.<>]+) has not returned for (?P<seconds>[\d.]+) s(?P<rest>.*)$",
    re.MULTILINE,
)
_RUN = asyncio.events.Handle._run.__code__  # every callback and task step runs inside it


def start(package_parent: str) -> None:
    """Watch the main thread's event loop; PACKAGE_PARENT holds the learner's `sketch/`."""
    main = threading.main_thread().ident
    package = os.path.join(package_parent, "sketch") + os.sep
    threading.Thread(
        target=_watch, args=(main, package), name="workshop watchdog", daemon=True
    ).start()


def _watch(main: int | None, package: str) -> None:
    seen: FrameType | None = None  # the callback's frame: held, so its id is not reused
    since = time.monotonic()
    told: FrameType | None = None
    parent = os.getppid()
    while True:
        time.sleep(EVERY)
        if os.getppid() != parent:  # reparented: whoever started this server is gone
            os._exit(1)
        stack = _stack(sys._current_frames().get(main))  # type: ignore[arg-type]
        if not stack:
            return  # the main thread has ended
        run = next((frame for frame in stack if frame.f_code is _RUN), None)
        if run is not seen:  # another callback now, or none
            seen, since = run, time.monotonic()
        elif run is not None and run is not told and time.monotonic() - since >= BLOCKED:
            told = run
            line = note(stack[: stack.index(run)], package)
            if line:
                print(PREFIX + line, file=sys.stderr, flush=True)
        del stack, run


def _stack(frame: FrameType | None) -> list[FrameType]:
    """The frames from FRAME (innermost) out to the thread's first."""
    stack = []
    while frame is not None:
        stack.append(frame)
        frame = frame.f_back
    return stack


def note(inner: list[FrameType], package: str) -> str | None:
    """What to say about a callback whose frames (innermost first) are INNER, or None if
    none of them is the learner's."""
    mine = [frame for frame in inner if frame.f_code.co_filename.startswith(package)]
    if not mine:
        return None
    callback, stuck = mine[-1], mine[0]

    def file(frame: FrameType) -> str:
        return "sketch/" + frame.f_code.co_filename[len(package) :].replace(os.sep, "/")

    def name(frame: FrameType) -> str:
        return getattr(frame.f_code, "co_qualname", frame.f_code.co_name)

    source = linecache.getline(stuck.f_code.co_filename, stuck.f_lineno).strip()
    at = f"{file(stuck)} line {stuck.f_lineno}" + (f": `{source}`" if source else "")
    return (
        f"the event loop is blocked: {file(callback)}: {name(callback)} has not returned "
        f"for {BLOCKED:g} s; it is at {at}"
    )


def explain(found: re.Match[str]) -> tuple[str, str]:
    """What a failure says first about a NOTE the watchdog printed (a sentence for the caller
    to finish), and where the learner should look (`sketch/file.py: Function`)."""
    where = f"{found['file']}: {found['function']}"
    said = (
        f"The event loop was blocked: {where} did not return for {found['seconds']} s"
        f"{found['rest']}. While one callback runs nothing else does"
    )
    return said, where

"""Process trees, portably: stop a process and everything it started, on Linux and macOS alike.

The judge (pytest), the learner's servers and the object children each run in a session and
process group of their own (`start_new_session=True`), so that a test can signal one and a
stop reaches what it started. A tree is found with psutil (no /proc, no `pgrep`), every
process in it before any is killed, so none slips out of reach by being reparented; where the
platform has process groups, the group each one leads is killed too, which also catches what
a process started and then left behind (a daemon whose parent exited).

psutil is imported when a tree is stopped, not with this module: most commands import this
module (through workshop.swap and workshop.runner) and most never stop a tree.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

GROUPS = os.name == "posix"  # process groups (and os.killpg): Linux, macOS


def tree(pid: int) -> list[psutil.Process]:
    """PID's process and all its descendants, as they are now ([] if it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(pid: int) -> None:
    """Kill PID, everything it started, and the process groups they lead; at once, no grace.

    Safe to call on a process that has exited already.
    """
    import psutil

    found = tree(pid)
    pids = [pid, *(p.pid for p in found if p.pid != pid)]
    if GROUPS:
        for leader in pids:  # a group id is its leader's pid; most of these lead none
            try:
                os.killpg(leader, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for process in found:
        try:
            process.kill()  # SIGKILL, or TerminateProcess where there are no signals
        except psutil.Error:
            pass


def kill_self() -> None:
    """End this process at once, as a crash or a kill -9 would (fault-injection tests)."""
    import psutil

    psutil.Process().kill()

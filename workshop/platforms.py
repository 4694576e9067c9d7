"""Where the workshop runs: Linux and macOS, and Windows through WSL 2 or a Codespace.

Native Windows lacks what the stages teach and the tooling relies on: the event loop's
`add_signal_handler` (stage 07), SIGINT and SIGTERM delivered to a running server (stages 07
and 10), and process groups to stop a learner's server and everything it started. Rather
than fail halfway through a check with a traceback, every task says so at once, in one line
of plain ASCII (a cp1252 console prints it as it is), with the way out.
"""

from __future__ import annotations

import sys

NATIVE_WINDOWS = (
    "The workshop does not run on native Windows: open it in WSL 2 "
    "(https://learn.microsoft.com/windows/wsl/install) or in a GitHub Codespace "
    "(README.md, 'Where it runs')."
)


def unsupported() -> str | None:
    """Why this platform cannot run the workshop, or None when it can."""
    return NATIVE_WINDOWS if sys.platform == "win32" else None


def refuse_unsupported() -> None:
    """Exit with the one-line answer (status 2) on a platform the workshop does not run on."""
    problem = unsupported()
    if problem is not None:
        sys.stderr.write(problem + "\n")
        sys.stderr.flush()
        raise SystemExit(2)

"""Output for people: colour on a terminal, plain text elsewhere (NO_COLOR respected).

rich is imported when something is printed, not with this module: every task module imports
`console` and `esc`, and `invoke --list` or `--help` prints nothing through them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

STYLES = {
    "ok": "bold green",
    "bad": "bold red",
    "warn": "yellow",
    "dim": "dim",
    "cmd": "bold cyan",
    "path": "magenta",
    "stage": "bold",
}


def console() -> Console:
    """A console that colours only real terminals; CI logs and pipes get plain text."""
    from rich.console import Console
    from rich.theme import Theme

    return Console(
        theme=Theme(STYLES),
        highlight=False,
        no_color=bool(os.environ.get("NO_COLOR")),
        soft_wrap=True,
        emoji=False,  # `:name:` in a test's message stays text (and rich's emoji table unread)
    )


def esc(value: object) -> str:
    """VALUE as literal text inside a markup string: test names, paths, messages.

    Anything that came from a test, a learner's process or a file goes through this before
    it meets markup: `test_x[/files/a.txt]` is a test name, not a closing tag.
    """
    from rich.markup import escape

    return escape(str(value))

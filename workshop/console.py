"""Output for people: colour on a terminal, plain text elsewhere (NO_COLOR respected)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.theme import Theme

THEME = Theme(
    {
        "ok": "bold green",
        "bad": "bold red",
        "warn": "yellow",
        "dim": "dim",
        "cmd": "bold cyan",
        "path": "magenta",
        "stage": "bold",
    }
)


def console() -> Console:
    """A console that colours only real terminals; CI logs and pipes get plain text."""
    return Console(
        theme=THEME,
        highlight=False,
        no_color=bool(os.environ.get("NO_COLOR")),
        soft_wrap=True,
    )


def esc(value: object) -> str:
    """VALUE as literal text inside a markup string: test names, paths, messages.

    Anything that came from a test, a learner's process or a file goes through this before
    it meets markup: `test_x[/files/a.txt]` is a test name, not a closing tag.
    """
    return escape(str(value))

"""Text from a learner's process, made inert: shown as it reads, never acted upon.

A learner's program may print anything, and what it printed reaches terminals, CI logs and
GitHub Classroom's reporter. `plain()` keeps the words and drops what a terminal or a CI
runner would act on: ANSI escape sequences and other control characters (newlines and
tabs stay), and GitHub Actions workflow commands (`::error::...`, `##[...]`), which are
turned into quoted text. Rich markup needs no handling here: the tools print such text
with markup off (workshop.console.esc where it sits inside markup).
"""

from __future__ import annotations

import re

ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
WORKFLOW_COMMAND = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)


def plain(text: str) -> str:
    """TEXT without escape sequences, control characters or workflow commands."""
    text = ESCAPE.sub("", text.replace("\r\n", "\n"))
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return WORKFLOW_COMMAND.sub(lambda m: f"{m.group(1)}> {m.group(2)}", text)

"""What the learner's processes can reach, and how what they say is passed on inertly.

Grading runs the learner's code. Three rules keep it from speaking for the grader:

* `child_env()`: the environment every child process gets, without the CI job's tokens and
  without the files through which a GitHub Actions step talks to the runner (GITHUB_OUTPUT,
  GITHUB_STEP_SUMMARY, GITHUB_ENV ...): a learner's process cannot set the step's outputs,
  write the summary page or call GitHub's API with the job's rights.
* `commands_stopped()`: on Actions, the grader's whole output is wrapped in
  `::stop-commands::<random token>` ... `::<token>::`, so a line such as
  `::notice title=Autograding complete::Points 100/100` that came from a learner's process
  is printed as text and never becomes an annotation. The token is drawn when grading starts
  and is never in any process's environment.
* `plain(text)` for everything a learner's process printed or raised, as soon as the judge
  reads it: the words kept, and nothing a terminal or a CI runner would act on (ANSI escape
  sequences and other control characters shown as `\\xNN`, workflow commands broken by
  `inert`); `markdown(text)` for the step summary: Markdown and HTML escaped. Rich markup
  needs no handling here: the tools print such text with markup off (workshop.console.esc
  where it sits inside markup).
"""

from __future__ import annotations

import html
import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

# Variables a learner's process never gets: GitHub Actions' files and tokens, git's
# credentials, and anything whose name says it is a secret.
STRIPPED_PREFIXES = ("GITHUB_", "ACTIONS_", "RUNNER_", "INPUT_", "GIT_CONFIG_", "GIT_ASKPASS")
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE_KEY", "API_KEY",
                "ACCESS_KEY", "AUTH")  # fmt: skip
# The runner reads `::command::` at the start of a line (after spaces) and the legacy
# `##[command]` anywhere in it (actions/runner, src/Runner.Worker/ActionCommand.cs).
_COMMAND_START = re.compile(r"^(\s*)::", re.MULTILINE)
_LEGACY = "##["
_COMMAND_LINE = re.compile(r"^\s*::[A-Za-z-]+[^\n]*::", re.MULTILINE)
_BROKEN_LINE = re.compile(r"^\s*\\::[A-Za-z-]+[^\n]*::", re.MULTILINE)  # after inert()
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")  # <, > and & become entities


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """ENV (default: this process's) without CI files, tokens and other secrets."""
    env = os.environ if env is None else env
    return {
        name: value
        for name, value in env.items()
        if not name.upper().startswith(STRIPPED_PREFIXES)
        and not any(word in name.upper() for word in SECRET_WORDS)
    }


def inert(text: str) -> str:
    """TEXT with every workflow command broken (`\\::notice`, `#\\#[error]`), else unchanged."""
    return _COMMAND_START.sub(r"\1\\::", text).replace(_LEGACY, "#\\#[")


def plain(text: str) -> str:
    """TEXT from a learner's process, inert: no escape sequences, control characters or
    workflow commands."""
    text = _ESCAPE.sub("", text.replace("\r\n", "\n"))
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return inert(text)


def has_commands(text: str) -> bool:
    """Whether TEXT holds a line the runner would take as a workflow command, as it was
    printed or as `inert` left it (a learner's attempt worth a flag for the instructor)."""
    return (
        bool(_COMMAND_LINE.search(text) or _BROKEN_LINE.search(text))
        or _LEGACY in text
        or "#\\#[" in text
    )


def markdown(text: str, limit: int = 300) -> str:
    """TEXT as one line of Markdown that shows it literally: no HTML, links or formatting."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return html.escape(_MARKDOWN.sub(r"\\\1", line), quote=False)


def on_actions(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("GITHUB_ACTIONS") == "true"


@contextmanager
def commands_stopped(stream: TextIO | None = None, env: Mapping[str, str] | None = None
                     ) -> Iterator[None]:  # fmt: skip
    """On GitHub Actions, no workflow command in STREAM's output takes effect meanwhile."""
    if not on_actions(env):
        yield
        return
    stream = stream or sys.stdout
    token = secrets.token_hex(16)
    stream.write(f"::stop-commands::{token}\n")
    stream.flush()
    try:
        yield
    finally:
        stream.flush()
        stream.write(f"::{token}::\n")
        stream.flush()

"""The TODO format: how a learner's TODO reads in a skeleton, and how the tools find it again.

Where the source has a `#: todo` block, the builder writes two lines into the stage's skeleton:

    # TODO(04_routing): Match it.
    raise NotImplementedError('04_routing: sketch/router.py: UrlDispatcher.resolve: Match it.')

The comment is what a learner's grep and `invoke next` find. The raise is what a test runs
into, and its text, in a traceback or as repr() shows it, is what `invoke check` reads to say
which file and function to open. This module is the one place that writes and reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODULE_LEVEL = "module level"  # the function of a TODO that sits outside any def

# The raise as a traceback prints it ("NotImplementedError: 04_routing: sketch/...: ...") or
# as repr() shows it ("NotImplementedError('04_routing: ...')", perhaps wrapped by ruff).
RAISED = re.compile(
    r"NotImplementedError(?::\s*|\(\s*['\"])(?P<stage>\d\d_\w+): (?P<file>sketch/[\w/]+\.py): "
    r"(?P<function>[\w.]+(?: level)?): (?P<message>[^'\"\n]*)"
)
COMMENT = re.compile(r"#\s*TODO\((?P<stage>\d\d_\w+)\):\s*(?P<message>.*)")


@dataclass(frozen=True)
class Todo:
    """One TODO of a stage: where it is, and what to do there."""

    stage_id: str  # "04_routing"
    file: str  # "sketch/router.py"
    function: str  # "UrlDispatcher.resolve", or MODULE_LEVEL
    message: str  # one line: what to write

    def stub(self, indent: str) -> list[str]:
        """The lines that stand for the TODO's code in the skeleton."""
        raised = f"{self.stage_id}: {self.file}: {self.function}: {self.message}"
        return [
            f"{indent}# TODO({self.stage_id}): {self.message}",
            f"{indent}raise NotImplementedError({raised!r})",
        ]


def raised(text: str) -> Todo | None:
    """The first TODO whose raise appears in TEXT (a test's failure, a server's output)."""
    found = RAISED.search(text)
    if not found:
        return None
    message = found["message"].strip().strip("'\"")
    return Todo(found["stage"], found["file"], found["function"], message)


def stubs(text: str) -> list[tuple[int, Todo]]:
    """Every TODO stub in the text of a skeleton file, with the line number of its comment."""
    lines = text.splitlines()
    found = []
    for match in RAISED.finditer(text):
        line = text.count("\n", 0, match.start())  # index of the raise's line; ruff may have
        while line > 0 and not COMMENT.search(lines[line]):  # wrapped it: walk up to the
            line -= 1  # comment, which has the message whole (the raise stops at a quote)
        comment = COMMENT.search(lines[line])
        message = comment["message"].strip() if comment else match["message"]
        found.append((line + 1, Todo(match["stage"], match["file"], match["function"], message)))
    return found

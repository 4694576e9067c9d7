"""The stage tables of README.md and docs/INSTRUCTORS.md, made from stages.toml.

Each table sits between two comment lines, which Markdown does not show:

    <!-- stages: readme (invoke build writes this table from stages.toml) -->
    | stage | you build | lesson |
    ...
    <!-- end of stages -->

`invoke build` rewrites what is between them, and `tests/test_docs.py` fails when a table no
longer says what the manifest says (a stage added, renamed or retimed by hand).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from workshop import manifest
from workshop.manifest import Stage

_TABLE = re.compile(
    r"(?P<open><!-- stages: (?P<kind>\w+) [^\n]*-->\n)(?P<table>.*?)"
    r"(?P<close><!-- end of stages -->)",
    re.DOTALL,
)


def readme(stages: Sequence[Stage]) -> str:
    """One row per stage: what you build there, and a link to its lesson."""
    rows = ["| stage | you build | lesson |", "| --- | --- | --- |"]
    for stage in stages:
        lesson = f"steps/{stage.id}/README.md"
        rows.append(f"| {stage.id} | {stage.summary or stage.title} | [lesson]({lesson}) |")
    return "\n".join(rows) + "\n"


def instructors(stages: Sequence[Stage]) -> str:
    """Each stage's typical minutes, in two columns of stages to keep the table short."""
    half = (len(stages) + 1) // 2
    rows = ["| stage | minutes | stage | minutes |", "| --- | --- | --- | --- |"]
    for left, right in zip(stages[:half], [*stages[half:], None], strict=False):
        cells = f"| {left.id} | {left.minutes} |"
        cells += f" {right.id} | {right.minutes} |" if right else "  |  |"
        rows.append(cells)
    total = sum(stage.minutes for stage in stages)
    rows += ["", f"In all, {total // 60} h {total % 60:02d} min of work."]
    return "\n".join(rows) + "\n"


KINDS: dict[str, Callable[[Sequence[Stage]], str]] = {"readme": readme, "instructors": instructors}
FILES = ("README.md", "docs/INSTRUCTORS.md")


def refreshed(text: str, stages: Sequence[Stage]) -> str:
    """TEXT with each of its stage tables made again from STAGES."""

    def table(found: re.Match[str]) -> str:
        made = KINDS[found["kind"]](stages)
        return found["open"] + made + found["close"]

    return _TABLE.sub(table, text)


def stale(root: Path = manifest.ROOT) -> list[str]:
    """The files whose stage tables differ from what stages.toml makes."""
    stages = manifest.stages(root)
    found = []
    for rel in FILES:
        path = root / rel
        if path.exists():
            text = path.read_text(encoding="utf-8")
            if refreshed(text, stages) != text:
                found.append(rel)
    return found


def write(root: Path = manifest.ROOT) -> list[str]:
    """Make every stage table again; the files that changed."""
    stages = manifest.stages(root)
    changed = []
    for rel in stale(root):
        path = root / rel
        path.write_text(refreshed(path.read_text(encoding="utf-8"), stages), encoding="utf-8")
        changed.append(rel)
    return changed

"""Add a stage to the workshop: `invoke new-step NAME --after NN`.

The new stage NN+1 starts as a copy of stage NN's end (same code, nothing to do yet), plus:

* a `[[stage]]` entry in stages.toml, after stage NN's;
* `source/sketch/NAME.py`, a module that exists from the new stage on, with one `#: todo`
  block: the stage's first TODO, to be replaced by the real ones;
* `steps/NN+1_NAME/README.md`, a lesson template with every part a lesson has;
* `steps/NN+1_NAME/tests/test_NAME.py`, one placeholder test that fails on the skeleton
  (the TODO raises) and passes on the solution, so `invoke verify` holds from the start.

When a stage NN+1 exists already, every later stage moves up by one first: its folders
under steps/ and solutions/, its id in the manifest, and every mention of its id in the
docs, lessons and tests. The `#:` markers of source/sketch/ name stages without their number
(`#: from routing`), so no marker changes: code that exists "until params" still goes away
at params, and the new stage, inserted before it, has NN's code unchanged. Then
`invoke build` writes the new stage's skeleton and solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from workshop import build, manifest
from workshop.files import ignored

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER_HINTS = (  # `invoke hint` shows them until the instructor writes the real ones
    "TODO(instructor): the first hint, a nudge: which file and function to open.",
    "TODO(instructor): the second hint: the idea, in a sentence.",
    "TODO(instructor): the last hint: close to the answer.",
)
TEXT_FILES = (
    "stages.toml",
    "README.md",
    "docs/**/*.md",
    "steps/*/README.md",
    "steps/*/tests/**/*.py",
    "tests/**/*.py",
    ".github/workflows/*.yml",
)


@dataclass
class NewStep:
    stage_id: str
    renamed: dict[str, str] = field(default_factory=dict)  # old id -> new id
    written: list[str] = field(default_factory=list)  # files created
    rewritten: list[str] = field(default_factory=list)  # files whose ids/markers changed


def _replace_ids(text: str, renamed: dict[str, str]) -> str:
    if not renamed:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renamed)) + r")\b")
    return pattern.sub(lambda m: renamed[m[1]], text)  # one pass: 05->06 never becomes 07


def _text_files(root: Path) -> list[Path]:
    found: set[Path] = set()
    for pattern in TEXT_FILES:
        found.update(p for p in root.glob(pattern) if p.is_file() and not ignored(p))
    return sorted(found)


def new_step(
    root: Path,
    name: str,
    after: str,
    *,
    title: str = "",
    points: int = 10,
    minutes: int = 30,
) -> NewStep:
    """Insert stage NAME after stage AFTER, renumbering later stages when needed."""
    if not NAME.match(name):
        raise ValueError(f"{name!r}: a stage name is lower case letters, digits and _")
    stages = manifest.stages(root)
    previous = manifest.find(after, root)
    number = previous.number + 1
    later = [s for s in stages if s.number >= number]
    if any(s.name == name for s in stages):
        raise ValueError(f"there is a stage named {name!r} already")
    if later and stages[-1].number + 1 > 99:
        raise ValueError("stage numbers have two digits: there is no room for another stage")
    module = root / build.SOURCE / f"{name}.py"
    if module.exists():
        raise ValueError(f"{module.relative_to(root)} exists: choose another stage name")
    stage_id = f"{number:02d}_{name}"
    result = NewStep(stage_id)

    # Only renumber when the slot is taken: move later stages up, last first.
    if later and later[0].number == number:
        result.renamed = {s.id: f"{s.number + 1:02d}_{s.name}" for s in later}
        for stage in reversed(later):
            for top in ("steps", "solutions"):
                folder = root / top / stage.id
                if folder.exists():
                    folder.rename(root / top / result.renamed[stage.id])
        for path in _text_files(root):
            text = path.read_text(encoding="utf-8")
            new = _replace_ids(text, result.renamed)
            if new != text:
                path.write_text(new, encoding="utf-8")
                result.rewritten.append(path.relative_to(root).as_posix())

    _insert_manifest_entry(root, previous.id, stage_id, title or _title(name), points, minutes)
    files = {
        module: _module(stage_id, name),
        root / "steps" / stage_id / "README.md": _lesson(stage_id, title or _title(name), name),
        root / "steps" / stage_id / "tests" / f"test_{name}.py": _test(stage_id, name),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.written.append(path.relative_to(root).as_posix())
    manifest._load.cache_clear()
    return result


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize() + " (TODO: a one-line title)"


def _insert_manifest_entry(
    root: Path, after_id: str, stage_id: str, title: str, points: int, minutes: int
) -> None:
    """Add a [[stage]] table right after AFTER_ID's, keeping the rest of the file as it is."""
    path = root / manifest.MANIFEST
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    tables = document["stage"]
    after = next(i for i, t in enumerate(tables) if t["id"] == after_id)  # type: ignore[index]
    entry = tomlkit.table()
    entry.add("id", stage_id)
    entry.add("title", title)
    entry.add("summary", "TODO: what the learner builds, for the README's table")
    entry.add("points", points)
    entry.add("minutes", minutes)
    hints = tomlkit.array()
    hints.extend(PLACEHOLDER_HINTS)
    hints.multiline(True)
    entry.add("hints", hints)
    entry.add(tomlkit.nl())  # a blank line before the next [[stage]], as between the others
    tables.insert(after + 1, entry)  # type: ignore[union-attr]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def _module(stage_id: str, name: str) -> str:
    return f'''#: file from {name}
"""Stage {stage_id}: TODO(instructor) say what this module is for.

Written by `invoke new-step`. Replace the placeholder below with the stage's real code, and
mark what the learner writes with `#: todo {name} ...` blocks (docs/DEVELOPING.md).
"""


def {name}_ready() -> bool:
    """A placeholder for the stage's first TODO: the tests call it."""
    #: todo {name} Replace this placeholder with the stage's first real TODO.
    return True
    #: end {name}
'''


def _test(stage_id: str, name: str) -> str:
    return f'''"""Stage {stage_id}: TODO(instructor) replace this placeholder with the real tests.

Every test must fail on the skeleton and pass on the solution (`invoke verify {stage_id}`).
Over real sockets, use the `server` / `serve` fixtures and `workshop.testing` (see
docs/DEVELOPING.md); for objects, use the `sketch` fixture, a handle to the learner's package
in the process that imports it (this one never does), as below.
"""

from workshop.testing import expect


def test_the_stage_placeholder_is_filled_in(sketch):
    done = sketch.{name}.{name}_ready()
    expect(
        done is True,
        "the placeholder of stage {stage_id} must return True once its TODO is done",
        expected=True,
        got=done,
        look="sketch/{name}.py: {name}_ready",
    )
'''


def _lesson(stage_id: str, title: str, name: str) -> str:
    return f"""# {stage_id}: {title}

TODO(instructor): write this lesson (docs/DEVELOPING.md; about 120-200 lines).

## What you will build, and why

TODO: motivate the stage before any code.

## Concepts

TODO: the ideas, each with a link to the real documentation.

## Your TODOs

Find them with `grep -rn "TODO({stage_id}" sketch/`.

1. `sketch/{name}.py`: `{name}_ready`: TODO: describe the real first TODO.

## Try it by hand

```sh
cd steps/{stage_id}
python -m sketch --port 8080
```

## What the tests check

- `tests/test_{name}.py`: TODO: one line per test group.

Run them with `invoke check {stage_id}`.

## Going further

TODO: optional challenges, not graded.
"""
